"""A record of what a client said and heard on one connection, after TLS (the plaintext view).

Bounded: a ring buffer of entries, each line cut to max_entry bytes and each literal kept only
as a short preview, while the counters count every byte. Credentials never enter it: they are
redacted as the bytes are recorded (IMAP LOGIN and AUTHENTICATE, POP3 PASS/APOP/AUTH, SMTP
AUTH), and any registered Secret is cut out of every entry as a second line of defence.

Feeding it is the protocol adapter's job (protocols/wire.py for IMAP); POP3 and SMTP adapters
call the same sent()/received_line() with protocol="pop3"/"smtp".
"""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Iterable

from tuimail.model.secret import Secret

REDACTED = b"***"
SENT, RECEIVED = "C", "S"


@dataclass(frozen=True)
class TraceEntry:
    at: float  # seconds since the trace started
    direction: str  # "C" client to server, "S" server to client
    data: bytes  # redacted; a line without its CRLF, or the start of a literal
    size: int  # bytes on the wire for this entry
    literal: bool = False
    cut: bool = False  # data holds only the start of it

    def text(self) -> str:
        shown = self.data.decode("utf-8", "replace")
        shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
        if self.literal:
            return f"{{{self.size} bytes}} {shown}" + ("..." if self.cut else "")
        return shown + ("..." if self.cut else "")

    def __str__(self) -> str:
        return f"{self.at:9.3f} {self.direction}: {self.text()}"


@dataclass(frozen=True)
class TraceCounters:
    bytes_in: int = 0
    bytes_out: int = 0
    round_trips: int = 0

    def __sub__(self, other: "TraceCounters") -> "TraceCounters":
        return TraceCounters(self.bytes_in - other.bytes_in, self.bytes_out - other.bytes_out,
                             self.round_trips - other.round_trips)


_LITERAL_END = re.compile(rb"\{(\d{1,12})\+?\}$")
_IMAP_LOGIN = re.compile(rb"^(\S+ LOGIN )(\"(?:[^\"\\]|\\.)*\"|\S+)( .*)?$", re.IGNORECASE | re.DOTALL)
_IMAP_AUTH = re.compile(rb"^(\S+ AUTHENTICATE \S+)( .*)?$", re.IGNORECASE | re.DOTALL)
_POP_SECRET = re.compile(rb"^(PASS|APOP \S+)( .*)?$", re.IGNORECASE | re.DOTALL)
_SASL = re.compile(rb"^(AUTH \S+)( .*)?$", re.IGNORECASE | re.DOTALL)


