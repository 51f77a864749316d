#!/usr/bin/env bash
# Sets up the machine (packages, Docker, a release build), creates a 3-node kind-style cluster
# whose nodes are Docker containers (with cluster DNS), and runs the demo app of manifests/demo and
# its client on it.
# Remove it with: target/release/cluster delete --name demo
set -euo pipefail
cd "$(dirname "$0")/.."

NAME="${CLUSTER_NAME:-demo}"
NODES="${CLUSTER_NODES:-3}"

bash scripts/setup.sh
if target/release/cluster get nodes --name "$NAME" >/dev/null 2>&1; then
    echo "a cluster named $NAME is already running; remove it with: target/release/cluster delete --name $NAME" >&2
    exit 1
fi
target/release/cluster create --name "$NAME" --nodes "$NODES"

ctl=target/release/ctl
"$ctl" rollout status deployment/cluster-dns -n kube-system --timeout=120s
"$ctl" create namespace demo >/dev/null
"$ctl" apply -n demo -f manifests/demo/app.yaml -f manifests/demo/client.yaml
"$ctl" rollout status deployment/example -n demo --timeout=120s
"$ctl" rollout status deployment/example-client -n demo --timeout=120s

port=$("$ctl" get service example-service -n demo -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["spec"]["ports"][0]["nodePort"])')
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME-worker" 2>/dev/null || docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME-control-plane")
echo
echo "✓ The demo answers on every node's NodePort, e.g. http://$ip:$port/ (try: curl http://$ip:$port/url)"
echo "  the demo's client calls it by the Service name its ConfigMap holds: ctl logs deployment/example-client -n demo"
echo "  kubectl and ctl use the context cluster-$NAME in ~/.kube/config"
echo
"$ctl" get pods -A
