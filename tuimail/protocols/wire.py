"""The bytes under an imaplib connection, made bounded, timed and observable.

install() replaces send/readline/read/_append_untagged on one imaplib.IMAP4 instance:
- every line must end within the timeout, however slowly a server trickles it (B12, B14);
- a line is at most max_line bytes, a literal at most max_literal, and all the lines and
  literals answering one command at most max_response (B12-B14); each is a [limits] key;
- every byte goes through the ProtocolTrace when there is one;
- untagged responses are also kept in arrival order (imaplib files them by type only), so
  EXPUNGE, EXISTS and VANISHED can be applied in the order the server meant.

Reads use the socket directly (a timeout on imaplib's makefile() would leave it unusable, and
IDLE needs waits that may end with nothing read). install() is called right after a completed
command, when the server has nothing more to send, so imaplib's own buffer is empty.
"""
from __future__ import annotations

import imaplib
import select
import socket
import ssl
import time
from dataclasses import dataclass

from tuimail.model.limits import DEFAULT_LIMITS, Limits, amount, over
from tuimail.protocols.errors import WireLimit
from tuimail.protocols.trace import ProtocolTrace

__all__ = ["ImapLimits", "ImapWire", "WireLimit"]

CHUNK = 64 * 1024


@dataclass(frozen=True)
class ImapLimits:
    max_line: int = DEFAULT_LIMITS.imap_line_bytes
    max_literal: int = DEFAULT_LIMITS.imap_literal_bytes
    max_response: int = DEFAULT_LIMITS.imap_response_bytes
    max_responses: int = DEFAULT_LIMITS.imap_responses
    min_rate: int = 32 * 1024  # bytes/s a literal may not fall below, on top of the timeout

    @classmethod
    def of(cls, limits: Limits) -> "ImapLimits":
        return cls(limits.imap_line_bytes, limits.imap_literal_bytes, limits.imap_response_bytes,
                   limits.imap_responses)


class ImapWire:
    def __init__(self, imap: imaplib.IMAP4, timeout: float, trace: ProtocolTrace | None = None,
                 limits: ImapLimits = ImapLimits()):
        self.imap, self.timeout, self.trace, self.limits = imap, timeout, trace, limits
        self.responses: list[tuple[str, object]] = []  # (type, data) in arrival order
        self._buffer = b""
        self._received = 0  # bytes of lines and literals since the last command was sent
        self._append = imap._append_untagged
        self.where = ""

    def install(self) -> "ImapWire":
        imap = self.imap
        imap.send = self.send  # type: ignore[method-assign]
        imap.readline = self.readline  # type: ignore[method-assign]
        imap.read = self.read  # type: ignore[method-assign]
        imap._append_untagged = self._append_untagged  # type: ignore[method-assign]
        return self

    # imaplib's hooks -------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.imap.sock.settimeout(self.timeout)
        self.imap.sock.sendall(data)
        self._received = 0
        if self.trace is not None:
            self.trace.sent(data)

    def readline(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0 and end < self.limits.max_line:
                line, self._buffer = self._buffer[:end + 1], self._buffer[end + 1:]
                break
            if len(self._buffer) > self.limits.max_line:
                self._buffer = b""
                raise WireLimit(over("server sent a line", "imap_line_bytes", self.limits.max_line),
                                self.where)
            if not self._fill(deadline):
                line, self._buffer = self._buffer, b""  # EOF: imaplib turns b"" into an abort
                break
        self._count(len(line))
        if self.trace is not None and line:
            self.trace.received_line(line)
        return line

    def read(self, size: int) -> bytes:
        if size > self.limits.max_literal:
            raise WireLimit(f"server announced a literal of {size} bytes, over the "
                            f"{amount('imap_literal_bytes', self.limits.max_literal)} allowed "
                            "(limits.imap_literal_bytes)", self.where)
        self._count(size)
        deadline = time.monotonic() + self.timeout + size / self.limits.min_rate
        parts, have = [], 0
        if self._buffer:
            first, self._buffer = self._buffer[:size], self._buffer[size:]
            parts.append(first)
            have = len(first)
        while have < size:
            chunk = self._read_some(deadline, min(CHUNK, size - have))
            if not chunk:
                break  # EOF: imaplib then fails on the missing trailer
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if self.trace is not None:
            self.trace.received_literal(data)
        return data

    def _append_untagged(self, typ: str, dat: object) -> None:
        if len(self.responses) >= self.limits.max_responses:
            raise WireLimit(f"more than {self.limits.max_responses:,} untagged responses to one "
                            "command (limits.imap_responses)", self.where)
        self.responses.append((typ, dat))
        self._append(typ, dat)

    # Helpers for the session ------------------------------------------------------------

    def drain(self) -> list[tuple[str, object]]:
        """The untagged responses since the last drain; imaplib's own copies are dropped too."""
        responses, self.responses = self.responses, []
        self.imap.untagged_responses.clear()
        return responses

    def wait_readable(self, timeout: float) -> bool:
        """Whether a response starts within timeout seconds (for IDLE); never reads."""
        sock = self.imap.sock
        if self._buffer or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return True
        readable, _, _ = select.select([sock], [], [], max(timeout, 0))
        return bool(readable)

    def _count(self, size: int) -> None:
        self._received += size
        if self._received > self.limits.max_response:
            self._buffer = b""
            raise WireLimit(over("server response", "imap_response_bytes", self.limits.max_response),
                            self.where)

    def _fill(self, deadline: float) -> bool:
        chunk = self._read_some(deadline, CHUNK)
        self._buffer += chunk
        return bool(chunk)

    def _read_some(self, deadline: float, size: int) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("server too slow")
        self.imap.sock.settimeout(min(self.timeout, remaining))
        try:
            return self.imap.sock.recv(size)
        except socket.timeout:
            raise TimeoutError("server too slow") from None
