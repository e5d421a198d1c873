"""The bytes of a POP3 session after TLS, bounded, timed and observable (the POP3 twin of wire.py).

- A status line (and a CAPA or UIDL/LIST listing line) is at most max_status bytes: 4 KiB
  (RFC 2449 allows 512), or less when limits.pop3_line_bytes is lower. A data line is at most
  max_line; a multi-line response at most the cap its caller gives (B12-B14), the CAPA answer
  64 KiB or less when limits.pop3_response_bytes is lower. The caps a user may set come from
  [limits], and a message about a cap the key sets names the key.
- Every read has a deadline: the account's timeout for a status line, plus size/min_rate
  for a multi-line response, so neither silence nor a trickle can hold the client (B14).
- Multi-line data is dot-unstuffed here; RETR data is streamed to a sink in chunks with LF
  line ends, never held whole.
- Every byte goes through the ProtocolTrace when there is one: status and listing lines as
  lines, message data as literal-like chunks.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Callable

from tuimail.model.limits import DEFAULT_LIMITS, Limits, over
from tuimail.model.text import one_line
from tuimail.protocols.errors import ConnectError, ProtocolError, WireLimit
from tuimail.protocols.trace import ProtocolTrace

CHUNK = 64 * 1024
# Short answers keep these protocol-sized caps however high [limits] goes: a bigger cap would
# only let a trickling server hold the client longer (the deadline grows with the cap).
STATUS_CEILING = 4_096  # a status, CAPA or listing line
CAPA_CEILING = 64 * 1024  # the whole CAPA answer


@dataclass(frozen=True)
class Pop3Limits:
    max_status: int = STATUS_CEILING  # a status line, and one line of CAPA or a UIDL/LIST listing
    max_line: int = DEFAULT_LIMITS.pop3_line_bytes  # one line of message data
    max_header: int = DEFAULT_LIMITS.header_bytes  # a TOP n 0 answer
    max_message: int = DEFAULT_LIMITS.pop3_response_bytes  # a RETR answer (or listing), whatever LIST said
    max_listing_line: int = 128  # "n uidl" or "n size"
    max_capa: int = CAPA_CEILING
    min_rate: int = 32 * 1024  # bytes/s a multi-line answer may not fall below, on top of the timeout
    batch: int = 300  # pipelined commands sent before their answers are read

    @classmethod
    def of(cls, limits: Limits) -> "Pop3Limits":
        return cls(max_status=min(STATUS_CEILING, limits.pop3_line_bytes), max_line=limits.pop3_line_bytes,
                   max_header=limits.header_bytes, max_message=limits.pop3_response_bytes,
                   max_capa=min(CAPA_CEILING, limits.pop3_response_bytes))

    def status_key(self) -> str | None:
        """The [limits] key behind max_status, or None while the protocol's ceiling is lower."""
        return "pop3_line_bytes" if self.max_status >= self.max_line else None

    def answer_key(self, cap: int) -> str | None:
        """The [limits] key behind a short answer's cap (CAPA, listings), or None if it is not the key's."""
        return "pop3_response_bytes" if cap >= self.max_message else None


@dataclass(frozen=True)
class Status:
    ok: bool
    text: str  # after "+OK " / "-ERR ", controls stripped, one line
    raw: bytes = b""  # the same, as sent (for "+OK n uidl"): never shown

    def __str__(self) -> str:
        return ("+OK " if self.ok else "-ERR ") + self.text


