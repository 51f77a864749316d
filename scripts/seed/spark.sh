# Spark: `spark-submit --master k8s://… --deploy-mode cluster` of PySpark's own pi.py from the
# host, as Spark's "Running on Kubernetes" page does it: the driver pod creates two executor pods,
# one executor is deleted mid-job and replaced, then the driver pod's deletion garbage-collects
# what it owns; and a ServiceAccount without rights is refused (sourced by
# scripts/seed-workloads.sh and build-workload-images.sh).

SPARK_NS=seed-spark
# The current release; SPARK_VERSION=3.5.9 (the last 3.x) builds the same image and runs the same
# steps with Spark's older client (fabric8 6.7 on OkHttp instead of 7.6 on Vert.x).
SPARK_VERSION=${SPARK_VERSION:-4.3.0}
case $SPARK_VERSION in
    3.5.*) SPARK_PY4J=0.10.9.7 ;;
    *) SPARK_PY4J=0.10.9.9 ;;
esac
# Debian's JRE, on the host (scripts/setup.sh) as in the image.
SPARK_JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
SPARK_IMAGE_HOME=/$SEED_PYTHON_TARGET/pyspark
SPARK_PI=local://$SPARK_IMAGE_HOME/examples/src/main/python/pi.py
# Partitions of pi.py (100,000 samples each): enough for the job to run about a minute on two
# one-core executors, so that one of them can be deleted while it works.
SPARK_PARTITIONS=${SPARK_PARTITIONS:-1500}

# PyPI has only pyspark's sdist (456 MB); its wheel is built once and kept in the cache.
spark_wheel() {
    local dir=$SEED_CACHE/pyspark-$SPARK_VERSION wheel
    wheel=$dir/pyspark-$SPARK_VERSION-py2.py3-none-any.whl
    if [[ ! -f $wheel ]]; then
        seed_log "building the pyspark $SPARK_VERSION wheel from its sdist (once)"
        local work
        mkdir -p "$dir"
        work=$(mktemp -d "$SEED_CACHE/pyspark-wheel.XXXXXX")
        TMPDIR=$work python3 -m pip wheel -q --disable-pip-version-check --no-deps \
            --cache-dir "$SEED_CACHE/pip" -w "$work" "pyspark==$SPARK_VERSION" >&2 \
            && mv "$work/$(basename "$wheel")" "$wheel"
        rm -rf "$work"
        [[ -f $wheel ]] || seed_die "building the pyspark wheel failed"
    fi
    echo "$wheel"
}

spark_recipe() {
    local rootfs=$1
    seed_wheels "$rootfs" "$SPARK_WHEEL" "py4j==$SPARK_PY4J" || return 1
    install -D -m 755 "$SEED_DIR/spark/entrypoint.sh" "$rootfs/opt/seed/spark-entrypoint.sh"
    # The driver mounts its ConfigMap at /opt/spark/conf; the pods work in /opt/spark/work-dir.
    mkdir -p "$rootfs/opt/spark/work-dir"
    chmod 1777 "$rootfs/opt/spark/work-dir"
}
image_spark() {
    SPARK_WHEEL=$(spark_wheel) || return 1
    SEED_INPUTS=("$SPARK_WHEEL" "$SEED_DIR/spark/entrypoint.sh")
    seed_image spark spark_recipe "{\"Env\": [\"JAVA_HOME=$SPARK_JAVA_HOME\", \"SPARK_HOME=$SPARK_IMAGE_HOME\", \"PYSPARK_PYTHON=python3\"],
        \"WorkingDir\": \"/opt/spark/work-dir\", \"Entrypoint\": [\"/opt/seed/spark-entrypoint.sh\"]}" \
        openjdk-17-jre-headless python3 tini procps bash coreutils
}
spark_images=(spark)

# The host's spark-submit: a venv with the same wheel, cached.
spark_venv() {
    local venv=$SEED_CACHE/spark-venv-$SPARK_VERSION wheel
    if [[ ! -x $venv/bin/spark-submit ]]; then
        wheel=$(spark_wheel) || return 1
        seed_log "creating the host's pyspark venv $venv"
        rm -rf "$venv"
        python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
            --cache-dir "$SEED_CACHE/pip" "$wheel" "py4j==$SPARK_PY4J" >&2 \
            || { rm -rf "$venv"; seed_log "the pyspark venv failed"; return 1; }
    fi
    echo "$venv"
}

