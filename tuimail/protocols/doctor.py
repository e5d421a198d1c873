"""`doctor`: connect to each configured server and report what happened, step by step.

Blocking (the TUI runs it in a thread). A failure ends that protocol's checks, not the others'.
The report holds only plain strings; format_report() makes the lines both the CLI and the TUI
show (the TUI as plain Text, never markup).

When a TraceBook records (`--trace FILE`, the TUI's book), each connection is traced as
"doctor" from TLS on, as the sessions trace theirs: the greeting only when it came over TLS,
the password registered before login so that no entry can hold it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import poplib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from tuimail.model.config import Account, Protocol, ServerConfig, Security
from tuimail.model.secret import Secret
from tuimail.model.text import one_line
from tuimail.protocols.connect import (close_imap, close_pop3, close_smtp, imap_login, open_imap,
                                       open_pop3, open_smtp, pop3_login, smtp_login, tls_info, translate,
                                       where)
from tuimail.protocols.errors import MailError
from tuimail.protocols.tls import TlsInfo
from tuimail.protocols.trace import ProtocolTrace, connection_trace

PURPOSE = "doctor"  # the trace label of the doctor's connections


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class ProtocolReport:
    protocol: str
    host: str
    port: int
    security: str
    steps: list[Step] = field(default_factory=list)
    tls: TlsInfo | None = None
    capabilities: tuple[str, ...] = ()
    auth_mechanisms: tuple[str, ...] = ()
    login_ok: bool | None = None  # None: not attempted
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(step.ok for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def failure_line(self) -> str | None:
        if self.ok:
            return None
        reason = self.error or next((s.detail for s in self.steps if not s.ok), "failed")
        return f"FAIL {self.protocol} {_hostport(self.host, self.port)}: {reason}"


@dataclass
class DoctorReport:
    account: str
    reports: list[ProtocolReport] = field(default_factory=list)
    email: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.reports) and all(report.ok for report in self.reports)

    def failures(self) -> list[str]:
        return [line for line in (r.failure_line() for r in self.reports) if line]


class _Recorder:
    """Collects steps: from connect.py's phase hook, and from the doctor's own checks."""

    def __init__(self, report: ProtocolReport, details: dict[str, str]):
        self.report, self.details = report, details

    def hook(self, name: str, seconds: float, error: MailError | None) -> None:
        detail = self.details.get(name, "") if error is None else error.reason
        self.report.steps.append(Step(name, error is None, seconds, detail))
        if name == "login":
            self.report.login_ok = error is None

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        step = Step(name, True, 0.0)
        start = time.monotonic()
        try:
            yield step
        except MailError as exc:
            step.ok, step.detail = False, exc.reason
            raise
        finally:
            step.seconds = time.monotonic() - start
            self.report.steps.append(step)


def run_doctor(account: Account, password: Secret | None, protocols: Iterable[Protocol | str] | None = None,
               *, timeout: float | None = None, login: bool = True) -> DoctorReport:
    """Check every configured server of account (or only those in protocols)."""
    wanted = [Protocol(p) for p in protocols] if protocols is not None else list(Protocol)
    report = DoctorReport(account=account.name, email=account.email)
    for protocol in wanted:
        server = account.server(protocol)
        if server is None:
            continue
        report.reports.append(_check(account, server, password, timeout, login))
    return report


def _check(account: Account, server: ServerConfig, password: Secret | None, timeout: float | None,
           login: bool) -> ProtocolReport:
    report = ProtocolReport(server.protocol.value, server.host, server.port, server.security.value)
    details = {
        "connect": ("TCP, TLS handshake and greeting" if server.security is Security.TLS
                    else "TCP and greeting, in plain text"),
        "starttls": "upgraded to TLS; capabilities from before TLS discarded",
        "login": f"logged in as {account.username}",
    }
    recorder = _Recorder(report, details)
    checks = {Protocol.IMAP: _imap, Protocol.POP3: _pop3}
    trace = connection_trace(server.protocol.value, account.name, PURPOSE)
    if trace is not None:
        trace.add_secret(password)
    try:
        if server.protocol is Protocol.SMTP:
            _run_async(_smtp(account, server, password, timeout, login, recorder, trace))
        else:
            checks[server.protocol](account, server, password, timeout, login, recorder, trace)
    except MailError as exc:
        report.error = exc.reason
        if not report.steps or report.steps[-1].ok:
            report.steps.append(Step("setup", False, 0.0, exc.reason))
    except Exception as exc:  # a bug must not hide the other protocols' results
        report.error = f"unexpected {type(exc).__name__}: {one_line(str(exc))}"
        report.steps.append(Step("internal", False, 0.0, report.error))
    return _scrub(report, password)


def _login_step(recorder: _Recorder, password: Secret | None, login: bool) -> bool:
    """False when login is to be skipped; a failed step when there is no password."""
    if not login:
        return False
    if password is None:
        with recorder.step("login"):
            raise MailError("not tested: no password (set one with `tuimail password set "
                            "ACCOUNT` or password_command)")
    return True


def _tls_steps(recorder: _Recorder, conn: object, server: ServerConfig) -> None:
    with recorder.step("tls") as step:
        info = recorder.report.tls = tls_info(conn)
        step.detail = info.summary() if info else "none: the connection is not encrypted (security = \"plain\")"
        if info is None and server.security is not Security.PLAIN:
            raise MailError("connection is not TLS")
    if info is None:
        return
    with recorder.step("certificate") as step:
        if info.verified_by == "pin":
            step.detail = f"pinned by cert_fingerprint (sha256 {info.sha256}); CA and host name not checked"
        else:
            expires = info.not_after.strftime("%Y-%m-%d") if info.not_after else "unknown"
            days = info.days_left()
            left = f", {days} days left" if days is not None else ""
            names = ", ".join(info.alt_names) or "none"
            step.detail = (f"subject {info.subject or '(empty)'}; names {names}; issuer {info.issuer}; "
                           f"expires {expires}{left}")
            if days is not None and days < 0:
                raise MailError(f"certificate expired on {expires}")


def _caps_and_auth(recorder: _Recorder, capabilities: Iterable[str], auth: Iterable[str],
                   step: Step) -> None:
    report = recorder.report
    report.capabilities = tuple(capabilities)
    report.auth_mechanisms = tuple(auth)
    step.detail = " ".join(report.capabilities) or "(none)"
    with recorder.step("auth mechanisms") as auth_step:
        auth_step.detail = " ".join(report.auth_mechanisms) or "none advertised"


def _imap(account, server, password, timeout, login, recorder: _Recorder,
          trace: ProtocolTrace | None) -> None:
    client = open_imap(account, server, timeout=timeout, on_step=recorder.hook)
    try:
        if trace is not None:  # as ImapSession.connect does, at the same point
            from tuimail.protocols.wire import ImapLimits, ImapWire

            wire = ImapWire(getattr(client, "_imap"), timeout or account.timeout, trace,
                            ImapLimits.of(account.limits))
            wire.where = where(server)
            wire.install()
            if client.welcome and server.security is Security.TLS:
                trace.received_line(client.welcome + b"\r\n")
        _tls_steps(recorder, client, server)
        with recorder.step("capabilities") as step:
            caps = [_str(c) for c in client.capabilities()]  # a fresh CAPABILITY after STARTTLS
        _caps_and_auth(recorder, caps, [c[5:] for c in caps if c.upper().startswith("AUTH=")], step)
        if _login_step(recorder, password, login):
            imap_login(client, account, server, password, on_step=recorder.hook)
    finally:
        close_imap(client)


def _pop3(account, server, password, timeout, login, recorder: _Recorder,
          trace: ProtocolTrace | None) -> None:
    pop = open_pop3(account, server, timeout=timeout, on_step=recorder.hook)
    try:
        if trace is not None:
            _PoplibTap(pop, trace)
            if isinstance(pop.welcome, bytes) and server.security is Security.TLS:
                trace.received_line(pop.welcome + b"\r\n")
        _tls_steps(recorder, pop, server)
        with recorder.step("capabilities") as step:
            try:
                capa = pop.capa()  # after STLS: the only answer that counts
            except poplib.error_proto:
                capa = {}
        caps = [" ".join([name, *args]) for name, args in capa.items()]
        _caps_and_auth(recorder, caps, capa.get("SASL", []), step)
        if _login_step(recorder, password, login):
            pop3_login(pop, account, server, password, on_step=recorder.hook)
    finally:
        close_pop3(pop)


async def _smtp(account, server, password, timeout, login, recorder: _Recorder,
                trace: ProtocolTrace | None) -> None:
    smtp = await open_smtp(account, server, timeout=timeout, on_step=recorder.hook)
    try:
        if trace is not None:  # as the send session does: from TLS on, no greeting
            from tuimail.protocols.smtp import trace_smtp

            trace_smtp(smtp, trace)
        _tls_steps(recorder, smtp, server)
        with recorder.step("capabilities") as step:
            try:
                await smtp.ehlo()  # after TLS: the only EHLO answer that counts
            except Exception as exc:
                raise translate(exc, where(server), timeout or account.timeout) from None
        caps = [f"{name.upper()} {value}".strip() for name, value in smtp.esmtp_extensions.items()]
        _caps_and_auth(recorder, caps, [m.upper() for m in smtp.server_auth_methods], step)
        if _login_step(recorder, password, login):
            await smtp_login(smtp, account, server, password, on_step=recorder.hook)
    finally:
        await close_smtp(smtp)


class _PoplibTap:
    """Records what one poplib connection says and hears from here on, in Pop3Wire's format:
    a command or status line as a line, the data of a multi-line answer (CAPA) as one
    {N bytes} entry. The doctor drives poplib itself; its calls are not changed."""

    def __init__(self, pop: poplib.POP3, trace: ProtocolTrace):
        self.trace = trace
        self.data: list[bytes] | None = None  # the lines of a multi-line answer being read
        self.long = False  # the next status line opens a multi-line answer
        self._putline, self._getline, self._getlongresp = pop._putline, pop._getline, pop._getlongresp
        pop._putline, pop._getline, pop._getlongresp = self.putline, self.getline, self.getlongresp

    def putline(self, line: bytes) -> None:
        self._putline(line)
        self.trace.sent(line + b"\r\n")

    def getline(self) -> tuple[bytes, int]:
        line, octets = self._getline()
        raw = line + (b"\r\n" if octets - len(line) == 2 else b"\n")  # poplib cut the line end
        if self.data is None:
            self.trace.received_line(raw)
            if self.long and line.startswith(b"+"):
                self.data = []
            self.long = False
        else:
            self.data.append(raw)
            if line == b".":
                self._flush()
        return line, octets

    def getlongresp(self):
        self.long = True
        try:
            return self._getlongresp()
        finally:
            self.long = False
            self._flush()  # what came of an answer cut short, too

    def _flush(self) -> None:
        if self.data:
            self.trace.received_literal(b"".join(self.data))
        self.data = None


def _run_async(coro) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # called from inside an event loop
        pool.submit(asyncio.run, coro).result()


def _str(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _scrub(report: ProtocolReport, password: Secret | None) -> ProtocolReport:
    """Belt and braces: no report text ever holds the password, even if a server echoed it."""
    if password is None or not password.reveal():
        return report
    secret = password.reveal()
    for step in report.steps:
        step.detail = step.detail.replace(secret, "********")
    if report.error:
        report.error = report.error.replace(secret, "********")
    return report


def format_report(report: DoctorReport) -> list[str]:
    """Plain text lines (no markup, no control characters) for the CLI and the TUI."""
    email = f" <{report.email}>" if report.email else ""
    lines = [one_line(f"account {report.account}{email}")]
    if not report.reports:
        lines.append("no servers to check")
    for proto in report.reports:
        lines.append(one_line(f"{proto.protocol} {_hostport(proto.host, proto.port)} "
                              f"(security = {proto.security})", 500))
        for step in proto.steps:
            mark = "ok  " if step.ok else "FAIL"
            lines.append(f"  {mark} {step.name:<16} {step.seconds:7.3f} s  {one_line(step.detail, 2000)}")
            if step.name == "certificate" and proto.tls and proto.tls.sha256 and proto.tls.verified_by == "ca":
                lines.append(f"  {'':4} {'':16} {'':9}  sha256 {proto.tls.sha256}")
        verdict = "ok" if proto.ok else "FAILED"
        lines.append(f"  => {proto.protocol} {verdict} in {proto.seconds:.3f} s")
    failures = report.failures()
    lines += [one_line(line, 2000) for line in failures]
    if report.ok:
        lines.append("all checks passed")
    elif not report.reports:
        lines.append(f"FAIL account {report.account}: no imap, pop3 or smtp server configured")
    return lines