class ProtocolTrace:
    def __init__(self, protocol: str = "imap", capacity: int = 5_000, max_entry: int = 2_048,
                 literal_preview: int = 120):
        self.protocol = protocol
        self.capacity, self.max_entry, self.literal_preview = capacity, max_entry, literal_preview
        self.started = time.time()
        self._t0 = time.monotonic()
        self._entries: deque[TraceEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._secrets: list[bytes] = []
        self.bytes_in = self.bytes_out = self.round_trips = 0
        # client-side stream state
        self._pending = b""  # a partial line the client is still sending
        self._literal_left = 0  # bytes of a client literal still to come
        self._literal_redacted = False
        self._literal_seen = 0
        self._in_auth = False  # SASL exchange: every client line is a credential
        self._mid_command = False  # the last client line announced a literal
        self._login_pending = False  # the current command is LOGIN: its continuations are secret
        # POP3 counts turns, not commands: pipelined commands sent before any answer is read
        # cost one round trip together (RFC 2449 PIPELINING).
        self._heard = True

    # Feeding ----------------------------------------------------------------------------

    def add_secret(self, secret: Secret | None) -> None:
        """Cut this secret out of anything recorded from now on (kept as bytes, never shown)."""
        if secret is not None and secret.reveal():
            self._secrets.append(secret.reveal().encode("utf-8"))

    def sent(self, data: bytes) -> None:
        """Bytes the client wrote; may hold several lines, part of one, or literal data."""
        with self._lock:
            self.bytes_out += len(data)
            buffer = self._pending + data
            self._pending = b""
            while buffer:
                if self._literal_left:
                    chunk, buffer = buffer[:self._literal_left], buffer[self._literal_left:]
                    self._literal_left -= len(chunk)
                    self._literal_seen += len(chunk)
                    if not self._literal_left:
                        preview = REDACTED if self._literal_redacted else chunk[:self.literal_preview]
                        self._add(SENT, preview, self._literal_seen, literal=True)
                        self._literal_seen = 0
                    continue
                line, sep, rest = buffer.partition(b"\r\n")
                if not sep:
                    self._pending = line[-65_536:]  # a partial line; bounded all the same
                    break
                buffer = rest
                self._client_line(line)

    def sent_data(self, data: bytes) -> None:
        """Bytes the client wrote that are content, not commands (an SMTP message after DATA):
        counted in full, recorded as one entry with a short preview."""
        with self._lock:
            self.bytes_out += len(data)
            self._add(SENT, data[:self.literal_preview], len(data), literal=True)

    def received_line(self, line: bytes) -> None:
        with self._lock:
            self.bytes_in += len(line)
            self._heard = True
            stripped = line.rstrip(b"\r\n")
            if self._in_auth and self._auth_over(stripped):
                self._in_auth = False
            self._add(RECEIVED, stripped, len(line))

    def received_literal(self, data: bytes) -> None:
        with self._lock:
            self.bytes_in += len(data)
            self._heard = True
            self._add(RECEIVED, data[:self.literal_preview], len(data), literal=True)

    # Reading ----------------------------------------------------------------------------

    def counters(self) -> TraceCounters:
        return TraceCounters(self.bytes_in, self.bytes_out, self.round_trips)

    def entries(self) -> list[TraceEntry]:
        with self._lock:
            return list(self._entries)

    def sent_lines(self) -> list[str]:
        """Client command lines (not literals), redacted, tags included."""
        return [e.data.decode("utf-8", "replace") for e in self.entries()
                if e.direction == SENT and not e.literal]

    def commands(self, name: str | None = None) -> list[str]:
        """Client commands without their tags, e.g. "FETCH 4951:5000 (UID FLAGS ...)";
        with name, only those whose command word (after an optional UID) is name."""
        found = []
        for line in self.sent_lines():
            words = line.split(" ", 1)
            command = words[1] if self.protocol == "imap" and len(words) == 2 else line
            if name is not None:
                parts = command.split(" ", 2)
                verb = parts[1] if parts[0].upper() == "UID" and len(parts) > 1 else parts[0]
                if verb.upper() != name.upper():
                    continue
            found.append(command)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def format(self, last: int | None = None) -> str:
        entries = self.entries()
        return "\n".join(str(e) for e in (entries[-last:] if last else entries))

    # Internals --------------------------------------------------------------------------

    def _add(self, direction: str, data: bytes, size: int, literal: bool = False) -> None:
        cut = len(data) > self.max_entry or (literal and len(data) < size)
        data = data[:self.max_entry]
        for secret in self._secrets:
            data = data.replace(secret, REDACTED)
        self._entries.append(TraceEntry(time.monotonic() - self._t0, direction, bytes(data), size,
                                        literal, cut))

    def _client_line(self, line: bytes) -> None:
        size = len(line) + 2
        if self._in_auth:
            self._add(SENT, REDACTED, size)
            return
        continuation = self._mid_command  # the rest of a command after one of its literals
        literal = _LITERAL_END.search(line)
        self._mid_command = bool(literal)
        if continuation:
            shown, secret = (REDACTED, True) if self._login_pending else (line, False)
        else:
            self._login_pending = False
            shown, secret = self._redact(line)
            if self.protocol == "pop3":
                self.round_trips += self._heard
                self._heard = False
            elif not (self.protocol == "imap" and line.upper() == b"DONE"):
                self.round_trips += 1
        if literal:
            self._literal_left = int(literal.group(1))
            self._literal_redacted = secret
        self._add(SENT, shown, size)

    def _redact(self, line: bytes) -> tuple[bytes, bool]:
        """The line as recorded, and whether a literal it announces carries a secret."""
        if self.protocol == "imap":
            match = _IMAP_LOGIN.match(line)
            if match:
                self._login_pending = True  # whatever else this command sends is the password
                user = match.group(2)
                if _LITERAL_END.search(user) and not match.group(3):
                    return line, False  # the user name comes as a literal; it is no secret
                return match.group(1) + user + b" " + REDACTED, True
            match = _IMAP_AUTH.match(line)
            if match:
                self._in_auth = True
                return match.group(1) + (b" " + REDACTED if match.group(2) else b""), True
            return line, False
        if self.protocol == "pop3":
            match = _POP_SECRET.match(line)
            if match:
                return match.group(1) + b" " + REDACTED, True
        match = _SASL.match(line)
        if match:
            self._in_auth = True
            return match.group(1) + (b" " + REDACTED if match.group(2) else b""), True
        return line, False

    def _auth_over(self, line: bytes) -> bool:
        if self.protocol == "imap":
            return not line.startswith((b"+", b"*"))
        if self.protocol == "pop3":
            return line.startswith((b"+OK", b"-ERR"))
        return not line.startswith(b"334")


def redact_all(lines: Iterable[str]) -> list[str]:
    """For display code that got lines from elsewhere: the same rules as a fresh IMAP trace."""
    trace = ProtocolTrace()
    for line in lines:
        trace.sent(line.encode("utf-8", "replace") + b"\r\n")
    return trace.sent_lines()