# spark_token_kubeconfig SERVICEACCOUNT FILE: a kubeconfig with the cluster's CA and a token of
# the ServiceAccount (fabric8 cannot read our kubeconfig's EC client key without being told).
spark_token_kubeconfig() {
    local sa=$1 file=$2 server token
    server=$(seed_kubectl config view --minify --raw -o 'jsonpath={.clusters[0].cluster.server}') || return 1
    token=$(seed_kubectl create token "$sa" -n "$SPARK_NS" --duration=1h) || return 1
    seed_kubectl config view --minify --raw -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' \
        | base64 -d >"$file.ca" || return 1
    rm -f "$file"
    kubectl --kubeconfig="$file" config set-cluster seed --server="$server" \
        --certificate-authority="$file.ca" --embed-certs=true >/dev/null &&
        kubectl --kubeconfig="$file" config set-credentials "$sa" --token="$token" >/dev/null &&
        kubectl --kubeconfig="$file" config set-context seed --cluster=seed --user="$sa" \
            --namespace="$SPARK_NS" >/dev/null &&
        kubectl --kubeconfig="$file" config use-context seed >/dev/null
    local rc=$?
    rm -f "$file.ca"
    return $rc
}

# (spark_submit KUBECONFIG NAME PARTITIONS [--conf ...]): spark-submit in cluster mode (it waits
# for the application to finish). It execs the JVM: call it in a subshell, whose pid is then Java's.
spark_submit() {
    local kubeconfig=$1 name=$2 partitions=$3 server
    shift 3
    server=$(kubectl --kubeconfig="$kubeconfig" config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
    KUBECONFIG=$kubeconfig JAVA_HOME=$SPARK_JAVA_HOME SPARK_HOME=$SPARK_VENV/lib/python3.11/site-packages/pyspark \
        exec "$SPARK_VENV/bin/spark-submit" --master "k8s://$server" --deploy-mode cluster --name "$name" \
        --conf spark.kubernetes.namespace="$SPARK_NS" \
        --conf spark.kubernetes.authenticate.driver.serviceAccountName=spark \
        --conf spark.kubernetes.container.image=localhost/seed-spark:local \
        --conf spark.kubernetes.container.image.pullPolicy=IfNotPresent \
        --conf spark.executor.instances=2 \
        --conf spark.executor.cores=1 \
        --conf spark.driver.memory=512m --conf spark.executor.memory=512m \
        --conf spark.kubernetes.driver.request.cores=250m \
        --conf spark.kubernetes.executor.request.cores=250m \
        --conf spark.kubernetes.submission.waitAppCompletion=true \
        --conf spark.kubernetes.report.interval=5s \
        "$@" "$SPARK_PI" "$partitions"
}

spark_pods() { seed_kubectl get pods -n "$SPARK_NS" -l "spark-app-selector=$SPARK_APP,$1" -o 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.phase}{"\n"}{end}'; }
spark_running_executors() { spark_pods spark-role=executor | grep -c ' Running$'; }
spark_two_executors() { (($(spark_running_executors) >= 2)); }
spark_driver() { seed_kubectl get pods -n "$SPARK_NS" -l "spark-app-name=$1,spark-role=driver" -o 'jsonpath={.items[0].metadata.name}'; }
# Waiting for the driver pod ends early when spark-submit has given up.
spark_driver_or_exit() { [[ -n $(spark_driver "$1") ]] || spark_submit_exited; }
spark_app_id() { seed_kubectl get pod -n "$SPARK_NS" "$1" -o 'jsonpath={.metadata.labels.spark-app-selector}'; }
spark_driver_ended() { [[ $(seed_kubectl get pod -n "$SPARK_NS" "$SPARK_DRIVER" -o 'jsonpath={.status.phase}') == @(Succeeded|Failed) ]]; }
spark_driver_done() { [[ $(seed_kubectl get pod -n "$SPARK_NS" "$SPARK_DRIVER" -o 'jsonpath={.status.phase}') == Succeeded ]]; }
spark_job_started() { seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" | grep -q 'Starting job'; }
spark_submit_exited() { ! kill -0 "$SPARK_SUBMIT_PID" 2>/dev/null; }

# spark_owned KIND: the names of the objects of KIND whose ownerReference is the driver pod.
spark_owned() {
    local json
    json=$(seed_kubectl get "$1" -n "$SPARK_NS" -o json) || return 1
    python3 -c '
import json, sys
uid = sys.argv[1]
for item in json.load(sys.stdin)["items"]:
    if any(r.get("uid") == uid for r in item["metadata"].get("ownerReferences", [])):
        print(item["metadata"]["name"])' "$SPARK_DRIVER_UID" <<<"$json"
}
# spark_applied_by_fabric8 KIND NAME: the object's managedFields hold fabric8's Apply.
spark_applied_by_fabric8() {
    [[ $(seed_kubectl get "$1" "$2" -n "$SPARK_NS" --show-managed-fields \
        -o 'jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}{"\n"}{end}') == *fabric8/Apply* ]]
}
# A ConfigMap and a headless Service owned by the driver pod, both applied by fabric8.
spark_driver_resources_applied() {
    local kind obj found
    for kind in configmap service; do
        found=
        for obj in $(spark_owned "${kind}s"); do
            spark_applied_by_fabric8 "$kind" "$obj" || continue
            [[ $kind == service && $(seed_kubectl get service -n "$SPARK_NS" "$obj" -o 'jsonpath={.spec.clusterIP}') != None ]] && continue
            found=$obj
        done
        [[ -n $found ]] || return 1
    done
}
# Spark 4 also applies a NetworkPolicy (letting executors reach the driver) before the driver pod;
# Spark 3.5 does not (run_spark adds the kind when the cluster serves it).
SPARK_OWNED_KINDS=(pods configmaps services)
spark_nothing_owned() {
    local kind
    local owned
    for kind in "${SPARK_OWNED_KINDS[@]}"; do
        owned=$(spark_owned "$kind") && [[ -z $owned ]] || return 1
    done
}
spark_still_owned() {
    local kind
    for kind in "${SPARK_OWNED_KINDS[@]}"; do
        printf '%s [%s] ' "$kind" "$(spark_owned "$kind" | xargs)"
    done
}

run_spark() {
    local manifests=$SEED_ROOT/manifests/seed/spark work
    work=$(mktemp -d /var/tmp/seed-spark.XXXXXX)
    SPARK_WORK=$work
    seed_step "the host's spark-submit"
    SPARK_VENV=$(spark_venv) || return 1
    seed_step "apply the namespace and the ServiceAccounts"
    seed_kubectl apply -f "$manifests/rbac.yaml" >/dev/null || return 1
    seed_kubectl api-resources --api-group=networking.k8s.io -o name | grep -qx networkpolicies.networking.k8s.io \
        && SPARK_OWNED_KINDS+=(networkpolicies.networking.k8s.io)
    spark_token_kubeconfig spark-submitter "$work/submitter.kubeconfig" || return 1

    seed_step "spark-submit pi.py ($SPARK_PARTITIONS partitions) in cluster mode"
    local name=seed-pi
    # The executors stay after the application (as users keep them for their logs) so that the
    # driver pod's deletion has them to garbage-collect.
    (spark_submit "$work/submitter.kubeconfig" "$name" "$SPARK_PARTITIONS" \
        --conf spark.kubernetes.executor.deleteOnTermination=false) >"$work/submit.log" 2>&1 &
    SPARK_SUBMIT_PID=$!
    seed_wait 120 "the driver pod" spark_driver_or_exit "$name"
    SPARK_DRIVER=$(spark_driver "$name")
    # spark-submit, waiting for the application, runs as long as the driver does; it also deletes
    # the driver pod when one of the objects that go with it cannot be applied.
    sleep 2
    if [[ -z $SPARK_DRIVER ]] || spark_submit_exited; then
        seed_log "spark-submit gave up; it says:"
        grep -E '^(Exception|Caused by)|ERROR' "$work/submit.log" | head -3 >&2
        return 1
    fi
    SPARK_DRIVER_UID=$(seed_kubectl get pod -n "$SPARK_NS" "$SPARK_DRIVER" -o 'jsonpath={.metadata.uid}')
    SPARK_APP=$(spark_app_id "$SPARK_DRIVER")
    seed_step "the driver's ConfigMap and Service are server-side applied by fabric8"
    seed_wait 60 "a ConfigMap and a headless Service of the driver's, applied by fabric8" spark_driver_resources_applied || {
        seed_log "owned by $SPARK_DRIVER: configmaps [$(spark_owned configmaps | xargs)] services [$(spark_owned services | xargs)]"
        local kind obj
        for kind in configmap service; do
            for obj in $(spark_owned "${kind}s"); do
                seed_log "  $kind $obj: $(seed_kubectl get "$kind" "$obj" -n "$SPARK_NS" --show-managed-fields -o 'jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}')"
            done
        done
        return 1
    }

    seed_step "two executors run"
    seed_wait 240 "two running executor pods" spark_two_executors \
        || { seed_kubectl get pods -n "$SPARK_NS" -o wide >&2; seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" --tail=30 >&2; return 1; }
    seed_step "the driver starts pi.py's job on them"
    seed_wait 120 "'Starting job' in the driver's log" spark_job_started \
        || { seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" --tail=30 >&2; return 1; }
    sleep 10
    local victim
    victim=$(spark_pods spark-role=executor | awk '$2 == "Running" {print $1; exit}')
    seed_step "delete executor pod $victim mid-job"
    spark_driver_ended && { seed_log "the application ended before an executor could be deleted: raise SPARK_PARTITIONS"; return 1; }
    seed_kubectl delete pod -n "$SPARK_NS" "$victim" --wait=false >/dev/null || return 1
    seed_step "Spark replaces the executor"
    seed_wait 180 "a third executor pod" eval '(($(spark_pods spark-role=executor | grep -vc "^$victim ") >= 2))' \
        || { seed_kubectl get pods -n "$SPARK_NS" -o wide >&2; return 1; }

    seed_step "the driver pod succeeds"
    seed_wait 600 "the driver pod to end" spark_driver_ended \
        || { seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" --tail=30 >&2; return 1; }
    spark_driver_done || {
        seed_log "the driver pod ended $(seed_kubectl get pod -n "$SPARK_NS" "$SPARK_DRIVER" -o 'jsonpath={.status.phase}'); its log:"
        seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" --tail=30 >&2
        return 1
    }
    local pi
    pi=$(seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" | grep -o 'Pi is roughly [0-9.]*')
    # pi.py's estimate wanders by ±0.01 from run to run (3.1318 to 3.1500 seen here).
    [[ $pi == "Pi is roughly 3.1"* ]] || { seed_log "the driver's log has no pi: [$pi]"; seed_kubectl logs -n "$SPARK_NS" "$SPARK_DRIVER" --tail=30 >&2; return 1; }
    # spark-submit (waitAppCompletion) watches the driver pod and exits 0 once it has succeeded;
    # checked after the steps below, so that a failure here still lets them run.
    local submit_rc=0
    seed_wait 60 "spark-submit to exit" spark_submit_exited || submit_rc=timeout
    if [[ $submit_rc == 0 ]]; then
        wait "$SPARK_SUBMIT_PID"
        submit_rc=$?
    fi
    SPARK_SUBMIT_PID=
    local executors
    executors=$(spark_pods spark-role=executor | wc -l)
    seed_log "  $pi ($executors executor pods, one deleted)"

    seed_step "delete the driver pod: its executors, ConfigMaps and Service are garbage-collected"
    seed_log "  owned by $SPARK_DRIVER: $(spark_still_owned)"
    spark_nothing_owned && { seed_log "the driver owns nothing to collect"; return 1; }
    local deleted=$SECONDS
    seed_kubectl delete pod -n "$SPARK_NS" "$SPARK_DRIVER" --wait=false >/dev/null || return 1
    seed_wait 120 "the driver's dependents to be garbage-collected" spark_nothing_owned || {
        seed_log "still owned by $SPARK_DRIVER: $(spark_still_owned)"
        return 1
    }
    seed_log "  all collected $((SECONDS - deleted)) s after the driver pod's deletion"

    seed_step "a ServiceAccount without rights is refused"
    spark_token_kubeconfig nobody "$work/nobody.kubeconfig" || return 1
    if (spark_submit "$work/nobody.kubeconfig" seed-refused 1) >"$work/refused.log" 2>&1; then
        seed_log "spark-submit as nobody succeeded"
        return 1
    fi
    local refusal
    refusal=$(grep -o 'Failure executing: [A-Z]* at: [^ ]*\. Message: .*is forbidden: User "system:serviceaccount:seed-spark:nobody" cannot [a-z]* resource "[a-z]*"' "$work/refused.log" | head -1)
    [[ -n $refusal ]] || { seed_log "spark-submit as nobody failed without naming the forbidden call:"; tail -20 "$work/refused.log" >&2; return 1; }
    seed_log "  refused: $refusal"
    [[ -z $(seed_kubectl get pods -n "$SPARK_NS" -l spark-app-name=seed-refused -o name) ]] \
        || { seed_log "the refused submission left a pod"; return 1; }

    seed_step "spark-submit reports the application's success"
    if [[ $submit_rc != 0 ]] || ! grep -q 'phase: Succeeded' "$work/submit.log"; then
        seed_log "spark-submit: exit status $submit_rc; its errors:"
        grep -E '^(Exception|Caused by)|ERROR' "$work/submit.log" | head -5 >&2
        return 1
    fi

    SEED_DETAIL="$pi, $SPARK_PARTITIONS partitions, executor $victim deleted and replaced, driver's dependents collected, nobody refused"
    rm -rf "$work"
    SPARK_WORK=
}

cleanup_spark() {
    [[ -n ${SPARK_SUBMIT_PID:-} ]] && kill "$SPARK_SUBMIT_PID" 2>/dev/null
    [[ -n ${SPARK_WORK:-} ]] && seed_log "spark-submit's logs are in $SPARK_WORK"
    seed_kubectl delete namespace "$SPARK_NS" --wait=false >/dev/null 2>&1
    return 0
}
