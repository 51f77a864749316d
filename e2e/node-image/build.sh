#!/usr/bin/env bash
# Builds the node image of the kind-style cluster tool without a registry or a base image: a
# minimal root filesystem assembled from this host's own files (Debian's containerd, runc, CNI
# plugins, iptables, iproute2's ip and busybox-static, with every shared library they load), our
# workspace binaries from BINDIR in /usr/local/bin, the test images at /opt/images/images.tar and
# the entrypoint node-entrypoint beside this script; tarred and `docker import`ed as TAG.
#
# The image carries the label node-image.inputs, a hash of everything it was built from (these
# scripts, the binaries in BINDIR, the versions of the host's packages). When TAG already exists
# with the same label the build is skipped, so a content-addressed TAG costs one `docker image
# inspect` when nothing changed. `--print-inputs BINDIR` prints that hash, for callers that want
# to derive TAG from it (cluster-node:<first 12 characters>, say).
#
# Prints the image id (sha256:...) on stdout; progress goes to stderr.
# Needs: bash, coreutils, tar, ldd, dpkg, docker, and the Debian packages containerd runc
# containernetworking-plugins iptables iproute2 busybox-static etcd-server etcd-client docker-registry (plus what
# scripts/build-test-images.sh needs).
# Usage: e2e/node-image/build.sh OUTDIR BINDIR TAG
#        e2e/node-image/build.sh --print-inputs BINDIR
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
components=(apiserver scheduler controller-manager kubelet dns loadbalancer)
label=node-image.inputs

# The hash of every input. The whole dpkg list stands for the host files copied in: cheaper than
# finding the package of each, and a host's package set rarely changes.
inputs_hash() {
    local bin_dir=$1 component
    for component in "${components[@]}"; do
        [[ -x $bin_dir/$component ]] || { echo "$0: $bin_dir/$component is missing" >&2; exit 1; }
    done
    {
        sha256sum "$here/build.sh" "$here/node-entrypoint" "$repo/scripts/build-test-images.sh" \
            "$repo/scripts/images/pause.c"
        (cd "$bin_dir" && sha256sum "${components[@]}")
        dpkg-query -W -f '${Package} ${Version} ${Architecture}\n'
    } | sha256sum | cut -d' ' -f1
}

