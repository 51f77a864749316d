#!/usr/bin/env bash
# Runs third-party Kubernetes clients' own test suites against the cluster $KUBECONFIG names,
# without editing their tests, and prints passed/failed/skipped per suite. Exits non-zero when a
# test fails (or an expected failure passes: see expected.txt).
#
#   KUBECONFIG=... e2e/clients/run.sh [python] [kr8s]      (both when none is named)
#
# The suites, pinned:
# - python: the Python `kubernetes` client's e2e tests (kubernetes/e2e_test), at its release
#   30.1.0. Its wheel and sdist do not ship them and GitHub is out of reach here, so they come
#   from Debian's source package, which is that release's tree (checked against the sha256 that
#   Debian's signed Sources index gives), run with that client installed from the same tree.
# - kr8s: kr8s 0.20.15's tests, shipped in its wheel, with pytest-kind's `k8s_cluster` fixture
#   given by our plugin (suite_plugin.py) for the cluster at hand.
#
# The cluster must pull busybox and pause the way a registry mirror would serve them (the e2e
# test makes one with `cluster create --registry --mirror docker.io --mirror gcr.io ...`).
# Installs are cached in $CLIENT_SUITES_CACHE (default /var/tmp/client-suites).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CLIENT_SUITES_CACHE:-/var/tmp/client-suites}"
: "${KUBECONFIG:?KUBECONFIG must name the kubeconfig of the cluster to test}"
export KUBECONFIG

PYTHON_CLIENT_VERSION=30.1.0
PYTHON_CLIENT_TARBALL="python-kubernetes_${PYTHON_CLIENT_VERSION}.orig.tar.gz"
PYTHON_CLIENT_SHA256=1b2d5fd5b1eaa85b329c6307ec18456652fb357ff28cb09ed3226e3680f365dd
KR8S_VERSION=0.20.15
# The test tools, pinned too: a new pytest must not change what passes.
TOOLS=(pytest==9.2.0 pytest-timeout==2.4.0)
# kr8s' tests use trio, and convert objects to and from these clients when they are there (the
# Python client 36, as 37's lazily loaded models lack the module attribute kr8s' test reads).
KR8S_TOOLS=(pytest-asyncio==1.5.0 trio==0.32.0 lightkube==1.0.1 kubernetes==36.0.3 kubernetes_asyncio==36.1.0
    pykube-ng==23.6.0 kubernetes-validate==1.37.0)

log() { printf 'client suites: %s\n' "$*" >&2; }

# A virtualenv with these packages, made once per set of packages.
venv() {
    local dir="$1"; shift
    local wanted="$*"
    if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$wanted" ]; then
        rm -rf "$dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install -q --disable-pip-version-check "$@" >&2
        printf '%s' "$wanted" >"$dir/.installed"
    fi
}

python_suite_tree() {
    local tree="$cache/python-$PYTHON_CLIENT_VERSION"
    if [ ! -d "$tree/kubernetes/e2e_test" ]; then
        mkdir -p "$cache"
        local tarball="$cache/$PYTHON_CLIENT_TARBALL"
        curl -fsS --retry 3 -o "$tarball.part" "http://deb.debian.org/debian/pool/main/p/python-kubernetes/$PYTHON_CLIENT_TARBALL"
        echo "$PYTHON_CLIENT_SHA256  $tarball.part" | sha256sum -c --quiet
        rm -rf "$tree.part" && mkdir -p "$tree.part"
        tar -xzf "$tarball.part" -C "$tree.part" --strip-components=1
        rm -f "$tarball.part"
        rm -rf "$tree" && mv "$tree.part" "$tree"
    fi
    printf '%s' "$tree"
}

# Runs pytest in `dir` with our plugin; prints the suite's line and returns pytest's status.
run_pytest() {
    local suite="$1" python="$2" dir="$3"; shift 3
    local report="$cache/$suite.report"
    local status=0
    (cd "$dir" && PYTHONPATH="$here" "$python" -m pytest -p suite_plugin -p no:cacheprovider -q -rfEsxX \
        --timeout 300 "$@") 2>&1 | tee "$report" >&2 || status=$?
    local summary
    summary="$(grep -E '(passed|failed|error|skipped|xfailed|xpassed).* in [0-9.]+s' "$report" | tail -n1 | tr -d '=' | sed 's/^ *//; s/ *$//')"
    printf '%-8s %s\n' "$suite" "${summary:-no summary (pytest status $status)}"
    return "$status"
}

suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(python kr8s)
failed=0
results=()
for suite in "${suites[@]}"; do
    case "$suite" in
    python)
        tree="$(python_suite_tree)"
        venv "$cache/venv-python" "$tree" "${TOOLS[@]}"
        results+=("$(run_pytest python "$cache/venv-python/bin/python" "$tree" kubernetes/e2e_test)") || failed=1
        ;;
    kr8s)
        venv "$cache/venv-kr8s" "kr8s==$KR8S_VERSION" "${TOOLS[@]}" "${KR8S_TOOLS[@]}"
        site="$("$cache/venv-kr8s/bin/python" -c 'import kr8s, os; print(os.path.dirname(os.path.dirname(kr8s.__file__)))')"
        # kr8s' pytest settings (its pyproject.toml, not in the wheel): asyncio tests in auto
        # mode, each test and its fixtures in a loop of their own.
        results+=("$(run_pytest kr8s "$cache/venv-kr8s/bin/python" "$site" -o asyncio_mode=auto \
            -o asyncio_default_fixture_loop_scope=function -o asyncio_default_test_loop_scope=function kr8s/tests)") || failed=1
        ;;
    *)
        log "unknown suite $suite (python, kr8s)"
        exit 2
        ;;
    esac
done
printf '%s\n' "${results[@]}"
exit "$failed"
