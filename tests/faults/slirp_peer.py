# SPDX-License-Identifier: BSD-2-Clause
"""slirp_peer.py - the guest's and the host's side of fault_slirp.sh.

   python3 slirp_peer.py refused HOST PORT N   connect N times to a port
                                               nobody listens on
   python3 slirp_peer.py udp HOST PORT N       N datagrams to such a port
   python3 slirp_peer.py resetter PORT         (host) accept, read a
                                               little, reset (SO_LINGER 0)
   python3 slirp_peer.py push HOST PORT N      N connections that send
                                               until the remote resets
   python3 slirp_peer.py ended HOST PORT N     N connections (to a hostfwd
                                               whose guest port is closed)
                                               that must end

Each prints one line: what happened to how many tries, and the slowest;
exits 1 when a try hung (no answer within LIMIT seconds) or ended in a
way the case rules out.
"""
import socket
import struct
import sys
import time

LIMIT = 3.0


def timed(fn, n):
    """Runs fn() n times; returns {outcome: count} and the slowest try."""
    seen, slow = {}, 0.0
    for _ in range(n):
        t0 = time.monotonic()
        try:
            out = fn()
        except OSError as e:
            out = type(e).__name__
        slow = max(slow, time.monotonic() - t0)
        seen[out] = seen.get(out, 0) + 1
    return seen, slow


def connect_once(host, port):
    with socket.create_connection((host, port), timeout=LIMIT):
        return "connected"


def udp_once(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.connect((host, port))
        # a DNS query for "example." (type A), harmless to any listener
        s.send(struct.pack(">HHHHHH", 0x1234, 0x100, 1, 0, 0, 0) +
               b"\x07example\x00\x00\x01\x00\x01")
        s.recv(2048)
        return "answered"


def push_once(host, port):
    with socket.create_connection((host, port), timeout=LIMIT) as s:
        end = time.monotonic() + LIMIT
        while time.monotonic() < end:
            s.sendall(b"x" * 65536)
        return "never-reset"


def ended_once(host, port):
    with socket.create_connection((host, port), timeout=LIMIT) as s:
        s.settimeout(LIMIT)
        return "eof" if s.recv(1) == b"" else "data"


def resetter(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = srv.accept()
        c.recv(4096)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        c.close()


def main():
    case = sys.argv[1]
    if case == "resetter":
        resetter(int(sys.argv[2]))
        return 0
    host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fn, allowed = {
        "refused": (connect_once, {"ConnectionRefusedError"}),
        "udp": (udp_once, {"ConnectionRefusedError", "TimeoutError",
                           "answered"}),
        "push": (push_once, {"ConnectionResetError", "BrokenPipeError"}),
        "ended": (ended_once, {"eof", "ConnectionResetError"}),
    }[case]
    seen, slow = timed(lambda: fn(host, port), n)
    print("%s %s:%d x%d: %s; slowest %.2f s" % (
        case, host, port, n,
        ", ".join("%s %d" % kv for kv in sorted(seen.items())), slow))
    bad = set(seen) - allowed
    if bad:
        print("unexpected: %s" % ", ".join(sorted(bad)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
