# Airflow: a DAG of KubernetesPodOperator and KubernetesJobOperator tasks (the cncf-kubernetes
# provider), run with `airflow dags test` on Airflow's standalone SQLite set-up on the host, as a
# DAG author tries a DAG before deploying it (sourced by scripts/seed-workloads.sh).
#
# The pods are created in seed-airflow, their printed lines followed into the task log, the XCom
# read from the pod's sidecar over exec, and the pods and the Job deleted at the end. A second DAG
# names an image nobody has: its task must fail fast with the pull failure's event in its log.

AIRFLOW_NS=seed-airflow
# `pip freeze` of apache-airflow 3.3.2 + apache-airflow-providers-cncf-kubernetes 10.25.0 as pip
# resolved them (Airflow's constraints files are not reachable from here): the venv is made from
# it, so every run installs the same 145 wheels. Delete it to resolve afresh.
AIRFLOW_REQUIREMENTS=$SEED_DIR/airflow-requirements.txt
AIRFLOW_TOP=(apache-airflow==3.3.2 apache-airflow-providers-cncf-kubernetes==10.25.0)
# The pods run busybox, which every node of our clusters already has.
AIRFLOW_IMAGE=localhost/busybox:local
# The XCom sidecar's image (the connection's xcom_sidecar_container_image): the provider stops the
# sidecar over exec with `kill -2 $(pgrep -u $(id -u) -f 'sh')`, which the default alpine image
# can run but our busybox cannot (no pgrep applet). Its fallback loop over /proc then races with
# busybox's error message, which arrives in three writes: the provider reads "/bin/sh: " as the
# first command's failure and "pgrep: not found" as the fallback's, and the Job operator, which
# must stop the sidecar for its Job to complete, fails the task. So the sidecar gets a Debian
# image with procps, as a user without alpine would pick one with pgrep.
airflow_sidecar_recipe() { :; }
image_airflow() {
    SEED_INPUTS=()
    seed_image airflow airflow_sidecar_recipe '{}' procps
}
airflow_images=(airflow)
AIRFLOW_SIDECAR_IMAGE=localhost/seed-airflow:local
AIRFLOW_HOME_DIR=

airflow_pip() {
    "$1/bin/pip" --disable-pip-version-check -q install --only-binary=:all: \
        --cache-dir "$SEED_CACHE/pip" "${@:2}"
}

# airflow_venv: sets AIRFLOW_VENV to a venv in the cache keyed by the requirements file (made
# when missing). Without the requirements file, resolves AIRFLOW_TOP and writes its freeze.
airflow_venv() {
    local python=${SEED_AIRFLOW_PYTHON:-python3} key started=$SECONDS
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { seed_log "the cncf-kubernetes provider needs Python 3.11 or newer; $python is $("$python" --version 2>&1)"; return 1; }
    mkdir -p "$SEED_CACHE"
    if [[ ! -f $AIRFLOW_REQUIREMENTS ]]; then
        local fresh
        fresh=$(mktemp -d "$SEED_CACHE/airflow-resolve.XXXXXX")
        seed_log "  no $AIRFLOW_REQUIREMENTS: resolving ${AIRFLOW_TOP[*]}"
        "$python" -m venv "$fresh/venv" && airflow_pip "$fresh/venv" "${AIRFLOW_TOP[@]}" \
            && "$fresh/venv/bin/pip" --disable-pip-version-check freeze >"$AIRFLOW_REQUIREMENTS" \
            || { rm -rf "$fresh"; seed_log "resolving Airflow failed"; return 1; }
        rm -rf "$fresh"
        seed_log "  wrote $AIRFLOW_REQUIREMENTS ($(wc -l <"$AIRFLOW_REQUIREMENTS") packages): commit it"
    fi
    key=$( { sha256sum "$AIRFLOW_REQUIREMENTS" | cut -d' ' -f1; "$python" --version; } | sha256sum | cut -c1-12)
    AIRFLOW_VENV=$SEED_CACHE/airflow-venv-$key
    # A venv is not relocatable (its scripts name its path), so it is made in place; the marker,
    # written last, says it is whole.
    if [[ -f $AIRFLOW_VENV/.seed-complete ]]; then
        seed_log "  venv $AIRFLOW_VENV is up to date"
        return 0
    fi
    rm -rf "$AIRFLOW_VENV"
    seed_log "  making venv $AIRFLOW_VENV from $(basename "$AIRFLOW_REQUIREMENTS")"
    "$python" -m venv "$AIRFLOW_VENV" && airflow_pip "$AIRFLOW_VENV" -r "$AIRFLOW_REQUIREMENTS" \
        || { rm -rf "$AIRFLOW_VENV"; seed_log "installing Airflow into $AIRFLOW_VENV failed"; return 1; }
    touch "$AIRFLOW_VENV/.seed-complete"
    seed_log "  venv made in $((SECONDS - started)) s: $(du -sh "$AIRFLOW_VENV" | cut -f1)"
}

