"""A TCP proxy that records what the client sends, to prove what did (not) leave it."""
from __future__ import annotations

import re
import socket
import threading

# A command that carries or announces a credential, at the start of a line (IMAP lines
# start with a tag). Matched on the client's bytes before TLS, where they are readable.
CREDENTIAL_COMMAND = re.compile(rb"(?im)^(?:\S+ )?(?:LOGIN|AUTHENTICATE|AUTH|USER|PASS|APOP)\b")


class RecordingProxy:
    """Listens on host:random port and forwards every connection to target_host:target_port.
    With downstream_limit, each connection is cut (both ways) once that many of the server's
    bytes have reached the client: a link that dies at a known point of an answer."""

    def __init__(self, host: str, target_host: str, target_port: int, downstream_limit: int | None = None):
        self.target = (target_host, target_port)
        self.downstream_limit = downstream_limit
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(0.2)
        self.host, self.port = host, self.listener.getsockname()[1]
        self.client_bytes = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(self.target, timeout=10)
            self.connections += 1
            self._sockets += [client, upstream]
            for src, dst, record in ((client, upstream, True), (upstream, client, False)):
                thread = threading.Thread(target=self._pump, args=(src, dst, record), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        left = None if record else self.downstream_limit
        try:
            while chunk := src.recv(65536):
                if record:
                    with self._lock:
                        self.client_bytes += chunk
                if left is not None:
                    chunk = chunk[:left]
                    left -= len(chunk)
                dst.sendall(chunk)
                if left == 0:
                    break
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> bytes:
        """Stop, wait for the pumps, and return everything the client sent."""
        self._stop.set()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)
        for sock in self._sockets:
            sock.close()
        self.listener.close()
        return bytes(self.client_bytes)

    def __enter__(self) -> "RecordingProxy":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
