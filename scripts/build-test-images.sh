#!/usr/bin/env bash
# Builds the container images the tests run on containerd, without a Docker daemon or registry:
#   localhost/pause:local    a static pause binary (scripts/images/pause.c), entrypoint /pause
#   localhost/busybox:local  Debian's static busybox with a /bin symlink per applet, cmd sh
# Both go into one docker-archive tarball (the format `docker save` writes and
# `ctr images import` reads): OUTDIR/images.tar, whose path is printed on stdout.
# The build is reproducible (fixed timestamps and owners), so the image digests only change with
# the inputs. When OUTDIR/images.tar was built from the same inputs (this script, pause.c, the
# busybox binary) it does nothing. The tarball is written aside and renamed into place, so a
# concurrent caller sees the old tarball or the new one, never half of one.
# More images may be added to the same tarball, each as NAME ROOTFS CONFIG_JSON (a directory
# to take whole as the image's one layer, and the image config's "config" object); the node image
# adds the cluster DNS server's this way.
# Needs: bash, coreutils, tar, gcc and libc6-dev (for -static), busybox-static, dpkg.
# Usage: scripts/build-test-images.sh OUTDIR [NAME ROOTFS CONFIG_JSON]...
set -euo pipefail
umask 022
export LC_ALL=C

if (($# < 1 || ($# - 1) % 3 != 0)); then
    echo "usage: $0 OUTDIR [NAME ROOTFS CONFIG_JSON]..." >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=$here/$(basename "${BASH_SOURCE[0]}")
pause_source=$here/images/pause.c
busybox=/bin/busybox
out_dir=$1
shift
extra=("$@")
out=$out_dir/images.tar
stamp=$out_dir/images.tar.inputs

mkdir -p "$out_dir"
extra_inputs=""
for ((i = 0; i < ${#extra[@]}; i += 3)); do
    extra_inputs+="${extra[i]} ${extra[i + 2]} $(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "${extra[i + 1]}" -cf - . | sha256sum | cut -d' ' -f1)"$'\n'
done
inputs=$( (sha256sum "$script" "$pause_source" "$busybox" | cut -d' ' -f1; printf '%s' "$extra_inputs") | sha256sum | cut -d' ' -f1)
if [[ -f $out && -f $stamp && "$(cat "$stamp")" == "$inputs" ]]; then
    echo "$out"
    exit 0
fi

# In OUTDIR, so that the final renames stay on one filesystem and are atomic.
work=$(mktemp -d "$out_dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
archive=$work/archive
mkdir "$archive"

# The same bytes for the same files: sorted entries, epoch mtimes, root-owned.
reproducible_tar() {
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "$@"
}

# layer ROOTFS: stores ROOTFS as ARCHIVE/<diff id>/layer.tar and prints the diff id.
layer() {
    local rootfs=$1 tar_file=$work/layer.tar diff_id
    local entries=()
    mapfile -t entries < <(cd "$rootfs" && ls -A)
    reproducible_tar --create --file="$tar_file" --directory="$rootfs" -- "${entries[@]}"
    diff_id=$(sha256sum "$tar_file" | cut -d' ' -f1)
    mkdir -p "$archive/$diff_id"
    mv "$tar_file" "$archive/$diff_id/layer.tar"
    echo "$diff_id"
}

# image CONFIG_JSON DIFF_ID: writes the image config (named, as docker save does, by its own
# digest) and prints its file name.
image_config() {
    local config=$1 diff_id=$2 config_file=$work/config.json digest
    printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"scripts/build-test-images.sh"}]}' \
        "$architecture" "$config" "$diff_id" >"$config_file"
    digest=$(sha256sum "$config_file" | cut -d' ' -f1)
    mv "$config_file" "$archive/$digest.json"
    echo "$digest.json"
}

architecture=$(dpkg --print-architecture)

pause_root=$work/pause
mkdir "$pause_root"
gcc -static -Os -s -Wall -Wextra -Werror -o "$pause_root/pause" "$pause_source"
pause_layer=$(layer "$pause_root")
pause_config=$(image_config '{"Entrypoint":["/pause"]}' "$pause_layer")

busybox_root=$work/busybox
mkdir -p "$busybox_root"/{bin,dev,etc,proc,root,sys,tmp,var}
chmod 1777 "$busybox_root/tmp"
chmod 0700 "$busybox_root/root"
cp "$busybox" "$busybox_root/bin/busybox"
chmod 0755 "$busybox_root/bin/busybox"
while read -r applet; do
    [[ $applet == busybox ]] || ln -s busybox "$busybox_root/bin/$applet"
done < <("$busybox" --list)
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
    >"$busybox_root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$busybox_root/etc/group"
busybox_layer=$(layer "$busybox_root")
busybox_config=$(image_config \
    '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}' \
    "$busybox_layer")

manifest=$(printf '{"Config":"%s","RepoTags":["localhost/pause:local"],"Layers":["%s/layer.tar"]},{"Config":"%s","RepoTags":["localhost/busybox:local"],"Layers":["%s/layer.tar"]}' \
    "$pause_config" "$pause_layer" "$busybox_config" "$busybox_layer")
repositories=$(printf '"localhost/pause":{"local":"%s"},"localhost/busybox":{"local":"%s"}' "$pause_layer" "$busybox_layer")
for ((i = 0; i < ${#extra[@]}; i += 3)); do
    name=${extra[i]} extra_layer=$(layer "${extra[i + 1]}")
    extra_config=$(image_config "${extra[i + 2]}" "$extra_layer")
    manifest+=$(printf ',{"Config":"%s","RepoTags":["%s"],"Layers":["%s/layer.tar"]}' "$extra_config" "$name" "$extra_layer")
    repositories+=$(printf ',"%s":{"%s":"%s"}' "${name%:*}" "${name##*:}" "$extra_layer")
done
printf '[%s]\n' "$manifest" >"$archive/manifest.json"
printf '{%s}\n' "$repositories" >"$archive/repositories"

mapfile -t entries < <(cd "$archive" && ls -A)
reproducible_tar --create --file="$work/images.tar" --directory="$archive" -- "${entries[@]}"
echo "$inputs" >"$work/inputs"
# The tarball first: a caller that sees the new stamp also sees the new tarball.
mv -f "$work/images.tar" "$out"
mv -f "$work/inputs" "$stamp"
echo "$out"
