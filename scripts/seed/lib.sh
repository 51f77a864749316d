# Shared by scripts/build-workload-images.sh and scripts/seed-workloads.sh (sourced, not run):
# building the seed workloads' images without a registry, and driving a cluster with kubectl.
#
# An image is a Debian rootfs made by mmdebstrap (plus what a workload's recipe adds: wheels from
# PyPI, a binary from crates.io, our entrypoints), loaded into the local Docker engine as
# localhost/seed-NAME:local with its inputs' hash as a label. A build whose inputs match the
# label of the image Docker already has does nothing, so only a changed recipe costs a rebuild.

SEED_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SEED_DIR=$SEED_ROOT/scripts/seed
# Outside the clone, as CI's target dir is: every clean clone reuses the downloads and builds.
SEED_CACHE=${SEED_CACHE:-/var/tmp/seed-cache}
# Debian bookworm as of this date: the same inputs give the same files (the mirror itself moves
# with point releases, which is why the cache key is on our inputs).
SEED_EPOCH=1764979200
SEED_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SEED_PYTHON_TARGET=usr/local/lib/python3.11/dist-packages

seed_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
seed_die() { seed_log "error: $*"; exit 1; }

# seed_image NAME RECIPE_FUNCTION CONFIG PACKAGES...: builds localhost/seed-NAME:local when
# Docker lacks it or its inputs changed. RECIPE_FUNCTION ROOTFS adds the workload's own files;
# its text (declare -f) is part of the inputs, as are the files in SEED_INPUTS (an array the
# caller may set: wheels, binaries, entrypoints). CONFIG is a JSON object of the image config's
# fields (Entrypoint, Cmd, WorkingDir, Env beside PATH). The image is written by
# scripts/build-test-images.sh's reproducible archive writer (fixed times and owners) and loaded
# with `docker load`, so that the same rootfs gives the same image ID.
seed_image() {
    local name=$1 recipe=$2 config=$3
    shift 3
    local image=localhost/seed-$name:local packages
    packages=$(IFS=,; echo "$*")
    local inputs
    inputs=$( {
        sha256sum "$SEED_DIR/lib.sh" | cut -d' ' -f1
        declare -f "$recipe"
        printf '%s\n' "$config" "$packages" "$SEED_EPOCH"
        local file
        for file in "${SEED_INPUTS[@]}"; do sha256sum "$file" | cut -d' ' -f1; done
    } | sha256sum | cut -d' ' -f1)
    if [[ $(docker image inspect -f '{{index .Config.Labels "seed.inputs"}}' "$image" 2>/dev/null) == "$inputs" ]]; then
        seed_log "image $image is up to date (inputs ${inputs:0:12})"
        return 0
    fi
    seed_log "building image $image (inputs ${inputs:0:12})"
    local started=$SECONDS work
    mkdir -p "$SEED_CACHE/debs"
    work=$(mktemp -d "$SEED_CACHE/build-$name.XXXXXX")
    # mmdebstrap's own temporary files go there too: /tmp may be small or cleaned under it.
    local rootfs=$work/rootfs log=$work/mmdebstrap.log
    # Without man pages, locales and docs (but their copyrights); openjdk's postinst still needs
    # the man1 directory.
    if ! TMPDIR=$work SOURCE_DATE_EPOCH=$SEED_EPOCH mmdebstrap --variant=essential --mode=root \
        --include="usr-is-merged,$packages" \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --essential-hook='mkdir -p "$1"/usr/share/man/man1' \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
        --setup-hook="sync-in $SEED_CACHE/debs /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives $SEED_CACHE/debs" \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
        bookworm "$rootfs" http://deb.debian.org/debian >"$log" 2>&1; then
        tail -20 "$log" >&2
        rm -rf "$work"
        seed_die "mmdebstrap for $image failed (the whole log was $log)"
    fi
    "$recipe" "$rootfs" || { rm -rf "$work"; seed_die "the recipe $recipe for $image failed"; }
    # PATH first in Env, and the inputs as a label, which the next build compares.
    config=$(python3 -c '
import json, sys
config = json.loads(sys.argv[1] or "{}")
config["Env"] = ["PATH=" + sys.argv[2]] + config.get("Env", [])
config["Labels"] = {"seed.inputs": sys.argv[3]}
print(json.dumps(config, sort_keys=True, separators=(",", ":")))' "$config" "$SEED_PATH" "$inputs") \
        || { rm -rf "$work"; seed_die "the image config of $image is no JSON object: $3"; }
    bash "$SEED_ROOT/scripts/build-test-images.sh" "$work/archive" "$image" "$rootfs" "$config" >/dev/null \
        && docker load -q -i "$work/archive/images.tar" >/dev/null \
        || { rm -rf "$work"; seed_die "writing or loading $image failed"; }
    rm -rf "$work"
    seed_log "built image $image in $((SECONDS - started)) s: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
}

# seed_wheels ROOTFS REQUIREMENT...: installs CPython 3.11 wheels for Debian's python3 into the
# rootfs, with the host's pip (the image needs no pip of its own).
seed_wheels() {
    local rootfs=$1
    shift
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-compile \
        --target "$rootfs/$SEED_PYTHON_TARGET" --python-version 3.11 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --only-binary=:all: \
        --cache-dir "$SEED_CACHE/pip" "$@"
}

# ---- driving a cluster ----

# The cluster tool and ctl from the workspace's release build (as the README's first command
# builds them), unless SEED_BINARIES names another directory.
SEED_BINARIES=${SEED_BINARIES:-$SEED_ROOT/target/release}
seed_kubectl() { kubectl --kubeconfig="$SEED_KUBECONFIG" "$@"; }

# seed_wait SECONDS WHAT COMMAND...: runs COMMAND every second until it succeeds; fails naming
# WHAT after SECONDS.
seed_wait() {
    local seconds=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            seed_log "timed out after ${seconds} s waiting for $what"
            return 1
        fi
        sleep 1
    done
}

# seed_job_condition NAMESPACE JOB: the types of the Job's true conditions (Complete, Failed...).
seed_job_condition() {
    seed_kubectl get job "$2" -n "$1" -o 'jsonpath={range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}'
}

# seed_job_wait SECONDS NAMESPACE JOB: waits until the Job completes; prints its log and state
# when it failed or ran out of time.
seed_job_wait() {
    local seconds=$1 namespace=$2 job=$3 deadline conditions
    deadline=$((SECONDS + seconds))
    while true; do
        conditions=$(seed_job_condition "$namespace" "$job" 2>/dev/null || true)
        if [[ $conditions == *Complete* ]]; then
            return 0
        fi
        if [[ $conditions == *Failed* ]]; then
            seed_log "job $namespace/$job failed; its log:"
            seed_kubectl logs -n "$namespace" "job/$job" --tail=30 >&2 || true
            seed_kubectl describe job -n "$namespace" "$job" | tail -15 >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            seed_log "job $namespace/$job did not finish within $seconds s; its log:"
            seed_kubectl logs -n "$namespace" "job/$job" --tail=30 >&2 || true
            seed_kubectl get pods -n "$namespace" -o wide >&2 || true
            return 1
        fi
        sleep 1
    done
}

# seed_step WHAT: the step a workload is at, which its failure line names.
seed_step() {
    SEED_STEP=$1
    seed_log "  $1"
}
