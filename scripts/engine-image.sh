#!/usr/bin/env bash
# Builds the engine suite's test image without any registry: a rootfs of the machine's static
# busybox (all applets linked) plus socat with every shared library ldd names, fed to
# `docker import`. About 12 MB; takes well under a second.
#   engine-image.sh DOCKER_SOCKET TAG
set -euo pipefail

sock=${1:?usage: engine-image.sh DOCKER_SOCKET TAG}
tag=${2:?usage: engine-image.sh DOCKER_SOCKET TAG}
DOCKER=${DOCKER_CLI:-/usr/bin/docker}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/www"
if ldd /bin/busybox >/dev/null 2>&1; then
  echo "engine-image: /bin/busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
done
socat=$(command -v socat)
cp "$socat" "$root/bin/socat"
# Each library at the path the dynamic loader asks for, the loader itself included.
for lib in $(ldd "$socat" | grep -oE '/[^ ]+'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
tar -C "$root" -c . | "$DOCKER" -H "unix://$sock" import - "$tag" >/dev/null
