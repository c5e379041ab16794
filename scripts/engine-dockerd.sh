#!/usr/bin/env bash
# A private Docker engine for the engine suite (test/engine), isolated from any system one:
# its own containerd, all state under one temp dir, its own bridge and cgroup parent, no
# firewall rules (--iptables=false: nothing on the host to undo; loopback traffic reaches the
# userland proxy either way, since dockerd never DNATs 127.0.0.0/8) and no sysctl change.
#
#   engine-dockerd.sh start PROXY_PATH  prints the state dir; dockerd runs with
#                                       --userland-proxy-path PROXY_PATH
#   engine-dockerd.sh stop DIR          removes containers, stops dockerd and containerd, kills
#                                       leftovers in its cgroups, unmounts, deletes bridge and DIR
#   engine-dockerd.sh reap              stops every engine whose owner process is gone
#
# The state dir holds docker.sock, dockerd.log, containerd.log and the pids. Its path is short
# on purpose: containerd's socket path must fit in a sockaddr_un (108 bytes).
set -euo pipefail

DOCKER=${DOCKER_CLI:-/usr/bin/docker} # the 20.10 client that ships with this dockerd
PREFIX=/tmp/dpe.

die() { echo "engine-dockerd: $*" >&2; exit 1; }

# Sends TERM to a pid, waits up to $2 seconds, then KILLs it.
stop_pid() {
  local pid=$1 secs=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "engine-dockerd: pid $pid ignored SIGTERM for ${secs}s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

alive() { [[ -f $1 ]] && kill -0 "$(<"$1")" 2>/dev/null; }

cmd_stop() {
  local dir=${1%/}
  [[ $dir == "$PREFIX"?????? && -d $dir ]] || die "stop: '$dir' is not an engine state dir"
  local name=dpe-${dir#"$PREFIX"} failed=0 ids cg pid mnt
  if [[ -S $dir/docker.sock ]] && alive "$dir/dockerd.pid"; then
    ids=$(timeout 30 "$DOCKER" -H "unix://$dir/docker.sock" ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086 # one argument per container id
    [[ -z $ids ]] || timeout 60 "$DOCKER" -H "unix://$dir/docker.sock" rm -f $ids >/dev/null 2>&1 || true
  fi
  if [[ -f $dir/dockerd.pid ]]; then stop_pid "$(<"$dir/dockerd.pid")" 20; fi
  if [[ -f $dir/containerd.pid ]]; then stop_pid "$(<"$dir/containerd.pid")" 10; fi
  # Whatever is still alive in this engine's cgroups (container processes) was started by it.
  for cg in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [[ -d $cg ]] || continue
    for pid in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [[ ! -d $cg ]] || { echo "engine-dockerd: cannot remove cgroup $cg" >&2; failed=1; }
  done
  # containerd shims live outside those cgroups; they name the engine's containerd socket.
  for pid in $(grep -lsF "$dir/" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [[ $pid == "$$" ]] || kill -KILL "$pid" 2>/dev/null || true
  done
  for mnt in $(awk -v d="$dir/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" || { echo "engine-dockerd: cannot unmount $mnt" >&2; failed=1; }
  done
  if ip link show "$name" >/dev/null 2>&1; then
    ip link del "$name" || { echo "engine-dockerd: cannot delete bridge $name" >&2; failed=1; }
  fi
  rm -rf "$dir" || { echo "engine-dockerd: cannot remove $dir" >&2; failed=1; }
  return "$failed"
}

cmd_reap() {
  local dir owner
  for dir in "$PREFIX"??????; do
    [[ -d $dir ]] || continue
    owner=$(cat "$dir/owner" 2>/dev/null || echo 0)
    if [[ $owner == 0 ]] || ! kill -0 "$owner" 2>/dev/null; then
      echo "engine-dockerd: reaping $dir (owner $owner is gone)" >&2
      cmd_stop "$dir" || true
    fi
  done
}

# A /24 in 172.30.0.0/16 that no interface and no route on this host uses yet.
free_subnet() {
  local n
  for n in $(seq 200 250); do
    ip -4 route show | grep -q "^172\.30\.$n\." && continue
    ip -4 -o addr show | grep -q " 172\.30\.$n\." && continue
    echo "172.30.$n"
    return 0
  done
  die "no free subnet in 172.30.200-250.0/24 for the bridge"
}

# wait_for SECONDS PIDFILE COMMAND...: until COMMAND succeeds; fails early if the process dies.
wait_for() {
  local secs=$1 pidfile=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    alive "$pidfile" || return 1
    sleep 0.1
  done
  return 1
}

STATE_DIR=
STARTED=0
# On any failure during start, tear down what was made so far (the reason is already printed).
on_exit() {
  if [[ $STARTED == 0 && -n $STATE_DIR ]]; then cmd_stop "$STATE_DIR" >/dev/null 2>&1 || true; fi
}

write_containerd_config() {
  local dir=$1
  printf '%s\n' 'version = 2' \
    "root = \"$dir/containerd/root\"" \
    "state = \"$dir/containerd/state\"" \
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
    '[grpc]' \
    "  address = \"$dir/containerd/containerd.sock\"" > "$dir/containerd.toml"
}

cmd_start() {
  local proxy=${1:-} tool dir name net why
  [[ $proxy == /* && -x $proxy ]] || die "start: the proxy must be an absolute path to an executable, got '$proxy'"
  for tool in dockerd containerd runc ip "$DOCKER"; do
    command -v "$tool" >/dev/null || die "start: $tool is not installed (run scripts/engine-install.sh)"
  done
  cmd_reap
  trap on_exit EXIT
  STATE_DIR=$(mktemp -d "${PREFIX}XXXXXX")
  dir=$STATE_DIR
  name=dpe-${dir#"$PREFIX"}
  echo "${ENGINE_OWNER_PID:-$PPID}" > "$dir/owner"

  net=$(free_subnet)
  ip link add "$name" type bridge 2>"$dir/ip.err" ||
    die "the kernel refused a bridge (ip link add $name type bridge): $(<"$dir/ip.err")"
  ip addr add "$net.1/24" dev "$name"
  ip link set "$name" up

  mkdir -p "$dir/containerd"
  write_containerd_config "$dir"
  containerd --config "$dir/containerd.toml" </dev/null >"$dir/containerd.log" 2>&1 &
  echo $! > "$dir/containerd.pid"
  wait_for 20 "$dir/containerd.pid" test -S "$dir/containerd/containerd.sock" ||
    die "containerd did not start: $(tail -5 "$dir/containerd.log")"

  echo '{}' > "$dir/daemon.json" # never read the machine's /etc/docker/daemon.json
  dockerd --config-file "$dir/daemon.json" \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    --host "unix://$dir/docker.sock" --containerd "$dir/containerd/containerd.sock" \
    --storage-driver "${ENGINE_STORAGE_DRIVER:-vfs}" --cgroup-parent "/$name" \
    --bridge "$name" --iptables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=true --userland-proxy-path "$proxy" \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  echo $! > "$dir/dockerd.pid"
  if ! wait_for 60 "$dir/dockerd.pid" "$DOCKER" -H "unix://$dir/docker.sock" version; then
    why=$(grep -E 'level=(fatal|error)|failed to start daemon' "$dir/dockerd.log" | tail -3 || true)
    die "dockerd did not start: ${why:-$(tail -5 "$dir/dockerd.log")}"
  fi
  STARTED=1
  echo "$dir"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "${1:-}" ;;
  reap) cmd_reap ;;
  *) die "usage: $0 start PROXY_PATH | stop DIR | reap" ;;
esac