# airflow_cli ARGS...: the airflow command with the seed's standalone environment (at most 10 min).
airflow_cli() {
    timeout 600 env \
        AIRFLOW_HOME="$AIRFLOW_HOME_DIR" \
        AIRFLOW__CORE__LOAD_EXAMPLES=False \
        AIRFLOW__CORE__DAGS_FOLDER="$AIRFLOW_HOME_DIR/dags" \
        AIRFLOW_CONN_KUBERNETES_DEFAULT="$(printf '{"conn_type": "kubernetes", "extra": {"kube_config_path": "%s", "xcom_sidecar_container_image": "%s"}}' "$SEED_KUBECONFIG" "$AIRFLOW_SIDECAR_IMAGE")" \
        TMPDIR="$AIRFLOW_HOME_DIR/tmp" \
        "$AIRFLOW_VENV/bin/airflow" "$@"
}

# airflow_dags_test DAG: runs `airflow dags test DAG` into $AIRFLOW_HOME_DIR/DAG.log; prints the
# DAG run's state and duration ("success 16.6").
airflow_dags_test() {
    local dag=$1 log=$AIRFLOW_HOME_DIR/$1.log finished state duration
    airflow_cli dags test "$dag" >"$log" 2>&1
    finished=$(grep -o "DagRun Finished: dag_id=$dag,.*" "$log" | tail -1)
    state=$(grep -o ', state=[a-z]*' <<<"$finished" | head -1 | cut -d= -f2)
    duration=$(grep -o 'run_duration=[0-9.]*' <<<"$finished" | cut -d= -f2)
    printf '%s %.1f\n' "${state:-none}" "${duration:-0}"
}

# airflow_show_log DAG: what a failure needs to be understood, from the run's log.
airflow_show_log() {
    local log=$AIRFLOW_HOME_DIR/$1.log
    seed_log "the end of $log:"
    grep -v -e 'api_fastapi.execution_api' -e 'next_dagrun' -e '^\s*$' "$log" | cut -c1-400 | tail -40 >&2
}

airflow_no_pods_or_jobs() {
    [[ -z $(seed_kubectl get pods,jobs -n "$AIRFLOW_NS" -o name 2>/dev/null) ]]
}

# airflow_lines_spread LOG PREFIX: the seconds between the first and the last task-log line that
# starts with PREFIX, as Airflow stamped them: more than 0 only if the log was followed.
airflow_lines_spread() {
    grep -F "$2" "$1" | cut -c1-26 | python3 -c '
import sys, datetime
ts = [datetime.datetime.fromisoformat(l.strip()) for l in sys.stdin if l.strip()]
print(f"{(max(ts) - min(ts)).total_seconds():.1f}" if ts else "0")'
}

