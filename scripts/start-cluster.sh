#!/usr/bin/env bash
# Sets up the machine, builds the workspace and starts a one-machine cluster in the background:
# for now the apiserver on the embedded store, the scheduler and the controller-manager (the
# kubelet arrives with its issue). Stop it with: kill $(cat "$CLUSTER_DIR"/*.pid)
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_DIR="${CLUSTER_DIR:-$HOME/.local/share/cluster}"
ADDRESS="${ADDRESS:-127.0.0.1:6443}"

bash scripts/setup.sh
mkdir -p "$CLUSTER_DIR"
if [[ -f "$CLUSTER_DIR/apiserver.pid" ]] && kill -0 "$(cat "$CLUSTER_DIR/apiserver.pid")" 2>/dev/null; then
    echo "a cluster is already running (pid $(cat "$CLUSTER_DIR/apiserver.pid")) with its state in $CLUSTER_DIR" >&2
    exit 1
fi
nohup target/release/apiserver --storage embedded --data-dir "$CLUSTER_DIR" --bind-address "$ADDRESS" \
    >"$CLUSTER_DIR/apiserver.log" 2>&1 &
echo $! >"$CLUSTER_DIR/apiserver.pid"
for _ in $(seq 1 100); do
    if curl -fsS "http://$ADDRESS/readyz" >/dev/null 2>&1; then
        cat >"$CLUSTER_DIR/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: http://$ADDRESS
contexts:
- name: local
  context:
    cluster: local
    user: local
current-context: local
users:
- name: local
  user: {}
KUBECONFIG
        echo "✓ apiserver ready at http://$ADDRESS (state in $CLUSTER_DIR, log $CLUSTER_DIR/apiserver.log)"
        nohup target/release/scheduler --kubeconfig "$CLUSTER_DIR/kubeconfig" \
            >"$CLUSTER_DIR/scheduler.log" 2>&1 &
        echo $! >"$CLUSTER_DIR/scheduler.pid"
        echo "✓ scheduler started (log $CLUSTER_DIR/scheduler.log)"
        nohup target/release/controller-manager --kubeconfig "$CLUSTER_DIR/kubeconfig" \
            >"$CLUSTER_DIR/controller-manager.log" 2>&1 &
        echo $! >"$CLUSTER_DIR/controller-manager.pid"
        echo "✓ controller-manager started (log $CLUSTER_DIR/controller-manager.log)"
        echo "  export KUBECONFIG=$CLUSTER_DIR/kubeconfig"
        exit 0
    fi
    kill -0 "$(cat "$CLUSTER_DIR/apiserver.pid")" 2>/dev/null || break
    sleep 0.1
done
echo "the apiserver did not become ready; its log:" >&2
cat "$CLUSTER_DIR/apiserver.log" >&2
exit 1
