#!/usr/bin/env bash
# Builds an image for in-cluster clients in pods, from what the host has (no registry):
# busybox, kubectl (static), and the host's python3 with just the modules the Python
# `kubernetes` client loads to read its in-cluster configuration and list pods, found by doing
# that once here (against an address that refuses, so that the request path is loaded too).
# Usage: incluster-image.sh TAG   (imports TAG into the local Docker engine)
set -euo pipefail
export LC_ALL=C
tag=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/usr/{bin,lib,lib64} "$root"/{tmp,etc,var/run/secrets}
for dir in bin lib lib64; do
    ln -s "usr/$dir" "$root/$dir"
done

# add PATH: the host file at the same path (a symlink, and what it points to).
add() {
    local dir name path target
    dir=$(realpath -e "$(dirname "$1")")
    name=$(basename "$1")
    path=$dir/$name
    [[ -e $root$path || -L $root$path ]] && return 0
    mkdir -p "$root$dir"
    cp -a "$path" "$root$path"
    if [[ -L $path ]]; then
        target=$(readlink "$path")
        [[ $target == /* ]] || target=$dir/$target
        add "$target"
    fi
}

# add_libraries FILE: the shared libraries FILE needs.
add_libraries() {
    local lib
    while read -r lib; do
        add "$lib"
    done < <(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true)
}

cp /bin/busybox "$root/usr/bin/busybox"
for applet in sh cat ls env sleep echo; do
    ln -s busybox "$root/usr/bin/$applet"
done
cp "$(realpath -e /usr/bin/kubectl)" "$root/usr/bin/kubectl"

python3 - >"$work/files" <<'PY'
import os, sys
import encodings.idna, encodings.ascii, encodings.utf_8, json, traceback
from kubernetes import client, config
from kubernetes.config import incluster_config
configuration = client.Configuration()
configuration.host = "https://127.0.0.1:1"
configuration.verify_ssl = False
try:
    client.CoreV1Api(client.ApiClient(configuration)).list_namespaced_pod("default", _request_timeout=1)
except Exception:
    traceback.format_exc()
print(os.path.realpath(sys.executable))
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None)
    if path and os.path.exists(path):
        print(os.path.realpath(path))
PY
python=$(head -1 "$work/files")
while read -r file; do
    add "$file"
    case $file in *.so) add_libraries "$file" ;; esac
done <"$work/files"
add_libraries "$python"
ln -s "$python" "$root/usr/bin/python3"
# Python finds its standard library from its own path; the landmark must be there.
prefix_lib=$(dirname "$(dirname "$python")")/lib
mkdir -p "$root$prefix_lib"

tar -C "$root" -cf - . | docker import -c 'CMD ["sh"]' - "$tag" >/dev/null