run_airflow() {
    local manifests=$SEED_ROOT/manifests/seed/airflow result state duration log i spread
    seed_step "a venv with apache-airflow 3.3.2 and the cncf-kubernetes provider 10.25.0"
    airflow_venv || return 1

    seed_step "the namespace seed-airflow with its default ServiceAccount"
    seed_kubectl apply -f "$manifests/namespace.yaml" >/dev/null || return 1
    seed_wait 30 "the default ServiceAccount in $AIRFLOW_NS" seed_kubectl get serviceaccount default -n "$AIRFLOW_NS" || return 1

    seed_step "airflow db migrate (standalone SQLite in a fresh AIRFLOW_HOME)"
    AIRFLOW_HOME_DIR=$(mktemp -d /var/tmp/seed-airflow-home.XXXXXX)
    mkdir -p "$AIRFLOW_HOME_DIR/dags" "$AIRFLOW_HOME_DIR/tmp"
    cp "$manifests"/dags/*.py "$AIRFLOW_HOME_DIR/dags/"
    airflow_cli db migrate >"$AIRFLOW_HOME_DIR/migrate.log" 2>&1 \
        || { tail -20 "$AIRFLOW_HOME_DIR/migrate.log" >&2; return 1; }

    seed_step "airflow dags test seed_k8s: a pod with an XCom, a task reading it, a Job"
    result=$(airflow_dags_test seed_k8s)
    read -r state duration <<<"$result"
    log=$AIRFLOW_HOME_DIR/seed_k8s.log
    seed_log "    DAG run state=$state in $duration s"
    [[ $state == success ]] || { airflow_show_log seed_k8s; return 1; }

    seed_step "the pod's and the Job's printed lines are in the task logs"
    for i in $(seq 1 10); do
        grep -qF "[base] seed-airflow pod line $i of 10" "$log" \
            || { seed_log "pod line $i of 10 is not in the task log"; airflow_show_log seed_k8s; return 1; }
    done
    for i in 1 2 3; do
        grep -qF "[base] seed-airflow job line $i of 3" "$log" \
            || { seed_log "job line $i of 3 is not in the task log"; airflow_show_log seed_k8s; return 1; }
    done
    # The provider warns when a follow ends while the pod's status still says the container runs,
    # then reads the log again from the last line's time (duplicating it). Upstream this is a race
    # (the kubelet ends the follow and posts the status each within about a second of the exit);
    # our kubelet ends the follow about 0.8 s before the status shows the container terminated, so
    # Airflow sees it whenever it reads the pod in that window. Said here, not failed on.
    if grep -q 'log read interrupted but container' "$log"; then
        seed_log "    note: the provider saw the log follow end while the pod's status still said running ($(grep -c 'log read interrupted but container' "$log") times)"
    fi
    spread=$(airflow_lines_spread "$log" "[base] seed-airflow pod line")
    seed_log "    the pod's 10 lines reached the task log over $spread s (followed as printed)"
    python3 -c "import sys; sys.exit(float('$spread') < 2)" \
        || { seed_log "the pod's lines all arrived at once: the log was not followed while the container printed"; return 1; }

    seed_step "the pod's and the Job's XComs came through the sidecar over exec"
    grep -qF "Running command... if [ -s /airflow/xcom/return.json ]" "$log" \
        || { seed_log "the operator did not read the XCom through the sidecar"; airflow_show_log seed_k8s; return 1; }
    grep -qF "seed-airflow xcom value: {'lines': 10, 'word': 'from-the-pod'}" "$log" \
        || { seed_log "the check task did not get the pod's XCom"; airflow_show_log seed_k8s; return 1; }
    grep -qF "seed-airflow job xcom value: [1, 2, 3]" "$log" \
        || { seed_log "the check_job task did not get the Job pod's XCom"; airflow_show_log seed_k8s; return 1; }
    # Each sidecar was stopped by the provider's first command, sent on an exec's stdin.
    if grep -qE 'Primary kill command failed|Failed to kill xcom sidecar' "$log"; then
        seed_log "stopping the XCom sidecar over exec failed:"
        grep -E -A2 'Primary kill command failed|Failed to kill xcom sidecar|stderr from command' "$log" | cut -c1-300 >&2
        return 1
    fi

    seed_step "no pods or Jobs are left in seed-airflow"
    grep -qF "Kubernetes job was deleted." "$log" || { seed_log "the delete_job task did not delete the Job"; return 1; }
    seed_wait 60 "no pods or Jobs in $AIRFLOW_NS" airflow_no_pods_or_jobs \
        || { seed_kubectl get pods,jobs -n "$AIRFLOW_NS" >&2; return 1; }

    seed_step "a missing image fails the task with the pull failure's event in its log"
    local bad_state bad_duration
    result=$(airflow_dags_test seed_k8s_missing_image)
    read -r bad_state bad_duration <<<"$result"
    log=$AIRFLOW_HOME_DIR/seed_k8s_missing_image.log
    seed_log "    DAG run state=$bad_state in $bad_duration s"
    [[ $bad_state == failed ]] || { seed_log "expected the DAG run to fail"; airflow_show_log seed_k8s_missing_image; return 1; }
    grep -qF 'Image cannot be pulled, unable to start' "$log" \
        || { seed_log "the task did not fail fast on the image"; airflow_show_log seed_k8s_missing_image; return 1; }
    grep -qE 'Pod Event: Failed - Failed to pull image "localhost/seed-no-such-image:local"' "$log" \
        || { seed_log "the pull failure's event is not in the task log"; airflow_show_log seed_k8s_missing_image; return 1; }
    seed_log "    $(grep -oE 'Pod Event: Failed - Failed to pull image [^[]*' "$log" | head -1 | cut -c1-160)"
    seed_wait 60 "no pods in $AIRFLOW_NS after the failed task" airflow_no_pods_or_jobs \
        || { seed_kubectl get pods,jobs -n "$AIRFLOW_NS" >&2; return 1; }

    SEED_DETAIL="DAG run $duration s: pod log followed over $spread s, XComs over exec, Job Complete, all deleted; missing image failed in $bad_duration s with its pull event"
}

cleanup_airflow() {
    seed_kubectl delete namespace "$AIRFLOW_NS" --wait=false >/dev/null 2>&1
    [[ -n $AIRFLOW_HOME_DIR ]] && rm -rf "$AIRFLOW_HOME_DIR"
    AIRFLOW_HOME_DIR=
    return 0
}
