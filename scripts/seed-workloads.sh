#!/usr/bin/env bash
# Runs the seed notes' workloads (Kafka, Spark, Airflow, Celery) as their users deploy them, on a
# fresh 3-node cluster made by the cluster tool, and prints one line per workload: passed or
# failed (with the step), and how long it took. Deletes the cluster at the end, also on failure.
#
# Usage: scripts/seed-workloads.sh [--cluster NAME] [--keep] [WORKLOAD...]
#   WORKLOAD      kafka, spark, airflow, celery (default: all four, in that order)
#   --cluster     use this running cluster instead of creating one (it is kept)
#   --keep        keep the cluster this script created
# Needs the release binaries (`cargo build --release`, or SEED_BINARIES=DIR) and what
# scripts/setup.sh installs. Images are built by scripts/build-workload-images.sh, cached.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=seed/lib.sh
source "$here/seed/lib.sh"

all=(kafka spark airflow celery)
cluster= keep=0 workloads=()
while (($#)); do
    case $1 in
        --cluster) cluster=$2; keep=1; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown flag $1 (see --help)" >&2; exit 2 ;;
        *) workloads+=("$1"); shift ;;
    esac
done
((${#workloads[@]})) || workloads=("${all[@]}")
for workload in "${workloads[@]}"; do
    [[ -f $SEED_DIR/$workload.sh ]] || { echo "unknown workload $workload (known: ${all[*]})" >&2; exit 2; }
    # shellcheck disable=SC1090
    source "$SEED_DIR/$workload.sh"
done
tool=$SEED_BINARIES/cluster
[[ -x $tool ]] || seed_die "no cluster tool at $tool: build the release binaries first (cargo build --release)"

work=$(mktemp -d "${TMPDIR:-/tmp}/seed-workloads.XXXXXX")
SEED_KUBECONFIG=$work/kubeconfig
current=
finish() {
    # A run cut short (Ctrl-C) still removes what its workload made from a cluster it was given.
    [[ -n $current ]] && "cleanup_$current"
    if [[ -z $cluster_given && -n $cluster ]]; then
        if ((keep)); then
            seed_log "kept cluster $cluster (KUBECONFIG=$SEED_KUBECONFIG)"
            return
        fi
        "$tool" delete --name "$cluster" >/dev/null 2>&1 || seed_log "deleting cluster $cluster failed"
    fi
    rm -rf "$work"
}
cluster_given=$cluster
trap finish EXIT
trap 'exit 130' INT TERM

started=$SECONDS
if [[ -z $cluster ]]; then
    cluster=seed-$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
    seed_log "creating a 3-node cluster $cluster"
    KUBECONFIG=$SEED_KUBECONFIG "$tool" create --name "$cluster" --nodes 3 --kubeconfig "$SEED_KUBECONFIG" >"$work/create.log" 2>&1 \
        || { cat "$work/create.log" >&2; cluster=; seed_die "cluster create failed"; }
    seed_log "cluster $cluster Ready after $((SECONDS - started)) s"
else
    "$tool" get kubeconfig --name "$cluster" >"$SEED_KUBECONFIG" || seed_die "no cluster $cluster"
fi

images=()
for workload in "${workloads[@]}"; do
    declare -n list="${workload}_images"
    images+=("${list[@]}")
    unset -n list
done
if ((${#images[@]})); then
    bash "$here/build-workload-images.sh" --cluster "$cluster" "${images[@]}" || seed_die "building or loading the images failed"
fi

failed=0
for workload in "${workloads[@]}"; do
    SEED_STEP="start" SEED_DETAIL=
    seed_log "$workload:"
    begun=$SECONDS current=$workload
    if "run_$workload"; then
        line="$workload: passed in $((SECONDS - begun)) s"
        [[ -n $SEED_DETAIL ]] && line+=" ($SEED_DETAIL)"
    else
        line="$workload: FAILED after $((SECONDS - begun)) s at step: $SEED_STEP"
        failed=1
    fi
    "cleanup_$workload"
    current=
    echo "$line"
done
echo "seed workloads: $([[ $failed == 0 ]] && echo passed || echo FAILED) in $((SECONDS - started)) s on cluster $cluster"
exit "$failed"
