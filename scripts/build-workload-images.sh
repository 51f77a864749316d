#!/usr/bin/env bash
# Builds the seed workloads' images without a registry: Debian rootfs by mmdebstrap, plus wheels
# from PyPI and binaries from crates.io, imported into the local Docker engine as
# localhost/seed-NAME:local; cached by their inputs (an unchanged recipe is not rebuilt). With
# --cluster NAME they are then loaded into that cluster's nodes (`cluster load-image`).
#
# Usage: scripts/build-workload-images.sh [--cluster NAME] [IMAGE...]   (default: every image)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=seed/lib.sh
source "$here/seed/lib.sh"

cluster= wanted=()
while (($#)); do
    case $1 in
        --cluster) cluster=$2; shift 2 ;;
        -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown flag $1" >&2; exit 2 ;;
        *) wanted+=("$1"); shift ;;
    esac
done
known=()
for file in "$SEED_DIR"/*.sh; do
    [[ $file == */lib.sh ]] && continue
    # shellcheck disable=SC1090
    source "$file"
    workload=$(basename "$file" .sh)
    declare -n list="${workload}_images"
    known+=("${list[@]}")
    unset -n list
done
((${#wanted[@]})) || wanted=("${known[@]}")
mkdir -p "$SEED_CACHE"
loaded=()
for image in "${wanted[@]}"; do
    [[ " ${loaded[*]} " == *" $image "* ]] && continue
    declare -F "image_$image" >/dev/null || seed_die "unknown image $image (known: ${known[*]})"
    "image_$image"
    loaded+=("$image")
done
if [[ -n $cluster ]]; then
    refs=()
    for image in "${loaded[@]}"; do refs+=("localhost/seed-$image:local"); done
    "${SEED_BINARIES}/cluster" load-image --name "$cluster" "${refs[@]}" >&2
fi
