"""SMTP submission with aiosmtpd: AUTH against the testbed users, delivery into Dovecot by LMTP.

Every accepted message is also written to the spool directory with its envelope, so tests can
see exactly what a client submitted (Bcc handling, the envelope, the bytes). Recipients outside
the testbed domain are only spooled, never relayed.
"""
from __future__ import annotations

import asyncio
import email.utils
import hmac
import itertools
import json
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class _QuietAiosmtpd(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in str(record.msg)  # aiosmtpd's own doing


logging.getLogger("mail.log").addFilter(_QuietAiosmtpd())


class _ImplicitTlsSMTP(SMTP):
    """SMTP on a socket that is TLS from the first byte (465-like).

    aiosmtpd cannot tell such a socket is TLS, so it answers AUTH with 538 unless
    auth_require_tls is off, and turning it off in the constructor warns on every connection.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auth_require_tls=True, **kwargs)
        self._auth_require_tls = False


@dataclass(frozen=True)
class Submission:
    """One message the submission server accepted, as stored in the spool."""
    path: Path  # the message with the testbed's Received header on top
    mail_from: str
    rcpt_tos: tuple[str, ...]
    user: str  # the authenticated user
    tls_version: str | None
    port: int
    delivered: tuple[str, ...]  # recipients handed to Dovecot by LMTP
    captured: tuple[str, ...]  # recipients outside the domain: spooled only

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @classmethod
    def load(cls, meta_path: Path) -> Submission:
        meta = json.loads(meta_path.read_text())
        return cls(path=meta_path.with_suffix(".eml"), mail_from=meta["mail_from"],
                   rcpt_tos=tuple(meta["rcpt_tos"]), user=meta["user"],
                   tls_version=meta["tls_version"], port=meta["port"],
                   delivered=tuple(meta["delivered"]), captured=tuple(meta["captured"]))


def read_spool(spool: Path) -> list[Submission]:
    return [Submission.load(path) for path in sorted(spool.glob("*.json"))]


class SubmissionHandler:
    def __init__(self, users: dict[str, str], domain: str, hostname: str,
                 lmtp: tuple[str, int], spool: Path):
        self.users, self.domain, self.hostname, self.lmtp, self.spool = (
            users, domain.lower(), hostname, lmtp, spool)
        self._ids = itertools.count(1)

    def user_for_login(self, login: str) -> str | None:
        name, _, domain = login.partition("@")
        if domain and domain.lower() != self.domain:
            return None
        return name.lower() if name.lower() in self.users else None

    def authenticator(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            user = self.user_for_login(login)
            if user is not None and hmac.compare_digest(
                    auth_data.password, self.users[user].encode()):
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    def is_local(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() == self.domain

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.is_local(address):
            local_part = address.rpartition("@")[0].split("+", 1)[0].lower()
            if local_part not in self.users:
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        queue_id = f"{time.time_ns() // 1000 % 10**10:010d}{next(self._ids):04X}"
        tls = server.transport.get_extra_info("ssl_object")
        received = self._received(session, tls, queue_id, envelope.rcpt_tos)
        data = received + envelope.original_content
        local = [r for r in envelope.rcpt_tos if self.is_local(r)]
        if local:
            try:
                await asyncio.to_thread(self._deliver, envelope.mail_from, local, data)
            except (OSError, smtplib.SMTPException) as exc:
                return f"451 4.3.0 Local delivery by LMTP failed: {exc}"
        self._spool(queue_id, envelope, session, tls, server, data, local)
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def _received(self, session, tls: ssl.SSLObject | None, queue_id: str,
                  rcpt_tos: Sequence[str]) -> bytes:
        # Postfix's layout, so header-route parsing sees what real mail carries.
        ip = session.peer[0] if session.peer else "unknown"
        name = "localhost" if ip.startswith("127.") else "unknown"
        helo = re.sub(r"[^\x21-\x7e]", "?", session.host_name or "unknown")
        lines = [f"Received: from {helo} ({name} [{ip}])"]
        if tls is not None:
            cipher, _, bits = tls.cipher()
            lines.append(f"\t(using {tls.version()} with cipher {cipher} ({bits}/{bits} bits))")
            lines.append("\t(No client certificate requested)")
        if session.authenticated:
            lines.append(f"\t(Authenticated sender: {session.auth_data})")
        protocol = ("ESMTP" if session.extended_smtp else "SMTP") + ("S" if tls else "") + (
            "A" if session.authenticated else "")
        by = f"\tby {self.hostname} (tuimail-testbed) with {protocol} id {queue_id}"
        stamp = email.utils.format_datetime(email.utils.localtime())
        if len(rcpt_tos) == 1:
            lines += [by, f"\tfor <{rcpt_tos[0]}>; {stamp}"]
        else:
            lines += [f"{by};", f"\t{stamp}"]
        return ("\r\n".join(lines) + "\r\n").encode()

    def _deliver(self, mail_from: str, recipients: list[str], data: bytes) -> None:
        # One transaction per recipient: smtplib reads a single reply after DATA, while LMTP
        # sends one per recipient.
        with smtplib.LMTP(self.lmtp[0], self.lmtp[1], local_hostname=self.hostname,
                          timeout=30) as lmtp:
            for rcpt in recipients:
                lmtp.sendmail(mail_from, [rcpt], data)

    def _spool(self, queue_id, envelope, session, tls, server, data, local) -> None:
        stem = self.spool / f"{time.time_ns()}-{queue_id}"
        stem.with_suffix(".eml").write_bytes(data)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "user": session.auth_data, "tls_version": tls.version() if tls else None,
                "port": server.transport.get_extra_info("sockname")[1],
                "delivered": local,
                "captured": [r for r in envelope.rcpt_tos if not self.is_local(r)]}
        # The .json appears last, so a reader never sees a half-written message.
        tmp = stem.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.rename(stem.with_suffix(".json"))


@dataclass(frozen=True)
class Listener:
    hosts: tuple[str, ...]
    port: int
    implicit_tls: ssl.SSLContext | None = None  # TLS from the first byte (465-like)
    starttls: ssl.SSLContext | None = None  # STARTTLS offered and required (587-like)


class SubmissionServers:
    """aiosmtpd servers on their own event loop in a daemon thread."""

    def __init__(self, handler: SubmissionHandler, listeners: Sequence[Listener]):
        self.handler, self.listeners = handler, listeners
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.base_events.Server] = []

    def _factory(self, listener: Listener):
        kind = SMTP if listener.implicit_tls is None else _ImplicitTlsSMTP

        def make() -> SMTP:
            return kind(self.handler, hostname=self.handler.hostname, ident="tuimail-testbed",
                        tls_context=listener.starttls, require_starttls=bool(listener.starttls),
                        auth_required=True, authenticator=self.handler.authenticator,
                        loop=self._loop)
        return make

    def start(self, timeout: float = 10.0) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                for listener in self.listeners:
                    self._servers.append(loop.run_until_complete(loop.create_server(
                        self._factory(listener), host=list(listener.hosts), port=listener.port,
                        ssl=listener.implicit_tls, reuse_address=True)))
            except BaseException as exc:  # reported to start() in the caller's thread
                failure.append(exc)
                for server in self._servers:
                    server.close()
                self._servers = []
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                loop.run_until_complete(asyncio.sleep(0))
                loop.close()

        self._thread = threading.Thread(target=run, name="testbed-smtp", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("SMTP servers did not start")
        if failure:
            raise failure[0]

    async def _close(self, timeout: float) -> None:
        for server in self._servers:
            server.close()
        try:
            await asyncio.wait_for(asyncio.gather(*(s.wait_closed() for s in self._servers)),
                                   timeout)
        except asyncio.TimeoutError:
            pass  # connected clients keep wait_closed() waiting on 3.12+; they are cancelled next

    def stop(self, timeout: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(timeout / 2), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._loop = self._thread = None
            self._servers = []
