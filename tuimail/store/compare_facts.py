"""Pieces of `tuimail compare` that read facts rather than measure: the connection facts (from
the doctor, protocols/doctor.py, not duplicated), the commands a step sent (from its trace),
and the keep-on-server dry run (the POP3 sync's own, store/pop3_keep.py)."""
from __future__ import annotations

import re
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Callable

from tuimail.model.compare import ConnectionFacts, KeepDryRun, KeepItem, TlsFacts
from tuimail.model.config import Account, Protocol
from tuimail.model.pop3 import KeepPolicy, is_uidl_key
from tuimail.model.secret import Secret
from tuimail.model.text import one_line
from tuimail.protocols.doctor import ProtocolReport, run_doctor
from tuimail.protocols.pop3 import Pop3Session
from tuimail.protocols.tls import TlsInfo
from tuimail.protocols.trace import SENT, ProtocolTrace, TraceEntry
from tuimail.store.pop3_keep import Item
from tuimail.store.pop3_store import Pop3Store, default_store_dir
from tuimail.store.pop3_sync import Pop3Sync

MAX_COMMANDS = 12  # distinct command shapes kept per step


# Connection facts ----------------------------------------------------------------------------

def doctor_reports(account: Account, password: Secret, timeout: float | None) -> dict[str, ProtocolReport]:
    """The doctor's checks of the IMAP and POP3 servers without logging in: TLS, certificate,
    capabilities and AUTH mechanisms as the server offers them to anyone, over TLS."""
    report = run_doctor(account, password, [Protocol.IMAP, Protocol.POP3], timeout=timeout, login=False)
    return {r.protocol: r for r in report.reports}


def tls_facts(info: TlsInfo | None) -> TlsFacts | None:
    if info is None:
        return None
    return TlsFacts(info.version, info.cipher, info.bits, info.subject, info.issuer, info.not_after,
                    info.sha256, info.verified_by, tuple(info.alt_names), info.days_left())


def connection_facts(protocol: str, account: Account, doctor: ProtocolReport | None, tls: TlsInfo | None,
                     phases: dict[str, float], login_command: str,
                     after_login: tuple[str, ...] = ()) -> ConnectionFacts:
    """The doctor's view of the server plus what the measured session itself saw: its TLS
    (the doctor's when the session has none to offer), its phase timings and how it logged in."""
    server = account.server(Protocol(protocol))
    return ConnectionFacts(
        protocol=protocol, host=server.host, port=server.port, security=server.security.value,
        tls=tls_facts(tls or (doctor.tls if doctor else None)),
        capabilities=tuple(doctor.capabilities) if doctor else (),
        capabilities_after_login=after_login,
        auth_mechanisms=tuple(doctor.auth_mechanisms) if doctor else (),
        login_command=login_command,
        connect_seconds=sum(s for name, s in phases.items() if name in ("connect", "starttls")) or None,
        login_seconds=phases.get("login"),
        error=doctor.failure_line() if doctor else None)


# What a step sent ------------------------------------------------------------------------------

class CommandRecorder:
    """Collects the command lines a trace records while on. It listens beside whoever else
    listens (a TraceBook for --trace), so the step's commands are complete however small the
    trace's own ring buffer is."""

    def __init__(self, trace: ProtocolTrace):
        self.trace = trace
        self._lines: list[bytes] = []
        self._on = False
        self._lock = threading.Lock()
        self._next: Callable[[ProtocolTrace, TraceEntry], None] | None = getattr(trace, "listener", None)
        trace.listener = self._hear

    def _hear(self, trace: ProtocolTrace, entry: TraceEntry) -> None:
        if self._on and entry.direction == SENT and not entry.literal:
            with self._lock:
                self._lines.append(entry.data)
        if self._next is not None:
            self._next(trace, entry)

    def start(self) -> None:
        with self._lock:
            self._lines = []
        self._on = True

    def stop(self) -> tuple[str, ...]:
        self._on = False
        with self._lock:
            lines, self._lines = self._lines, []
        return condense([line.decode("utf-8", "replace") for line in lines], self.trace.protocol)


_POP3_NUMBER = re.compile(r"^(\S+) \d+")


def condense(lines: list[str], protocol: str) -> tuple[str, ...]:
    """Command lines as shapes with counts: "UIDL n x50", "TOP n 0 x50"; IMAP without tags."""
    shapes: Counter[str] = Counter()
    for line in lines:
        if protocol == "imap":
            line = line.split(" ", 1)[1] if " " in line else line
        else:
            line = _POP3_NUMBER.sub(r"\1 n", line)
        shapes[one_line(line, 160)] += 1
    shown = [f"{shape} x{count}" if count > 1 else shape for shape, count in shapes.items()]
    if len(shown) > MAX_COMMANDS:
        shown = shown[:MAX_COMMANDS] + [f"... {len(shown) - MAX_COMMANDS} more"]
    return tuple(shown)


def login_command(commands: tuple[str, ...]) -> str:
    """How a session logged in, from the (redacted) commands of its login."""
    for command in commands:
        words = command.split()
        verb = words[0].upper() if words else ""
        if verb == "LOGIN":
            return "LOGIN"
        if verb in ("AUTHENTICATE", "AUTH") and len(words) > 1:
            return f"{verb} {words[1].upper()}"
        if verb == "USER":
            return "USER/PASS"
        if verb == "APOP":
            return "APOP"
    return ""


# The keep-on-server policy, as a dry run ------------------------------------------------------

def keep_dry_run(account: Account, session: Pop3Session, clock: Callable[[], float]) -> KeepDryRun:
    """What `tuimail pop3 sync` would download and delete with this account's policy, judged
    against the account's local POP3 store when it has one (the dry run records the listing in
    it, as `tuimail pop3 sync --dry-run` does), else against an empty scratch store that is
    thrown away. Ends the session with QUIT (run_sync's own close); it sends no DELE."""
    root = default_store_dir(account.name)
    scratch = None
    if (root / "state.sqlite3").exists():
        store, where = Pop3Store(root), f"the local POP3 store {root}"
    else:
        scratch = tempfile.TemporaryDirectory(prefix="tuimail-compare-")
        store, where = Pop3Store(Path(scratch.name)), "no local POP3 store yet: as for a first sync"
    try:
        report = Pop3Sync(store, account, session=session, clock=clock).sync(dry_run=True)
    finally:
        store.close()
        if scratch is not None:
            scratch.cleanup()
    policy = KeepPolicy.of(account)
    later = 0 if policy.keep_on_server else sum(1 for i in report.would_download if is_uidl_key(i.key))
    return KeepDryRun(
        policy=report.policy, store=where, count=report.count, would_download=len(report.would_download),
        would_delete=tuple(_keep_item(i) for i in report.would_delete), delete_after_download=later,
        skipped=tuple(_keep_item(i) for i in report.skipped), notes=tuple(report.notes), error=report.error)


def _keep_item(item: Item) -> KeepItem:
    return KeepItem(item.number, item.key, item.size, item.subject, item.reason)
