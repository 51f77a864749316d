# Celery: Redis on a claim, workers scaled by an HPA on CPU, 2,000 CPU-bound tasks, and a worker
# node stopped while they run (sourced by scripts/seed-workloads.sh and build-workload-images.sh).

CELERY_NS=seed-celery

# Debian's Celery, Redis client and server: the whole image comes from the Debian archive.
celery_recipe() { :; }
image_celery() {
    SEED_INPUTS=()
    seed_image celery celery_recipe '{"Entrypoint": ["/usr/bin/tini", "--"]}' \
        tini python3-celery python3-redis redis-server redis-tools
}
celery_images=(celery)

# The workers' node that holds neither Redis nor the producer (the stable node's other worker).
celery_other_worker_node() {
    local stable=$1
    seed_kubectl get pods -n "$CELERY_NS" -l app=worker --field-selector=status.phase=Running \
        -o 'jsonpath={range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -vx "$stable" | head -1
}

run_celery() {
    local manifests=$SEED_ROOT/manifests/seed/celery stable node
    seed_step "label a stable node for Redis and the producer"
    stable=$(seed_kubectl get nodes -l '!node-role.kubernetes.io/control-plane' -o 'jsonpath={.items[0].metadata.name}')
    [[ -n $stable ]] || { seed_log "no worker node"; return 1; }
    seed_kubectl label node "$stable" seed-workloads/stable=true --overwrite >/dev/null || return 1
    seed_step "apply Redis, the workers and their HPA"
    seed_kubectl apply -f "$manifests/app.yaml" >/dev/null || return 1
    seed_kubectl rollout status -n "$CELERY_NS" statefulset/redis --timeout=180s >/dev/null || return 1
    seed_kubectl rollout status -n "$CELERY_NS" deployment/worker --timeout=120s >/dev/null || return 1
    seed_step "enqueue 2,000 tasks"
    seed_kubectl apply -f "$manifests/producer.yaml" >/dev/null || return 1
    seed_step "the HPA scales the workers out"
    seed_wait 240 "more than one worker replica" celery_scaled_out || { seed_kubectl describe hpa -n "$CELERY_NS" worker | tail -12 >&2; return 1; }
    CELERY_MAX_REPLICAS=$(celery_replicas)
    seed_step "a second worker runs on the node without Redis"
    seed_wait 180 "a worker pod running on a node other than $stable" celery_other_worker_node "$stable" || return 1
    node=$(celery_other_worker_node "$stable")
    seed_step "stop node $node while tasks run"
    docker stop "$node" >/dev/null || return 1
    CELERY_STOPPED_NODE=$node
    seed_step "every task's result is in Redis"
    # (cleanup_celery starts the node again when this fails.)
    seed_job_wait 900 "$CELERY_NS" producer || return 1
    seed_log "  $(seed_kubectl logs -n "$CELERY_NS" job/producer --tail=2 | tr '\n' ';')"
    celery_record_max
    seed_step "start node $node again"
    docker start "$node" >/dev/null || return 1
    CELERY_STOPPED_NODE=
    seed_wait 120 "node $node Ready again" celery_node_ready "$node" || return 1
    seed_step "the HPA scales the workers back in"
    seed_wait 300 "one worker replica again" celery_scaled_in || { seed_kubectl describe hpa -n "$CELERY_NS" worker | tail -12 >&2; return 1; }
    SEED_DETAIL="2000 tasks, workers 1→${CELERY_MAX_REPLICAS}→1, node $node stopped mid-run"
}

celery_replicas() { seed_kubectl get deployment worker -n "$CELERY_NS" -o 'jsonpath={.spec.replicas}'; }
celery_scaled_out() { local r; r=$(celery_replicas) && ((r > 1)); }
celery_scaled_in() { [[ $(celery_replicas) == 1 ]]; }
celery_record_max() {
    local r
    r=$(celery_replicas) && ((r > CELERY_MAX_REPLICAS)) && CELERY_MAX_REPLICAS=$r
    return 0
}
celery_node_ready() {
    [[ $(seed_kubectl get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

cleanup_celery() {
    # A node the run stopped comes back, so that the cluster is whole for the next workload.
    [[ -n ${CELERY_STOPPED_NODE:-} ]] && docker start "$CELERY_STOPPED_NODE" >/dev/null 2>&1
    seed_kubectl delete namespace "$CELERY_NS" --timeout=120s >/dev/null 2>&1
    seed_kubectl label nodes --all seed-workloads/stable- >/dev/null 2>&1
    return 0
}