class Pop3Wire:
    def __init__(self, sock: socket.socket, timeout: float, where: str,
                 trace: ProtocolTrace | None = None, limits: Pop3Limits = Pop3Limits()):
        self.sock, self.timeout, self.where, self.trace, self.limits = sock, timeout, where, trace, limits
        self._buffer = bytearray()
        self._pos = 0  # bytes of _buffer already consumed (cheaper than deleting every line)

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)
        if self.trace is not None:
            self.trace.sent(data)

    def status(self) -> Status:
        """One +OK/-ERR line; anything else is a protocol error."""
        line = self._line(self.limits.max_status, time.monotonic() + self.timeout, "status line",
                          key=self.limits.status_key())
        if self.trace is not None:
            self.trace.received_line(line)
        text = line.rstrip(b"\r\n")
        if text.startswith(b"+OK") and text[3:4] in (b"", b" "):
            return Status(True, wire_text(text[4:]), text[4:])
        if text.startswith(b"-ERR") and text[4:5] in (b"", b" "):
            return Status(False, wire_text(text[5:]), text[5:])
        raise ProtocolError(f"unexpected answer from the server: {wire_text(text, 120)!r}", self.where)

    def continuation(self) -> bytes | None:
        """A SASL "+ ..." line, or None (the line is left for status())."""
        line = self._line(self.limits.max_status, time.monotonic() + self.timeout, "status line",
                          consume=False, key=self.limits.status_key())
        if line.startswith(b"+ ") or line.rstrip(b"\r\n") == b"+":
            self._pos += len(line)
            if self.trace is not None:
                self.trace.received_line(line)
            return line[2:].rstrip(b"\r\n")
        return None

    def lines(self, cap: int, what: str, max_line: int | None = None, key: str | None = None) -> list[bytes]:
        """The data lines of a multi-line answer (after +OK), unstuffed, without line ends.
        max_line None is the limits' (pop3_line_bytes); key names the [limits] key of cap."""
        line_key = "pop3_line_bytes" if not max_line or max_line >= self.limits.max_line else None
        max_line = max_line or self.limits.max_line
        deadline = self._deadline(cap)
        found: list[bytes] = []
        raw: list[bytes] = []
        total = 0
        while True:
            line = self._line(max_line, deadline, what, key=line_key)
            total += len(line)
            if total > cap:
                raise self._over(what, cap, key)
            raw.append(line)
            data = line.rstrip(b"\r\n")
            if data == b".":
                if self.trace is not None:  # one entry per answer: thousands of lines stay cheap
                    self.trace.received_literal(b"".join(raw))
                return found
            found.append(data[1:] if data.startswith(b".") else data)

    def stream(self, cap: int, sink: Callable[[bytes], None], what: str, key: str | None = None) -> int:
        """Copy a multi-line answer to sink (LF line ends, unstuffed); returns its size on the
        wire. Past cap bytes (key: its [limits] key) or the deadline it raises; the session
        is then unusable."""
        deadline = self._deadline(cap)
        total = 0
        out: list[bytes] = []
        pending = 0
        while True:
            if self._pos >= len(self._buffer):
                self._fill(deadline, what)
            start = self._pos
            buffer = self._buffer
            done = False
            while True:
                end = buffer.find(b"\n", start)
                if end < 0:
                    break
                if end + 1 - start > self.limits.max_line:
                    raise self._too_long(what, self.limits.max_line, "pop3_line_bytes")
                line = bytes(buffer[start:end + 1])
                start = end + 1
                data = line[:-2] if line.endswith(b"\r\n") else line[:-1]
                if data == b".":
                    total += len(line)
                    done = True
                    break
                total += len(line)
                out.append((data[1:] if data.startswith(b".") else data) + b"\n")
                pending += len(data) + 1
            consumed = bytes(buffer[self._pos:start])
            self._pos = start
            if self.trace is not None and consumed:
                self.trace.received_literal(consumed)
            if total + (len(buffer) - start) * (not done) > cap:
                raise self._over(what, cap, key)
            if pending >= CHUNK or (done and out):
                sink(b"".join(out))
                out, pending = [], 0
            if done:
                return total
            if len(buffer) - start > self.limits.max_line:
                raise self._too_long(what, self.limits.max_line, "pop3_line_bytes")
            if start < len(buffer):
                self._fill(deadline, what)

    # ------------------------------------------------------------------------------------

    def _deadline(self, cap: int) -> float:
        return time.monotonic() + self.timeout + cap / self.limits.min_rate

    def _over(self, what: str, cap: int, key: str | None) -> WireLimit:
        if key is None:
            return WireLimit(f"{what}: more than {cap} bytes", self.where)
        return WireLimit(f"{what}: " + over("answer", key, cap), self.where)

    def _too_long(self, what: str, cap: int, key: str | None) -> WireLimit:
        if key is None:
            return WireLimit(f"{what}: a line longer than {cap} bytes", self.where)
        return WireLimit(f"{what}: " + over("a line", key, cap), self.where)

    def _line(self, max_len: int, deadline: float, what: str, consume: bool = True,
              key: str | None = None) -> bytes:
        scanned = self._pos
        while True:
            end = self._buffer.find(b"\n", scanned)
            if end >= 0:
                if end + 1 - self._pos > max_len:
                    raise self._too_long(what, max_len, key)
                line = bytes(self._buffer[self._pos:end + 1])
                if consume:
                    self._pos = end + 1
                return line
            pending = len(self._buffer) - self._pos
            if pending > max_len:
                raise self._too_long(what, max_len, key)
            self._fill(deadline, what)  # may move the unread bytes to the front
            scanned = self._pos + pending

    def _fill(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"server too slow sending the {what}")
        self.sock.settimeout(min(self.timeout, remaining))
        try:
            chunk = self.sock.recv(CHUNK)
        except socket.timeout:
            raise TimeoutError(f"server too slow sending the {what}") from None
        if not chunk:
            raise ConnectError(f"connection lost: the server closed it during the {what}", self.where)
        if self._pos:  # drop what was consumed before growing
            del self._buffer[:self._pos]
            self._pos = 0
        self._buffer += chunk


def wire_text(data: bytes, limit: int = 300) -> str:
    """Server text as one line, controls stripped: an ANSI greeting or -ERR shows inert."""
    return one_line(data.decode("utf-8", "replace"), limit)


@dataclass(frozen=True)
class Command:
    """One command of a batch and how to read its answer."""
    line: bytes
    multi: bool = False  # a multi-line answer follows +OK
    cap: int = 0
    what: str = ""
    max_line: int | None = 4_096  # per data line; None: the limits' max_line
    key: str | None = None  # the [limits] key behind cap, for the message when it is hit


@dataclass(frozen=True)
class Reply:
    status: Status
    lines: list[bytes] | None = None


def single_value(reply: Reply, n: int, convert):
    """The value of "+OK n value" for message n, else None."""
    if not reply.status.ok:
        return None
    number, _, value = reply.status.raw.partition(b" ")
    if not number.isdigit() or int(number) != n:
        return None
    return convert(value)


def as_uidl(value: bytes) -> bytes:
    return value  # judged later (model.pop3.uidl_problem): a bad UIDL is flagged, not dropped


def as_size(value: bytes) -> int | None:
    word = value.split(b" ", 1)[0]
    if not word.isdigit() or len(word) > 16 or int(word) > 2 ** 53:
        return None
    return int(word)
