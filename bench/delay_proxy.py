#!/usr/bin/env python3
"""A TCP proxy that holds every chunk for a fixed delay each way: a network RTT without a network.

    python3 bench/delay_proxy.py --target 127.0.0.1:5432 --delay-ms 1   # RTT 2 ms
    python3 bench/delay_proxy.py --target 127.0.0.1:5432 --delay-ms 0   # the baseline

It prints `listening on HOST:PORT` once it accepts, then serves until SIGTERM. bench/run.py
starts one per RTT in front of its PostgreSQL, so a difference between two runs through the
proxies is network time only: both pay the same thread hand-offs.

Each direction of each connection is a reader thread and a writer thread with a queue between
them. The reader stamps a chunk with its due time (arrival + delay); the writer sleeps until
then and sends it. Chunks stay in order, and a chunk waits only for its own delay, never for
the chunks before it: a burst of 50 messages arrives 1 ms later, not 50 ms later, as on a link
with latency and no bandwidth limit. Threads, not asyncio: asyncio's epoll timeouts have
millisecond granularity, which is the size of the delay itself; time.sleep does not.

The connection to the target is made one delay after the client's is accepted: on a link, the
server's accept() returns when the client's last handshake ACK arrives, together with the
client's first bytes. Connecting at once let PostgreSQL fork and start the backend while the
first message was still on its way, which hid up to one delay of the server's start-up from
every count: against the 0 ms proxy, the 2 ms one added 1.4-1.7 ms to psql's startup reply and
2.0-2.1 ms to its query reply (paired medians, two sets of 40 interleaved runs); connecting one
delay later, 1.9-2.1 ms to the startup reply. What the server still gains is the client's own
time between connect() and its first write, as on a link. The TCP handshake's own round trip
is still not modelled: the client's connect() returns at once.
"""

import argparse
import os
import queue
import signal
import socket
import sys
import threading
import time

CHUNK = 256 * 1024


def nodelay(sock):
    # Without it, Nagle's algorithm holds a small write back until the previous one is
    # acknowledged: a delayed ACK would add up to 40 ms that no real link adds.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Connection:
    def __init__(self, client, target, delay):
        self.client, self.target, self.delay = client, target, delay
        self.accepted = time.monotonic()
        self.server = None
        self.lock = threading.Lock()
        self.open_directions = 2

    def start(self):
        # The client's bytes are read and stamped from the start, as the link carries them
        # while the server has yet to accept.
        upstream = queue.SimpleQueue()
        threading.Thread(target=self.read, args=(self.client, upstream), daemon=True).start()
        threading.Thread(target=self.dial, args=(upstream,), daemon=True).start()

    def dial(self, upstream):
        wait = self.accepted + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            self.server = socket.create_connection(self.target)
        except OSError:
            try:
                self.client.shutdown(socket.SHUT_RDWR)  # wakes the reader, which then ends
            except OSError:
                pass
            self.client.close()
            return
        nodelay(self.server)
        downstream = queue.SimpleQueue()
        threading.Thread(target=self.write, args=(self.server, upstream), daemon=True).start()
        threading.Thread(target=self.read, args=(self.server, downstream), daemon=True).start()
        threading.Thread(target=self.write, args=(self.client, downstream), daemon=True).start()

    def read(self, src, q):
        while True:
            try:
                data = src.recv(CHUNK)
            except OSError:
                data = b""
            q.put((time.monotonic() + self.delay, data))
            if not data:
                return

    def write(self, dst, q):
        failed = False
        while True:
            due, data = q.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                break
            if failed:
                continue  # drain until the reader's end, so that it never blocks on us
            try:
                dst.sendall(data)
            except OSError:
                failed = True
        try:
            # The peer's FIN travels with the same delay as its data, and only this direction.
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            self.open_directions -= 1
            done = self.open_directions == 0
        if done or failed:
            for s in (self.client, self.server):
                try:
                    # shutdown first: close() alone does not wake a thread blocked in recv.
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def serve(listen, target, delay):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(listen)
    lsock.listen(512)
    host, port = lsock.getsockname()
    print(f"listening on {host}:{port}", flush=True)
    while True:
        client, _ = lsock.accept()
        nodelay(client)
        Connection(client, target, delay).start()


def host_port(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port)")
    p.add_argument("--target", required=True, help="HOST:PORT to forward to")
    p.add_argument("--delay-ms", type=float, required=True, help="delay each way (half the RTT)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # A link's latency does not wait for a CPU: on a machine whose cores are busy, a woken writer
    # must not queue behind a compiler, or every hop would grow by a time slice. A real-time
    # policy (inherited by the threads started later, and free of timer slack) where we may,
    # else a better nice value. The proxy never spins, so it cannot starve the cores.
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        try:
            os.nice(-10)
        except OSError:
            pass
    try:
        serve(host_port(args.listen), host_port(args.target), args.delay_ms / 1000)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
