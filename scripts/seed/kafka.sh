# Kafka: a Kafka-protocol broker (tansu, from crates.io) as a StatefulSet with its log on a claim,
# producer and consumer Jobs (confluent-kafka, from PyPI), and the broker pod deleted mid-stream
# (sourced by scripts/seed-workloads.sh and build-workload-images.sh).

KAFKA_NS=seed-kafka
TANSU_VERSION=0.6.0
# SQLite storage only: no S3, Postgres or lake engines (hundreds of crates fewer).
TANSU_FEATURES=libsql

# kafka_tansu: builds tansu once per version, features and compiler (cached outside the clone)
# and prints the binary's path.
kafka_tansu() {
    local key root
    key=$(printf '%s\n' "$TANSU_VERSION" "$TANSU_FEATURES" "$(rustc -V)" | sha256sum | cut -c1-12)
    root=$SEED_CACHE/tansu-$TANSU_VERSION-$key
    if [[ ! -x $root/bin/tansu ]]; then
        seed_log "building tansu $TANSU_VERSION from crates.io (once: cached in $root; about 15 min on 2 cores)"
        rm -rf "$root.partial"
        # A target dir of its own, removed afterwards, whatever CARGO_TARGET_DIR the caller has.
        env -u CARGO_TARGET_DIR TMPDIR="$SEED_CACHE" cargo install tansu --version "$TANSU_VERSION" --locked \
            --no-default-features --features "$TANSU_FEATURES" --root "$root.partial" \
            >"$SEED_CACHE/tansu-build.log" 2>&1 \
            || { tail -20 "$SEED_CACHE/tansu-build.log" >&2; seed_log "building tansu failed (log: $SEED_CACHE/tansu-build.log)"; return 1; }
        mv "$root.partial" "$root"
    fi
    echo "$root/bin/tansu"
}

kafka_recipe() {
    install -D -m 0755 "$KAFKA_TANSU" "$1/usr/local/bin/tansu"
    seed_wheels "$1" confluent-kafka==2.16.2
}
image_kafka() {
    KAFKA_TANSU=$(kafka_tansu) || return 1
    SEED_INPUTS=("$KAFKA_TANSU")
    seed_image kafka kafka_recipe '{"Entrypoint": ["/usr/bin/tini", "--"]}' tini python3
}
kafka_images=(kafka)

# kafka_produced N: the producer has logged at least N messages produced.
kafka_produced() {
    local last
    last=$(seed_kubectl logs -n "$KAFKA_NS" job/producer 2>/dev/null | grep -o '^produced [0-9]*' | tail -1)
    ((${last#produced } >= $1))
}
# kafka_broker_back OLD_UID: a new kafka-0 (not OLD_UID) is Ready.
kafka_broker_back() {
    local state
    state=$(seed_kubectl get pod kafka-0 -n "$KAFKA_NS" -o 'jsonpath={.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}')
    [[ $state != "$1 "* && $state == *" True" ]]
}

run_kafka() {
    local manifests=$SEED_ROOT/manifests/seed/kafka uid
    seed_step "apply the broker: StatefulSet, claim and headless Service"
    seed_kubectl apply -f "$manifests/broker.yaml" >/dev/null || return 1
    seed_wait 180 "broker pod kafka-0 Ready" kafka_broker_back none || { seed_kubectl describe pod kafka-0 -n "$KAFKA_NS" | tail -15 >&2; return 1; }
    seed_step "produce 20,000 messages"
    seed_kubectl apply -f "$manifests/producer.yaml" >/dev/null || return 1
    seed_wait 180 "the producer past 5,000 messages" kafka_produced 5000 || { seed_job_wait 1 "$KAFKA_NS" producer; return 1; }
    seed_step "delete the broker pod mid-stream"
    uid=$(seed_kubectl get pod kafka-0 -n "$KAFKA_NS" -o 'jsonpath={.metadata.uid}') || return 1
    seed_kubectl delete pod kafka-0 -n "$KAFKA_NS" --wait=false >/dev/null || return 1
    seed_step "the broker comes back on its claim"
    seed_wait 180 "a new kafka-0 Ready" kafka_broker_back "$uid" || { seed_kubectl describe pod kafka-0 -n "$KAFKA_NS" | tail -15 >&2; return 1; }
    seed_step "every message delivered"
    seed_job_wait 400 "$KAFKA_NS" producer || return 1
    local produced consumed
    produced=$(seed_kubectl logs -n "$KAFKA_NS" job/producer | tail -1)
    seed_log "  $produced"
    seed_step "every message consumed after the restart"
    seed_kubectl apply -f "$manifests/consumer.yaml" >/dev/null || return 1
    seed_job_wait 300 "$KAFKA_NS" consumer || return 1
    consumed=$(seed_kubectl logs -n "$KAFKA_NS" job/consumer | tail -1)
    seed_log "  $consumed"
    seed_step "a wrong broker address fails with the client's message"
    kafka_wrong_address || return 1
    local resent=${produced#*(}
    SEED_DETAIL="20000 messages, broker pod deleted mid-stream, ${resent%% sent again*} refused during its shutdown and sent again; ${consumed%% (*}"
}

# A producer pointed at a broker that does not exist: its Job fails, and its log says why in
# librdkafka's words, which is what its user reads.
kafka_wrong_address() {
    seed_kubectl apply -f - >/dev/null <<YAML || return 1
apiVersion: batch/v1
kind: Job
metadata:
  name: wrong-address
  namespace: $KAFKA_NS
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: producer
        image: localhost/seed-kafka:local
        imagePullPolicy: IfNotPresent
        command: ["python3", "/clients/produce.py"]
        env:
        - {name: BOOTSTRAP_SERVERS, value: "kafka-9.kafka.$KAFKA_NS.svc.cluster.local:9092"}
        - {name: MESSAGES, value: "10"}
        - {name: REQUEST_TIMEOUT, value: "5"}
        - {name: MESSAGE_TIMEOUT_MS, value: "5000"}
        volumeMounts:
        - {name: clients, mountPath: /clients}
      volumes:
      - {name: clients, configMap: {name: kafka-clients}}
YAML
    seed_wait 120 "the wrong-address Job Failed" kafka_job_failed wrong-address || return 1
    local log
    log=$(seed_kubectl logs -n "$KAFKA_NS" job/wrong-address)
    if [[ $log != *"Failed to resolve 'kafka-9.kafka.$KAFKA_NS.svc.cluster.local:9092'"* ]]; then
        seed_log "the wrong-address producer's log does not name the address it could not resolve:"
        printf '%s\n' "$log" | tail -5 >&2
        return 1
    fi
}
kafka_job_failed() { [[ $(seed_job_condition "$KAFKA_NS" "$1") == *Failed* ]]; }

cleanup_kafka() {
    seed_kubectl delete namespace "$KAFKA_NS" --timeout=120s >/dev/null 2>&1
    return 0
}