if (($# == 2)) && [[ $1 == --print-inputs ]]; then
    inputs_hash "$2"
    exit 0
fi
if (($# != 3)); then
    echo "usage: $0 OUTDIR BINDIR TAG | $0 --print-inputs BINDIR" >&2
    exit 2
fi
out_dir=$1
bin_dir=$2
tag=$3

inputs=$(inputs_hash "$bin_dir")
if [[ "$(docker image inspect --format "{{index .Config.Labels \"$label\"}}" "$tag" 2>/dev/null)" == "$inputs" ]]; then
    echo "$0: $tag is up to date" >&2
    docker image inspect --format '{{.Id}}' "$tag"
    exit 0
fi

mkdir -p "$out_dir"
work=$(mktemp -d "$out_dir/.node-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

# Debian 12 is merged-/usr (/bin -> usr/bin, ...); the image is too, so that the host's paths
# (ldd prints /lib/..., Debian's symlinks point into /bin) resolve the same way inside.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/bin}
for dir in bin sbin lib lib64; do
    ln -s "usr/$dir" "$root/$dir"
done

# add PATH: copies the host file PATH to the same path in the image. A symlink is copied as a
# symlink and its target is added too, so that the image keeps the host's layout (libfoo.so.1 ->
# libfoo.so.1.2.3, /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...). Directories on the
# way are canonicalised, so /bin/ip lands in the image's /usr/bin rather than in a real /bin.
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

echo "$0: assembling the root filesystem in $root" >&2
for file in /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/ctr /usr/sbin/runc /usr/bin/etcd /usr/bin/etcdctl /usr/bin/docker-registry \
    /usr/lib/cni/* /usr/bin/ip /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi \
    /usr/lib/*-linux-gnu/xtables/*.so /etc/os-release /etc/protocols /etc/services \
    /etc/ethertypes /etc/iproute2/*; do
    add "$file"
done
# iptables is chosen here rather than through the host's /etc/alternatives: nft by default, as
# Debian 12 and Docker on it use; node-entrypoint switches the links to legacy when the node's
# network namespace already holds legacy rules (kind does the same).
for variant in nft legacy; do
    for command in iptables ip6tables; do
        for suffix in "" -save -restore; do
            ln -s xtables-$variant-multi "$root/usr/sbin/$command-$variant$suffix"
        done
    done
done
for command in iptables ip6tables; do
    for suffix in "" -save -restore; do
        ln -s xtables-nft-multi "$root/usr/sbin/$command$suffix"
    done
done

for component in "${components[@]}"; do
    cp "$bin_dir/$component" "$root/usr/local/bin/$component"
done
cp "$here/node-entrypoint" "$root/usr/local/bin/node-entrypoint"
chmod 0755 "$root/usr/local/bin/"*

# Shared libraries: ldd of every ELF file in the image (the xtables modules included, which
# iptables dlopens and so never shows in its own ldd). ldd already follows dependencies of
# dependencies, and prints the dynamic loader as a bare path.
is_elf() { [[ "$(head -c 4 "$1" | tr -d '\0')" == $'\x7fELF' ]]; }
find "$root" -type f | while read -r file; do
    if is_elf "$file"; then ldd "$file" || true; fi
done >"$work/ldd"
if grep 'not found' "$work/ldd" >&2; then
    echo "$0: shared libraries missing on this host" >&2
    exit 1
fi
while read -r library; do
    add "$library"
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(0x/ {print $1}' "$work/ldd" |
    sort -u)

# busybox-static for the shell, mount and the small tools; a real binary of the same name wins
# in PATH. But Debian's busybox sh runs its own applets before searching PATH, so `sh -c 'ip ...'`
# gets busybox's ip: scripts in the node that need iproute2's must name /usr/bin/ip.
cp /bin/busybox "$root/usr/bin/busybox"
while read -r applet; do
    name=$(basename "$applet")
    [[ -e $root/usr/bin/$name || -e $root/usr/sbin/$name ]] && continue
    case $applet in
        sbin/* | usr/sbin/*) ln -s ../bin/busybox "$root/usr/sbin/$name" ;;
        *) ln -s busybox "$root/usr/bin/$name" ;;
    esac
done < <(/bin/busybox --list-full)

mkdir -p "$root"/{dev,proc,sys,run,tmp,root,opt/images,var/log,var/lib/containerd} \
    "$root"/etc/{containerd,cni/net.d}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
    >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' \
    'networks: files' 'protocols: files' 'services: files' >"$root/etc/nsswitch.conf"
# The cluster DNS server runs as pods, from an image of its own: the binary, its libraries and
# little else, added to the test images' tarball that every node imports at boot.
dns_root=$work/dns-rootfs
mkdir -p "$dns_root"/usr/{bin,lib,lib64,local/bin} "$dns_root"/{etc,tmp}
for dir in bin lib lib64; do
    ln -s "usr/$dir" "$dns_root/$dir"
done
chmod 1777 "$dns_root/tmp"
cp "$bin_dir/dns" "$dns_root/usr/local/bin/dns"
(
    root=$dns_root
    while read -r library; do
        add "$library"
    done < <(ldd "$bin_dir/dns" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(0x/ {print $1}' | sort -u)
)
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dns_root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$dns_root/etc/group"
images_tar=$("$repo/scripts/build-test-images.sh" "$out_dir/test-images" \
    localhost/cluster-dns:local "$dns_root" '{"Entrypoint":["/usr/local/bin/dns"],"User":"0"}')
cp "$images_tar" "$root/opt/images/images.tar"
# The same image runs a cluster's local registry (`cluster create --registry`): Debian's
# docker-registry, plain HTTP, its blobs on the container's own disk.
mkdir -p "$root/etc/docker/registry" "$root/var/lib/registry"
printf '%s\n' 'version: 0.1' 'storage:' '  filesystem:' '    rootdirectory: /var/lib/registry' 'http:' '  addr: :5000' \
    >"$root/etc/docker/registry/config.yml"

echo "$0: importing $tag" >&2
# Sorted entries, epoch mtimes and root owners: the same inputs make the same layer. The tar is
# streamed into docker rather than written out. The VOLUME keeps containerd's overlay snapshots
# off the container's own overlay root (where they fail with "invalid argument") even when the
# caller forgets its own -v; remove node containers with `docker rm -v`.
tar --create --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --directory="$root" . |
    docker import \
        --change 'ENTRYPOINT ["/usr/local/bin/node-entrypoint"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'VOLUME /var/lib/containerd' \
        --change "LABEL $label=$inputs" \
        - "$tag" >/dev/null
docker image inspect --format '{{.Id}}' "$tag"
