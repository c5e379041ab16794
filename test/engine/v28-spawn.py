#!/usr/bin/env python3
"""Starts docker-proxy exactly as a moby v28+ dockerd does, without dockerd.

Socket (daemon/libnetwork/portallocator/osallocator_linux.go):
  TCP: SOCK_STREAM|SOCK_CLOEXEC, SO_REUSEADDR=1, a drop-all cBPF filter, IPV6_V6ONLY=1 for v6,
       bind, listen(fd, -1) (the kernel caps it at net.core.somaxconn).
  UDP: SOCK_DGRAM|SOCK_CLOEXEC, the drop filter before bind, IPV6_V6ONLY=1 for v6,
       IP_PKTINFO=1 / IPV6_RECVPKTINFO=1, bind; no SO_REUSEADDR.
  The filter is detached just before the proxy starts.
Spawn (daemon/libnetwork/portmapper/proxy_linux.go, StartProxy): argv is
  [proxy, -proto, P, -host-ip, HIP, -host-port, HP, -container-ip, CIP, -container-port, CP,
  -use-listen-fd]; fd 3 is the write end of a pipe, fd 4 the socket; stdin, stdout and stderr are
  /dev/null; Pdeathsig is SIGTERM. The daemon closes its copies of the write end and, after the
  status, of the socket. Status: ONE read of up to 2 bytes; unless it is "0\\n", read the rest
  until EOF and make dockerd's error text. Stop: SIGINT, then wait; only exit status 0 is clean.

Prints JSON lines: bound {port, backlog}, status {ok, head, rest, error, ms}, fd3 {closed,
extra} (after a good status: the proxy must close fd 3), exit {code, signal, stopped, ms}.
SIGINT or SIGTERM to this script is forwarded to the proxy as SIGINT.
"""
import argparse
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
IP_PKTINFO = 8
IPV6_RECVPKTINFO = 49
STATUS_TIMEOUT_S = 16  # StartProxy gives up after 16 seconds
STOP_TIMEOUT_S = 10  # dockerd waits forever; a test must not


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f'{what}: {os.strerror(err)}')


def attach_drop_filter(sock):
    # One cBPF instruction, BPF_RET|BPF_K with k=0: accept zero bytes of every packet.
    insn = struct.pack('=HBBI', 0x06, 0, 0, 0)
    buf = ctypes.create_string_buffer(insn)
    prog = struct.pack('=HxxxxxxQ', 1, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)
    return buf  # the kernel copied it; keep it alive until then anyway


def make_socket(proto, host_ip, port):
    family = socket.AF_INET6 if ':' in host_ip else socket.AF_INET
    if proto == 'tcp':
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        attach_drop_filter(sock)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host_ip, port))
        # Python's listen() turns -1 into 0; the daemon's listen(-1) means "somaxconn".
        check(libc.listen(sock.fileno(), -1), 'listen')
    else:
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        attach_drop_filter(sock)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.bind((host_ip, port))
    return sock


def read_status(rfd, passed_socket):
    """StartProxy's handshake: one read of up to 2 bytes, then the rest if that was not 0\\n."""
    ready, _, _ = select.select([rfd], [], [], STATUS_TIMEOUT_S)
    if not ready:
        return b'', b'', 'timed out starting the userland proxy'
    head = os.read(rfd, 2)
    if head == b'0\n':
        return head, b'', None
    rest = b''
    while True:
        ready, _, _ = select.select([rfd], [], [], STATUS_TIMEOUT_S)
        chunk = os.read(rfd, 65536) if ready else b''
        if not chunk:
            break
        rest += chunk
    if passed_socket and head == b'' and rest == b'':
        return head, rest, 'failed to start docker-proxy, check that the current version is in your $PATH'
    return head, rest, 'error starting userland proxy: ' + rest.decode(errors='replace')


def wait_closed(rfd, seconds=5):
    """After a good status the proxy must close fd 3: the read end then sees EOF."""
    extra = b''
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([rfd], [], [], max(0, end - time.monotonic()))
        if not ready:
            return False, extra
        chunk = os.read(rfd, 65536)
        if not chunk:
            return True, extra
        extra += chunk
    return False, extra


def seal_fds():
    """Marks every fd this script inherited (beyond 0-2) close-on-exec, so none reaches the proxy."""
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the fd listdir itself used, closed by now


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--proxy', required=True)
    ap.add_argument('--proto', choices=['tcp', 'udp'], required=True)
    ap.add_argument('--host-ip', required=True)
    ap.add_argument('--host-port', type=int, default=0)
    ap.add_argument('--container-ip', required=True)
    ap.add_argument('--container-port', type=int, required=True)
    ap.add_argument('--socket-proto', choices=['tcp', 'udp'], help='make the fd 4 socket of this type instead')
    ap.add_argument('--stderr', default=os.devnull, help="the proxy's stderr (dockerd gives /dev/null)")
    args = ap.parse_args()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # die with the test; the proxy then dies with us
    seal_fds()

    sock = make_socket(args.socket_proto or args.proto, args.host_ip, args.host_port)
    port = sock.getsockname()[1]
    emit(event='bound', port=port)
    rfd, wfd = os.pipe()
    # High close-on-exec copies, so that the dup2 onto 3 and 4 in the child cannot clobber them.
    wcopy = fcntl.fcntl(wfd, fcntl.F_DUPFD_CLOEXEC, 10)
    scopy = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
    argv = [args.proxy, '-proto', args.proto, '-host-ip', args.host_ip, '-host-port', str(port),
            '-container-ip', args.container_ip, '-container-port', str(args.container_port), '-use-listen-fd']

    def child_setup():
        # os.dup2 clears close-on-exec on 3 and 4; every other fd has it set (see seal_fds), so
        # the proxy gets exactly fds 0-4, like Go's ExtraFiles.
        os.dup2(wcopy, 3)
        os.dup2(scopy, 4)
        # dockerd starts the proxy with default dispositions and an empty mask, whatever this
        # script inherited (a shell's `&` makes SIGINT ignored, and an ignored signal survives exec).
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    started = time.monotonic()
    with open(os.devnull, 'rb') as null_in, open(os.devnull, 'wb') as null_out, open(args.stderr, 'ab') as err:
        proc = subprocess.Popen(argv, stdin=null_in, stdout=null_out, stderr=err, close_fds=False,
                                preexec_fn=child_setup)
    for fd in (wfd, wcopy, scopy):
        os.close(fd)

    stop = {'at': None, 'killed': False}

    def forward(_signum, _frame):
        if stop['at'] is None:
            stop['at'] = time.monotonic()
            proc.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)

    head, rest, error = read_status(rfd, passed_socket=True)
    emit(event='status', ok=error is None, head=head.decode(errors='replace'), rest=rest.decode(errors='replace'),
         error=error, ms=round((time.monotonic() - started) * 1000, 1))
    sock.close()  # the daemon closes its copy once the proxy has answered
    if error is None:
        closed, extra = wait_closed(rfd)
        emit(event='fd3', closed=closed, extra=extra.decode(errors='replace'))
    os.close(rfd)

    while proc.poll() is None:
        if stop['at'] is not None and time.monotonic() - stop['at'] > STOP_TIMEOUT_S and not stop['killed']:
            stop['killed'] = True
            proc.kill()
        time.sleep(0.02)
    status = proc.returncode
    emit(event='exit', code=status if status >= 0 else None, signal=-status if status < 0 else None,
         stopped=stop['at'] is not None, killed=stop['killed'],
         ms=round((time.monotonic() - stop['at']) * 1000, 1) if stop['at'] is not None else None)
    return 0


if __name__ == '__main__':
    sys.exit(main())
