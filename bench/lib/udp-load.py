"""UDP load for the bench: an unpaced sender and a counting sink, one flow, 127.0.0.1 only.

  udp-load.py send PORT SECONDS SIZE   -> {"packets": sent, "seconds": elapsed}
  udp-load.py sink PORT MAX_SECONDS    -> {"packets": received, "bytes": received_bytes}

The sink prints "ready" on stderr once bound, then stops 0.3 s after the last datagram (or at
MAX_SECONDS). Python rather than iperf3 -u: on loopback iperf3's server loses a fifth of 64-byte
datagrams with no proxy at all, while this sink keeps up with this sender.
"""
import json
import socket
import sys
import time


def send(port, seconds, size):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    payload = b"x" * size
    sent = 0
    started = time.monotonic()
    end = started + seconds
    send_one = sock.send
    while time.monotonic() < end:
        for _ in range(256):
            try:
                send_one(payload)
                sent += 1
            except OSError:  # ENOBUFS, or ECONNREFUSED from an earlier ICMP: keep offering load
                pass
    print(json.dumps({"packets": sent, "seconds": time.monotonic() - started}))


def sink(port, max_seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", port))
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    buf = bytearray(65536)
    recv_into = sock.recv_into
    packets = received = 0
    deadline = time.monotonic() + max_seconds
    sock.settimeout(0.3)
    while time.monotonic() < deadline:
        try:
            received += recv_into(buf)
            packets += 1
        except socket.timeout:
            if packets:
                break
    print(json.dumps({"packets": packets, "bytes": received}))


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "send":
        send(port, float(sys.argv[3]), int(sys.argv[4]))
    else:
        sink(port, float(sys.argv[3]))
