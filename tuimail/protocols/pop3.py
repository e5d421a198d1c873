"""A POP3 session: one logged-in connection behind a small typed API (RFC 1939, 2449, 5034).

Opening goes through connect.open_pop3 (verified TLS, STLS enforced); after that every byte
goes through Pop3Wire (bounded, timed, traced). CAPA is read after TLS; login is SASL PLAIN
when offered, else USER/PASS, and only over TLS unless the config allows plaintext.

With PIPELINING (RFC 2449) the *_many calls and window() send a batch of commands, then read
all the answers: one round trip per batch instead of one per command. Without it they run in
lock-step. After a connection-level failure the session is broken: every later call raises
the same error, and QUIT is never sent (so no DELE of this session can take effect).
"""
from __future__ import annotations

import base64
import poplib
import ssl
from dataclasses import dataclass
from typing import Callable, Iterable

from tuimail.model.config import Account, Protocol, Security
from tuimail.model.secret import Secret
from tuimail.protocols.connect import (_PLAINTEXT_REFUSED, StepHook, _phase, close_pop3, open_pop3,
                                       tls_info, translate, where)
from tuimail.protocols.errors import AuthError, MailError, PlaintextRefused, ProtocolError
from tuimail.protocols.pop3_wire import (Pop3Limits, Pop3Wire, Status, WireLimit, Command, Reply,
                                         as_size, as_uidl, single_value, wire_text)
from tuimail.protocols.tls import TlsInfo
from tuimail.protocols.trace import ProtocolTrace

__all__ = ["Pop3Session", "Pop3Limits", "WindowEntry", "WireLimit", "ProtocolTrace"]

MAX_COUNT = 10_000_000  # messages in one maildrop
MAX_OCTETS = 2 ** 53
MAX_SASL_LINE = 253  # RFC 2449: a command line is at most 255 octets with its CRLF


@dataclass(frozen=True)
class WindowEntry:
    """What one pipelined window says about message number n; None where not asked or -ERR."""
    number: int
    uidl: bytes | None = None
    size: int | None = None
    header: bytes | None = None  # TOP n 0: the header block, LF line ends


class Pop3Session:
    """Use as a context manager (which closes without QUIT), or call quit()/close()."""

    def __init__(self, pop: poplib.POP3, account: Account, wire: Pop3Wire, greeting: str):
        # One line, controls stripped. With STLS (or plain) it arrived unencrypted: show it, if
        # at all, as untrusted text. Never parsed (no APOP), so a hostile one cannot misparse.
        self._pop, self.account, self.wire, self.greeting = pop, account, wire, greeting
        self.server = account.pop3
        self.where = wire.where
        self.trace = wire.trace
        self.limits = wire.limits
        self.capabilities: dict[str, tuple[str, ...]] = {}
        self.disabled: frozenset[str] = frozenset()
        self.count: int | None = None  # from the last STAT
        self.broken: MailError | None = None
        self.problems: list[str] = []  # malformed listing lines seen, for reports
        self.quit_sent = False

    @classmethod
    def connect(cls, account: Account, password: Secret, trace: ProtocolTrace | None = None,
                timeout: float | None = None, on_step: StepHook | None = None,
                limits: Pop3Limits | None = None, disable: Iterable[str] = ()) -> "Pop3Session":
        """Open (TLS as configured), read CAPA over TLS and log in; MailError on any failure.
        disable hides capabilities (e.g. {"PIPELINING"}) to exercise fallbacks. limits: the
        account's [limits] unless given."""
        server = account.server(Protocol.POP3)
        if server is None:
            raise MailError(f"account '{account.name}' has no [accounts.{account.name}.pop3] server")
        timeout = timeout or account.timeout
        pop = open_pop3(account, server, timeout=timeout, on_step=on_step)
        at = where(server)
        welcome = pop.welcome if isinstance(pop.welcome, bytes) else b""
        wire = Pop3Wire(pop.sock, timeout, at, trace, limits or Pop3Limits.of(account.limits))
        # A STARTTLS greeting came before TLS: anyone on the path wrote it, so it is not kept (case 7)
        trusted = wire_text(welcome) if server.security is not Security.STARTTLS else ""
        session = cls(pop, account, wire, trusted)
        session.disabled = frozenset(c.upper() for c in disable)
        try:
            if trace is not None:
                trace.add_secret(password)
                if isinstance(pop.sock, ssl.SSLSocket) and server.security.value == "tls":
                    trace.received_line(welcome + b"\r\n")
            with _phase("capabilities", at, timeout, on_step):
                session.capabilities = session._capa()
            session._login(password, on_step)
        except BaseException:
            close_pop3(pop, quit=False)
            raise
        return session

    def __enter__(self) -> "Pop3Session":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def tls(self) -> TlsInfo | None:
        return tls_info(self._pop)

    def has(self, capability: str) -> bool:
        name = capability.upper()
        return name in self.capabilities and name not in self.disabled

    @property
    def pipelining(self) -> bool:
        return self.has("PIPELINING")

    @property
    def has_uidl(self) -> bool:
        """UIDL in CAPA; a server without CAPA is assumed to have it (a -ERR is handled)."""
        return self.has("UIDL") or (not self.capabilities and "UIDL" not in self.disabled)

    # Login --------------------------------------------------------------------------------

    def _capa(self) -> dict[str, tuple[str, ...]]:
        cap = self.limits.max_capa
        reply = self._one(Command(b"CAPA", True, cap, "CAPA answer", self.limits.max_status,
                                  self.limits.answer_key(cap)))
        if not reply.status.ok:
            return {}
        found: dict[str, tuple[str, ...]] = {}
        for line in reply.lines or []:
            words = wire_text(line, 200).split()
            if words:
                found[words[0].upper()] = tuple(w.upper() for w in words[1:])
        return found

    def _login(self, password: Secret, on_step: StepHook | None) -> None:
        if not isinstance(self._pop.sock, ssl.SSLSocket) and not self.server.allow_plaintext_auth:
            raise PlaintextRefused(_PLAINTEXT_REFUSED, self.where)
        with _phase("login", self.where, self.wire.timeout, on_step, AuthError, password):
            if "PLAIN" in self.capabilities.get("SASL", ()) and "SASL" not in self.disabled:
                status = self._auth_plain(password)
            elif self.capabilities and "USER" not in self.capabilities:
                raise AuthError("the server offers neither SASL PLAIN nor USER/PASS", self.where)
            else:
                status = self._one(Command(b"USER " + self.account.username.encode("utf-8"))).status
                if status.ok:
                    status = self._one(Command(b"PASS " + password.reveal().encode("utf-8"))).status
            if not status.ok:
                raise AuthError(f"login failed: {status.text}", self.where)

    def _auth_plain(self, password: Secret) -> Status:
        user = self.account.username.encode("utf-8")
        token = base64.b64encode(b"\0" + user + b"\0" + password.reveal().encode("utf-8"))
        if len(b"AUTH PLAIN " + token) <= MAX_SASL_LINE:
            return self._one(Command(b"AUTH PLAIN " + token)).status
        self._io(lambda: self.wire.send(b"AUTH PLAIN\r\n"))
        if self._io(self.wire.continuation) is None:
            return self._io(self.wire.status)
        return self._one(Command(token)).status

    # Commands -----------------------------------------------------------------------------

    def stat(self) -> tuple[int, int]:
        """(message count, total octets); both bounded."""
        words = self._ok(Command(b"STAT"), "STAT").raw.split()
        if len(words) < 2 or not all(w.isdigit() and len(w) <= 16 for w in words[:2]):
            raise ProtocolError("STAT answer is not two numbers", self.where)
        count, octets = int(words[0]), int(words[1])
        if count > MAX_COUNT or octets > MAX_OCTETS:
            raise ProtocolError(f"STAT claims {count} messages of {octets} bytes; refusing", self.where)
        self.count = count
        return count, octets

    def uidl(self, n: int | None = None):
        """UIDL n: the raw UIDL bytes (None on -ERR). UIDL: {n: raw UIDL} for the whole
        maildrop, or None when the server has no UIDL."""
        if n is not None:
            return self.uidl_many([n]).get(n)
        reply = self._one(self._listing_cmd(b"UIDL", "UIDL listing", 90))
        return self._parse_listing(reply, "UIDL", as_uidl) if reply.status.ok else None

    def list(self, n: int | None = None):
        """LIST n: the size (None on -ERR). LIST: {n: size} for the whole maildrop."""
        if n is not None:
            return self.list_many([n]).get(n)
        reply = self._one(self._listing_cmd(b"LIST", "LIST listing", 40))
        if not reply.status.ok:
            raise ProtocolError(f"LIST refused: {reply.status.text}", self.where)
        return self._parse_listing(reply, "LIST", as_size)

    def listing(self) -> tuple[dict[int, bytes] | None, dict[int, int]]:
        """UIDL and LIST of the whole maildrop, pipelined when the server allows."""
        cmds = [self._listing_cmd(b"LIST", "LIST listing", 40)]
        if self.has_uidl:
            cmds.insert(0, self._listing_cmd(b"UIDL", "UIDL listing", 90))
        replies = self._batch(cmds)
        sizes_reply = replies[-1]
        if not sizes_reply.status.ok:
            raise ProtocolError(f"LIST refused: {sizes_reply.status.text}", self.where)
        uidls = None
        if len(replies) == 2 and replies[0].status.ok:
            uidls = self._parse_listing(replies[0], "UIDL", as_uidl)
        return uidls, self._parse_listing(sizes_reply, "LIST", as_size)

    def window(self, numbers: Iterable[int], uidl: bool = True, size: bool = True,
               top: bool = True) -> dict[int, WindowEntry]:
        """UIDL n, LIST n and TOP n 0 for each number, in one round trip with PIPELINING."""
        numbers = list(numbers)
        uidl = uidl and self.has_uidl
        cmds: list[Command] = []
        for n in numbers:
            if uidl:
                cmds.append(Command(b"UIDL %d" % n))
            if size:
                cmds.append(Command(b"LIST %d" % n))
            if top:
                cmds.append(Command(b"TOP %d 0" % n, True, self.limits.max_header, "TOP header",
                                    None, "header_bytes"))
        replies = iter(self._batch(cmds))
        found = {}
        for n in numbers:
            entry = {"number": n}
            if uidl:
                entry["uidl"] = single_value(next(replies), n, as_uidl)
            if size:
                entry["size"] = single_value(next(replies), n, as_size)
            if top:
                reply = next(replies)
                entry["header"] = b"\n".join(reply.lines or []) + b"\n" if reply.status.ok else None
            found[n] = WindowEntry(**entry)
        return found

    def top_many(self, numbers: Iterable[int], lines: int = 0) -> dict[int, bytes]:
        """n -> the header block (and `lines` body lines), LF line ends; -ERR ones left out."""
        numbers = list(numbers)
        cap = self.limits.max_header + lines * 1_000
        replies = self._batch([Command(b"TOP %d %d" % (n, lines), True, cap, "TOP answer", None,
                                       None if lines else "header_bytes") for n in numbers])
        return {n: b"\n".join(r.lines or []) + b"\n" for n, r in zip(numbers, replies) if r.status.ok}

    def uidl_many(self, numbers: Iterable[int]) -> dict[int, bytes]:
        return {n: e.uidl for n, e in self.window(numbers, size=False, top=False).items() if e.uidl is not None}

    def list_many(self, numbers: Iterable[int]) -> dict[int, int]:
        return {n: e.size for n, e in self.window(numbers, uidl=False, top=False).items() if e.size is not None}

    def retr(self, n: int, sink: Callable[[bytes], None], max_bytes: int | None = None) -> int:
        """Stream message n to sink (LF line ends, dot-unstuffed); returns the bytes on the
        wire. More than max_bytes (default the limits' max_message) breaks the session."""
        cap = min(max_bytes or self.limits.max_message, self.limits.max_message)
        self._check()
        status = self._io(lambda: (self.wire.send(b"RETR %d\r\n" % n), self.wire.status())[1])
        if not status.ok:
            raise ProtocolError(f"RETR {n} refused: {status.text}", self.where)
        failed: list[BaseException] = []

        def guarded(chunk: bytes) -> None:
            # A failing sink (a full disk) must not desynchronise the session: read the
            # rest of the answer, drop it, then raise the sink's own error.
            if not failed:
                try:
                    sink(chunk)
                except Exception as exc:
                    failed.append(exc)

        key = "pop3_response_bytes" if cap == self.limits.max_message else None  # else LIST's size
        size = self._io(lambda: self.wire.stream(cap, guarded, f"message {n}", key))
        if failed:
            raise failed[0]
        return size

    def retr_bytes(self, n: int, max_bytes: int | None = None) -> bytes:
        parts: list[bytes] = []
        self.retr(n, parts.append, max_bytes)
        return b"".join(parts)

    def dele_many(self, numbers: Iterable[int]) -> dict[int, Status]:
        """DELE each (pipelined). Nothing is deleted until quit() returns True."""
        numbers = list(numbers)
        return {n: r.status for n, r in zip(numbers, self._batch([Command(b"DELE %d" % n) for n in numbers]))}

    def dele(self, n: int) -> bool:
        return self.dele_many([n])[n].ok

    def rset(self) -> bool:
        return self._one(Command(b"RSET")).status.ok

    def noop(self) -> bool:
        return self._one(Command(b"NOOP")).status.ok

    def quit(self) -> bool:
        """QUIT and close. True only on +OK: then (and only then) this session's DELEs are final."""
        if self.broken is not None:
            self.close()
            return False
        try:
            self.quit_sent = True
            return self._one(Command(b"QUIT")).status.ok
        except MailError:
            return False
        finally:
            self.close()

    def close(self) -> None:
        """Close without QUIT: the server rolls back any DELE of this session."""
        close_pop3(self._pop, quit=False)

    # Internals ----------------------------------------------------------------------------

    def _listing_cmd(self, verb: bytes, what: str, per_line: int) -> Command:
        if self.count is None:
            self.stat()  # the cap on a listing follows from the count
        cap = min(1024 + self.count * per_line, self.limits.max_message)
        return Command(verb, True, cap, what, self.limits.max_status, self.limits.answer_key(cap))

    def _problem(self, text: str) -> None:
        if len(self.problems) < 100:
            self.problems.append(text)

    def _parse_listing(self, reply: Reply, what: str, convert) -> dict:
        found: dict[int, object] = {}
        seen_twice: set[int] = set()
        limit = self.count if self.count is not None else MAX_COUNT
        for line in reply.lines or []:
            number, _, value = line.partition(b" ")
            if not number.isdigit() or len(number) > 9 or not 0 < int(number) <= limit:
                self._problem(f"{what}: ignored a malformed line {wire_text(line, 60)!r}")
                continue
            n = int(number)
            if n in found or n in seen_twice:
                seen_twice.add(n)
                found.pop(n, None)
                self._problem(f"{what}: message {n} listed twice; ignored")
                continue
            converted = convert(value)
            if converted is None:
                self._problem(f"{what}: ignored a malformed line {wire_text(line, 60)!r}")
                continue
            found[n] = converted
        return found

    def _ok(self, cmd: Command, name: str) -> Status:
        status = self._one(cmd).status
        if not status.ok:
            raise ProtocolError(f"{name} refused: {status.text}", self.where)
        return status

    def _one(self, cmd: Command) -> Reply:
        return self._batch([cmd], pipelined=False)[0]

    def _batch(self, cmds: list[Command], pipelined: bool | None = None) -> list[Reply]:
        self._check()
        pipelined = self.pipelining if pipelined is None else pipelined
        size = self.limits.batch if pipelined else 1
        replies: list[Reply] = []
        for start in range(0, len(cmds), size):
            chunk = cmds[start:start + size]
            self._io(lambda: self.wire.send(b"".join(c.line + b"\r\n" for c in chunk)))
            for cmd in chunk:
                replies.append(self._io(lambda: self._read_reply(cmd)))
        return replies

    def _read_reply(self, cmd: Command) -> Reply:
        status = self.wire.status()
        if cmd.multi and status.ok:
            return Reply(status, self.wire.lines(cmd.cap, cmd.what, cmd.max_line, cmd.key))
        return Reply(status)

    def _check(self) -> None:
        if self.broken is not None:
            raise type(self.broken)(self.broken.reason, self.broken.where)

    def _io(self, action):
        """Run wire I/O. Any failure here leaves the framing unknown: the session is broken
        and closed without QUIT (a -ERR is an answer, not a failure, and never gets here)."""
        try:
            return action()
        except Exception as exc:
            error = translate(exc, self.where, self.wire.timeout)
            self.broken = error
            close_pop3(self._pop, quit=False)
            if error is exc:
                raise
            raise error from None
