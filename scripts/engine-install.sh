#!/usr/bin/env bash
# Installs what the engine suite (test/engine) needs from Debian's packages, if it is missing:
# dockerd 20.10 and its client (docker.io) with containerd and runc, a static busybox and socat
# for the test image, iproute2 for the bridge. Idempotent: prints nothing and downloads nothing
# when all is there. A stale package list is refreshed once (apt-get update) and the install retried.
# The suite never uses a system dockerd that a package script may start: it runs its own.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

need=()
# busybox-static, not busybox: the test image gets the binary without any shared library.
for pkg in docker.io containerd runc busybox-static socat iproute2; do
  installed "$pkg" || need+=("$pkg")
done
command -v python3 >/dev/null || need+=(python3)
((${#need[@]} == 0)) && exit 0

echo "engine-install: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${need[@]}" >&2; then
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi
