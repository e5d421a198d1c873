"""A record of what a client said and heard on one connection, after TLS (the plaintext view).

Bounded: a ring buffer of entries, each line cut to max_entry bytes and each literal kept only
as a short preview, while the counters count every byte. Credentials never enter it: they are
redacted as the bytes are recorded (IMAP LOGIN and AUTHENTICATE, POP3 PASS/APOP/AUTH, SMTP
AUTH), and any registered Secret is cut out of every entry as a second line of defence.

Feeding it is the protocol adapter's job (protocols/wire.py for IMAP); POP3 and SMTP adapters
call the same sent()/received_line() with protocol="pop3"/"smtp".

A TraceBook gathers the traces of one run of tuimail (a CLI command, a TUI session): each
connection labelled, every entry numbered in arrival order for live readers (since()), and
optionally written to a file as it comes (`--trace FILE`). Code that opens a connection asks
connection_trace() for its trace: None when no book is recording.
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TextIO

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

    def __add__(self, other: "TraceCounters") -> "TraceCounters":
        return TraceCounters(self.bytes_in + other.bytes_in, self.bytes_out + other.bytes_out,
                             self.round_trips + other.round_trips)


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
        # Set by a TraceBook: which connection this is, and who hears of each entry (called
        # with the trace's lock held: it must be quick and must not call back into the trace).
        self.label: TraceLabel | None = None
        self.listener: Callable[["ProtocolTrace", TraceEntry], None] | None = None

    # Feeding ----------------------------------------------------------------------------

    def add_secret(self, secret: Secret | None) -> None:
        """Cut this secret (and its base64, as AUTH LOGIN sends it) out of anything recorded
        from now on; kept as bytes, never shown."""
        if secret is not None and secret.reveal():
            import base64  # here, not at import: the TUI imports this module before its first frame

            raw = secret.reveal().encode("utf-8")
            with self._lock:
                self._secrets += [raw, base64.b64encode(raw)]

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
        entry = TraceEntry(time.monotonic() - self._t0, direction, bytes(data), size, literal, cut)
        self._entries.append(entry)
        if self.listener is not None:
            self.listener(self, entry)

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


# The book of one run ----------------------------------------------------------------------

@dataclass(frozen=True)
class TraceLabel:
    """Which connection: the run's nth, its protocol, account and what it is for."""
    number: int
    protocol: str
    account: str
    purpose: str  # "index", "idle", "folders", "send", "list", ...

    def __str__(self) -> str:
        return f"{self.protocol}#{self.number} {self.account} {self.purpose}"

    def short(self) -> str:
        """Without the account (a view of one account's connections)."""
        return f"{self.protocol}#{self.number} {self.purpose}"


@dataclass(frozen=True)
class BookEntry:
    seq: int  # 1, 2, 3... over every connection of the book, in arrival order
    label: TraceLabel
    wall: float  # time.time() when it was recorded
    entry: TraceEntry

    def clock(self) -> str:
        return _clock(self.wall)

    def line(self, account: bool = True) -> str:
        """One line: time, connection, direction, what went over the wire (already redacted;
        literals and bodies as {N bytes} and a short preview, controls escaped)."""
        label = str(self.label) if account else self.label.short()
        return f"{self.clock()} {label} {self.entry.direction}: {self.entry.text()}"


