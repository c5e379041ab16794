#!/usr/bin/env bash
# Fetches the reference Go docker-proxy from Debian's docker.io package into
# .cache/go-docker-proxy (no build) and prints the binary's absolute path on stdout.
# Idempotent: nothing is downloaded when the binary is already there.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest="$repo_root/.cache/go-docker-proxy"
bin="$dest/usr/sbin/docker-proxy"

if [[ ! -x "$bin" ]]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt drops privileges to _apt while downloading
  trap 'rm -rf "$tmp"' EXIT
  # Progress goes to stderr so that stdout carries only the path.
  if ! (cd "$tmp" && apt-get download docker.io) >&2; then
    # An empty or stale package list is the usual cause: refresh once and retry.
    apt-get update >&2
    (cd "$tmp" && apt-get download docker.io) >&2
  fi
  deb=$(find "$tmp" -maxdepth 1 -name 'docker.io_*.deb' -print -quit)
  [[ -n "$deb" ]] || { echo "go-proxy.sh: apt-get download produced no docker.io .deb" >&2; exit 1; }
  mkdir -p "$dest"
  dpkg -x "$deb" "$dest"
  [[ -x "$bin" ]] || { echo "go-proxy.sh: $deb has no usr/sbin/docker-proxy" >&2; exit 1; }
fi

echo "$bin"
