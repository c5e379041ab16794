#!/usr/bin/env bash
# Fetches the reference docker-proxy (Debian's docker.io package, docker-proxy 20.10) into
# .cache/go-docker-proxy and prints the absolute path of the binary. Idempotent: when the
# binary is already there, nothing is downloaded.
# Usage: DOCKER_PROXY_BIN=$(bash test/ref/fetch-go-proxy.sh) DOCKER_PROXY_REF=go-20.10 node --import tsx --test ...
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="$repo_root/.cache/go-docker-proxy"
bin="$dest/usr/sbin/docker-proxy"

if [[ ! -x "$bin" ]]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # so that apt can drop privileges to _apt while downloading
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes into the current directory; progress goes to stderr so that
  # stdout carries only the path.
  if ! (cd "$tmp" && apt-get download docker.io) >&2; then
    # An empty or stale package list is the usual cause; refresh it once and retry.
    apt-get update >&2
    (cd "$tmp" && apt-get download docker.io) >&2
  fi
  deb=$(find "$tmp" -maxdepth 1 -name 'docker.io_*.deb' -print -quit)
  [[ -n "$deb" ]] || { echo "fetch-go-proxy: apt-get download produced no docker.io .deb" >&2; exit 1; }
  mkdir -p "$dest"
  dpkg -x "$deb" "$dest"
  [[ -x "$bin" ]] || { echo "fetch-go-proxy: $deb has no usr/sbin/docker-proxy" >&2; exit 1; }
fi

echo "$bin"
