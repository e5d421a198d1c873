"""A byte-counting TCP proxy for the benchmark, optionally shaping the link (delay, rate cap).

    with CountingProxy(target_port) as proxy:        # listens on 127.0.0.1:random
        proxy.reset()
        ... point a client at proxy.port ...
        figures = proxy.snapshot()   # {"down": server->client bytes, "up": ..., "turns": ...}

Counting happens when bytes are handed to the receiving side, so with a shaped link the figures
are what the client has actually received by then. "turns" counts the times a client sent
something after having received data on that connection: with one outstanding command at a
time that is the number of round trips (the TLS handshake adds one or two).

Unshaped, each direction is one thread doing recv/sendall, which on loopback costs well under a
millisecond per round trip. Shaped, a reader thread stamps chunks with their delivery time
(serialised at `rate_bps` through a bottleneck shared by the direction, then `delay` later) and
a writer thread delivers them on time.
"""
from __future__ import annotations

import collections
import socket
import threading
import time
from dataclasses import dataclass, field

CHUNK = 65536
SHAPED_CHUNK = 16384  # finer pieces keep a rate-capped stream smooth


@dataclass
class Connection:
    id: int
    opened: float
    down: int = 0  # server -> client bytes
    up: int = 0  # client -> server bytes
    turns: int = 0
    closed: float | None = None
    last: str = ""  # direction of the last chunk: "up" or "down"
    ended: int = 0  # directions that have finished
    sockets: list[socket.socket] = field(default_factory=list, repr=False)


class CountingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", *,
                 delay: float = 0.0, rate_bps: float | None = None, host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay, self.rate_bps = delay, rate_bps
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(0.2)
        self.host, self.port = host, self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[Connection] = []
        self._ids = 0
        self._accept = threading.Thread(target=self._serve, name="proxy-accept", daemon=True)
        self._accept.start()

    @property
    def shaped(self) -> bool:
        return self.delay > 0 or bool(self.rate_bps)

    # -- counters ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Zero every counter; closed connections are forgotten, open ones start again from 0."""
        with self._lock:
            self._conns = [c for c in self._conns if c.closed is None]
            for conn in self._conns:
                conn.down = conn.up = conn.turns = 0

    def snapshot(self) -> dict:
        """Totals since the last reset, and per connection."""
        with self._lock:
            conns = [{"id": c.id, "down": c.down, "up": c.up, "turns": c.turns,
                      "open": c.closed is None} for c in self._conns]
        return {"down": sum(c["down"] for c in conns), "up": sum(c["up"] for c in conns),
                "turns": sum(c["turns"] for c in conns), "connections": len(conns),
                "per_connection": conns}

    def _count(self, conn: Connection, direction: str, size: int) -> None:
        with self._lock:
            if direction == "up":
                conn.up += size
                if conn.last == "down":
                    conn.turns += 1
            else:
                conn.down += size
            conn.last = direction

    # -- forwarding -------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._ids += 1
                conn = Connection(self._ids, time.monotonic(), sockets=[client, upstream])
                self._conns.append(conn)
            pump = self._shaped_pump if self.shaped else self._pump
            for src, dst, direction in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(target=pump, args=(conn, src, dst, direction),
                                 name=f"proxy-{conn.id}-{direction}", daemon=True).start()

    def _pump(self, conn: Connection, src: socket.socket, dst: socket.socket,
              direction: str) -> None:
        try:
            while chunk := src.recv(CHUNK):
                self._seen(conn, direction, chunk)
                self._count(conn, direction, len(chunk))
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._half_close(conn, src, dst)

    def _seen(self, conn: Connection, direction: str, chunk: bytes) -> None:
        """Each chunk as it passes (unshaped links): for subclasses that look into the bytes."""

    def _shaped_pump(self, conn: Connection, src: socket.socket, dst: socket.socket,
                     direction: str) -> None:
        queue: collections.deque[tuple[float, bytes | None]] = collections.deque()
        ready = threading.Condition()
        writer = threading.Thread(target=self._deliver, args=(conn, dst, direction, queue, ready),
                                  daemon=True)
        writer.start()
        link_free = 0.0  # when the bottleneck finishes serialising what it already has
        try:
            while chunk := src.recv(CHUNK):
                now = time.monotonic()
                for start in range(0, len(chunk), SHAPED_CHUNK):
                    piece = chunk[start:start + SHAPED_CHUNK]
                    if self.rate_bps:
                        link_free = max(link_free, now) + len(piece) * 8 / self.rate_bps
                        due = link_free + self.delay
                    else:
                        due = now + self.delay
                    with ready:
                        queue.append((due, piece))
                        ready.notify()
        except OSError:
            pass
        finally:
            with ready:
                queue.append((0.0, None))  # end of stream, after everything queued
                ready.notify()
            writer.join(timeout=120)
            self._half_close(conn, src, dst)

    def _deliver(self, conn: Connection, dst: socket.socket, direction: str,
                 queue: collections.deque, ready: threading.Condition) -> None:
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, piece = queue.popleft()
            if piece is None or self._stop.is_set():
                return
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self._count(conn, direction, len(piece))
                dst.sendall(piece)
            except OSError:
                return

    def _half_close(self, conn: Connection, src: socket.socket, dst: socket.socket) -> None:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            conn.ended += 1
            if conn.ended < 2:
                return  # the other direction closes the sockets when it ends
            conn.closed = time.monotonic()
        for sock in conn.sockets:
            sock.close()

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        self._accept.join(timeout=2)
        self.listener.close()
        with self._lock:
            for conn in self._conns:
                for sock in conn.sockets:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
