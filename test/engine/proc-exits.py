#!/usr/bin/env python3
"""Prints one JSON line per process that exits on this machine, with its exit status.

dockerd 20.10 reaps its docker-proxy children and throws their exit status away (it ignores
the error of Stop), so the engine suite cannot learn from dockerd whether a proxy exited 0 on
SIGINT. The kernel's process-events connector (netlink, NETLINK_CONNECTOR / CN_IDX_PROC)
reports every exit with its status, without touching the process (no ptrace). Needs root.

Output: {"event": "ready"} once subscribed, then {"pid", "ppid", "code", "signal"} per
thread-group leader that exits. Ends when stdin closes (the test that started it is gone).
"""
import json
import os
import select
import socket
import struct
import sys

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_EXIT = 0x80000000
NLMSG_DONE = 3
NLMSG_HDR = struct.Struct('=IHHII')  # len, type, flags, seq, pid
CN_MSG = struct.Struct('=IIIIHH')  # idx, val, seq, ack, len, flags
EVENT_HDR = struct.Struct('=IIQ')  # what, cpu, timestamp_ns
EXIT_EVENT = struct.Struct('=IIIIII')  # pid, tgid, exit_code, exit_signal, parent_pid, parent_tgid


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def subscribe():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
    sock.bind((os.getpid(), CN_IDX_PROC))
    op = struct.pack('=I', PROC_CN_MCAST_LISTEN)
    cn = CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
    sock.send(NLMSG_HDR.pack(NLMSG_HDR.size + len(cn), NLMSG_DONE, 0, 0, os.getpid()) + cn)
    return sock


def handle(data):
    offset = NLMSG_HDR.size + CN_MSG.size
    if len(data) < offset + EVENT_HDR.size + EXIT_EVENT.size:
        return
    what, _, _ = EVENT_HDR.unpack_from(data, offset)
    if what != PROC_EVENT_EXIT:
        return
    pid, tgid, status, _, _, ppid = EXIT_EVENT.unpack_from(data, offset + EVENT_HDR.size)
    if pid == tgid:  # the leader's exit is the process's exit; other threads are noise
        emit({'pid': pid, 'ppid': ppid, 'code': (status >> 8) & 0xFF, 'signal': status & 0x7F})


def main():
    try:
        sock = subscribe()
    except OSError as err:
        emit({'event': 'error', 'message': f'cannot subscribe to process events: {err}'})
        return 1
    emit({'event': 'ready'})
    while True:
        readable, _, _ = select.select([sock, sys.stdin], [], [])
        if sys.stdin in readable and not sys.stdin.buffer.read1(4096):
            return 0
        if sock in readable:
            handle(sock.recv(65536))


if __name__ == '__main__':
    sys.exit(main())
