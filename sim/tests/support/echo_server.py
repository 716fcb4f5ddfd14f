"""A real TCP and UDP echo server with Python's socket module, for the socket tests.

Usage: python3 echo_server.py LOGDIR CERT KEY
Prints "tcp PORT", "udp PORT" and "tls PORT" (all on 127.0.0.1; TLS with CERT and KEY, PEM,
Python's ssl module) once listening, then echoes every TCP (and TLS)
connection and every UDP datagram back. Each TCP connection's received bytes are appended to
LOGDIR/tcp-N (N counts connections from 0); each datagram to LOGDIR/udp, prefixed with its
4-byte big-endian length. A line "close N" on stdin closes TCP connection N (the server side
ends it, so the module sees the peer close); EOF on stdin stops the server.
"""

import os
import socket
import ssl
import struct
import sys
import threading
import time

logdir = sys.argv[1]
lock = threading.Lock()
conns = {}


def serve_tcp(conn, n, name="tcp"):
    path = os.path.join(logdir, "%s-%d" % (name, n))
    with open(path, "ab") as log:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                conn.close()
                return
            log.write(data)
            log.flush()
            try:
                conn.sendall(data)
            except OSError:
                return


def accept(listener, tls=None):
    n = 0
    while True:
        conn, _ = listener.accept()
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                continue
        if tls is None:
            with lock:
                conns[n] = conn
        name = "tcp" if tls is None else "tls"
        threading.Thread(target=serve_tcp, args=(conn, n, name), daemon=True).start()
        n += 1


def serve_udp(sock):
    with open(os.path.join(logdir, "udp"), "ab") as log:
        while True:
            data, peer = sock.recvfrom(65536)
            log.write(struct.pack(">I", len(data)) + data)
            log.flush()
            sock.sendto(data, peer)


tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", 0))
tcp.listen(16)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
tls_listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tls_listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tls_listener.bind(("127.0.0.1", 0))
tls_listener.listen(16)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(sys.argv[2], sys.argv[3])
threading.Thread(target=accept, args=(tcp,), daemon=True).start()
threading.Thread(target=accept, args=(tls_listener, tls), daemon=True).start()
threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
print("tcp %d" % tcp.getsockname()[1], flush=True)
print("udp %d" % udp.getsockname()[1], flush=True)
print("tls %d" % tls_listener.getsockname()[1], flush=True)
for line in sys.stdin:
    words = line.split()
    if len(words) == 2 and words[0] == "close":
        # The module says CONNECT OK once the kernel has the connection; this server's accept
        # thread may register it later on a loaded machine: wait for it (bounded), don't skip.
        c = None
        for _ in range(200):
            with lock:
                c = conns.get(int(words[1]))
            if c is not None:
                break
            time.sleep(0.05)
        if c is not None:
            c.shutdown(socket.SHUT_RDWR)
            print("closed %s" % words[1], flush=True)
        else:
            print("no connection %s" % words[1], flush=True)