class TraceBook:
    """The traces of one run of tuimail, thread-safe. open() gives each new connection its
    labelled trace; since(n) hands a live reader the entries after the nth, oldest first,
    without callbacks across threads. Bounded: the last `capacity` entries and the last
    `keep` connections stay in memory; a file (write_to) gets every entry."""

    def __init__(self, capacity: int = 10_000, keep: int = 64, trace_capacity: int = 200):
        self.capacity, self.trace_capacity = capacity, trace_capacity
        self.started = time.time()
        self._lock = threading.Lock()
        self._entries: deque[BookEntry] = deque(maxlen=capacity)
        self._traces: deque[ProtocolTrace] = deque(maxlen=keep)
        self._connections = 0
        self._seq = 0
        self._file: TextIO | None = None
        self.path: Path | None = None
        self.file_error = ""  # why the file stopped being written, if it did

    def open(self, protocol: str, account: str, purpose: str) -> ProtocolTrace:
        """The trace for a connection about to open."""
        trace = ProtocolTrace(protocol, capacity=self.trace_capacity)
        with self._lock:
            self._connections += 1
            trace.label = TraceLabel(self._connections, protocol, account, purpose)
            trace.listener = self._record
            self._traces.append(trace)
            self._write(f"{_clock(time.time())} {trace.label} -- new connection")
        return trace

    def _record(self, trace: ProtocolTrace, entry: TraceEntry) -> None:
        assert trace.label is not None
        with self._lock:
            self._seq += 1
            item = BookEntry(self._seq, trace.label, trace.started + entry.at, entry)
            self._entries.append(item)
            if self._file is not None:
                self._write(item.line())

    # Reading ----------------------------------------------------------------------------

    @property
    def last(self) -> int:
        """The number of the newest entry (0: none yet)."""
        return self._seq

    def since(self, seq: int, account: str | None = None) -> list[BookEntry]:
        """Entries numbered above seq still in memory, oldest first; only account's if given."""
        return self.read(seq, account)[1]

    def read(self, seq: int, account: str | None = None) -> tuple[int, list[BookEntry]]:
        """since(), and the newest number looked at: the next call's seq, so that a reader of
        one account skips the others' entries once. Costs the number of new entries."""
        found: list[BookEntry] = []
        with self._lock:
            newest = max(seq, self._seq)
            for item in reversed(self._entries):
                if item.seq <= seq:
                    break
                if account is None or item.label.account == account:
                    found.append(item)
        found.reverse()
        return newest, found

    def traces(self, account: str | None = None) -> list[ProtocolTrace]:
        with self._lock:
            return [t for t in self._traces if account is None or (t.label and t.label.account == account)]

    # The file ---------------------------------------------------------------------------

    def write_to(self, path: Path) -> None:
        """Write every entry from now on to path, created (or emptied) with mode 0600; a line
        at a time, so what a failing or killed run did is there. OSError if it cannot be opened."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
            handle = os.fdopen(fd, "w", encoding="utf-8", errors="replace", buffering=1)
        except BaseException:
            os.close(fd)
            raise
        with self._lock:
            self._file, self.path = handle, Path(path)
            self._write(f"# tuimail protocol trace, started {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
            self._write("# time connection(protocol#n account purpose) C: client to server, "
                        "S: server to client; credentials as ***, literals and bodies as {N bytes}")

    def close(self) -> None:
        with self._lock:
            handle, self._file = self._file, None
        if handle is not None:
            try:
                handle.close()
            except OSError as exc:
                self.file_error = self.file_error or str(exc)

    def _write(self, line: str) -> None:
        """With the lock held. A full disk stops the file, never the connection."""
        if self._file is None:
            return
        try:
            self._file.write(line + "\n")
        except (OSError, ValueError) as exc:
            self.file_error = str(exc)
            self._file = None


def _clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall * 1000) % 1000:03d}"


_active: TraceBook | None = None


def activate(book: TraceBook | None) -> None:
    """Make book the one connections of this process record into (None: stop recording)."""
    global _active
    _active = book


def deactivate(book: TraceBook) -> None:
    """Stop recording into book, if it is still the active one."""
    global _active
    if _active is book:
        _active = None


def active_book() -> TraceBook | None:
    return _active


def connection_trace(protocol: str, account: str, purpose: str) -> ProtocolTrace | None:
    """The trace for a connection about to open, or None when nothing records."""
    book = _active
    return book.open(protocol, account, purpose) if book is not None else None
