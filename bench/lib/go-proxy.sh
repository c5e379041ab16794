#!/usr/bin/env bash
# The reference Go docker-proxy for the benchmarks: the same fetch as the black-box suite's
# reference run (Debian's docker.io package, apt-get download + dpkg -x into .cache/, no build).
# Prints the binary's absolute path on stdout.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../../test/ref/fetch-go-proxy.sh"
