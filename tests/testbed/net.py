"""Port picking and readiness checks on loopback."""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Sequence


def free_ports(count: int, hosts: Sequence[str]) -> list[int]:
    """count distinct TCP ports that are free on every one of hosts right now."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            first = socket.socket()
            first.bind((hosts[0], 0))
            held.append(first)
            port = first.getsockname()[1]
            try:
                for host in hosts[1:]:
                    other = socket.socket()
                    held.append(other)
                    other.bind((host, port))
            except OSError:
                continue
            ports.append(port)
    finally:
        # Holding every socket until the end keeps the ports distinct.
        for sock in held:
            sock.close()
    return ports


def read_greeting(host: str, port: int, *, tls: ssl.SSLContext | None = None,
                  server_hostname: str | None = None, timeout: float = 2.0) -> bytes:
    """The first line the server sends; raises OSError when it does not answer."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = tls.wrap_socket(raw, server_hostname=server_hostname or host) if tls else raw
        try:
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError(f"{host}:{port} closed before its greeting")
                data += chunk
            return data
        finally:
            if sock is not raw:
                sock.close()


def wait_for_greeting(host: str, port: int, deadline: float, expect: bytes, **kwargs) -> bytes:
    """Retry read_greeting until it starts with expect or time.monotonic() passes deadline."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            greeting = read_greeting(host, port, **kwargs)
        except OSError as exc:
            last = exc
            time.sleep(0.02)
            continue
        if greeting.startswith(expect):
            return greeting
        last = ConnectionError(f"unexpected greeting {greeting!r}")
        time.sleep(0.02)
    raise TimeoutError(f"no {expect!r} greeting from {host}:{port}: {last}")
