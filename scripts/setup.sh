#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (as root) and builds the workspace.
# Idempotent and quiet when everything is already there. Usage: scripts/setup.sh [--no-build]
set -euo pipefail

# libprotobuf-dev carries the well-known .proto files that etcd-client's build needs beside protoc;
# zsh and fish are there so that the tests run ctl's completion scripts in the shells they are for.
# gcc and libc6-dev (static libc) build the test images' pause binary; iproute2 tears down test bridges;
# dnsperf and dnsmasq-base are the DNS benchmark's load generator and reference server;
# mmdebstrap builds the seed workloads' images (scripts/build-workload-images.sh), python3-venv
# Airflow's venv, and OpenJDK 17 runs spark-submit on the host.
PACKAGES=(etcd-server etcd-client containerd runc containernetworking-plugins docker.io
          docker-registry protobuf-compiler libprotobuf-dev iptables iproute2 busybox-static gcc libc6-dev
          curl zsh fish dnsperf dnsmasq-base tmux mmdebstrap python3-venv openjdk-17-jre-headless)

log() { printf '%s\n' "setup: $*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts try to start services; there is no init system here, so tell them not to.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >/tmp/setup-apt.log 2>&1 || { rm -f /usr/sbin/policy-rc.d; cat /tmp/setup-apt.log >&2; exit 1; }
    rm -f /usr/sbin/policy-rc.d
fi

# The Python kubernetes client is one of the outside clients the tests drive.
if ! python3 -c 'import kubernetes' >/dev/null 2>&1; then
    log "installing the Python kubernetes client"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore kubernetes \
        >/tmp/setup-pip.log 2>&1 || { cat /tmp/setup-pip.log >&2; exit 1; }
fi

# The Python client 36, which Airflow pins (it writes booleans as `True`), beside the newest,
# for the e2e tests to run with PYTHONPATH.
if ! PYTHONPATH=/opt/python-kubernetes-36 python3 -c 'import kubernetes, sys; sys.exit(not kubernetes.__version__.startswith("36."))' >/dev/null 2>&1; then
    log "installing the Python kubernetes client 36 in /opt/python-kubernetes-36"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target /opt/python-kubernetes-36 'kubernetes==36.0.3' \
        >/tmp/setup-pip.log 2>&1 || { cat /tmp/setup-pip.log >&2; exit 1; }
fi

# No Docker engine runs on a fresh machine; the cluster tool and e2e tests need one.
if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; exit 1; }
fi

if [[ "${1:-}" != "--no-build" ]]; then
    cd "$(dirname "$0")/.."
    log "building the workspace (release)"
    cargo build --release --workspace --quiet
fi
