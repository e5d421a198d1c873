"""SECURITY-CASES section A against scripted fake servers that play the attacker.

Each fake server records every line the client sent, before TLS ("plain") and after ("tls",
decrypted), so the tests can show that no credential ever left the client on a refused path.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import ssl
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import trustme

from tuimail.model.config import Account, Protocol, Security, ServerConfig
from tuimail.model.secret import Secret
from tuimail.protocols.connect import (close_pop3, close_smtp, open_imap, open_pop3, open_smtp,
                                       pop3_login, smtp_login, tls_info)
from tuimail.protocols.errors import MailTimeout, StartTlsError, TlsError
from tuimail.protocols.imap import ImapSession

PASSWORD = "fake-server-pw-42"
CREDENTIAL_WORDS = (b"LOGIN", b"AUTH", b"USER", b"PASS", PASSWORD.encode(),
                    base64.b64encode(f"\0alice\0{PASSWORD}".encode()))


class Peer:
    """The server's side of one connection; records what the client sent."""

    def __init__(self, sock: socket.socket, phase: str):
        self.sock, self.phase = sock, phase
        self.file = sock.makefile("rb")
        self.lines: list[tuple[str, bytes]] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        line = self.file.readline(65536)
        if line:
            self.lines.append((self.phase, line))
        return line

    def starttls(self, context: ssl.SSLContext) -> None:
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.file = self.sock.makefile("rb")
        self.phase = "tls"


class FakeServer:
    """One connection on 127.0.0.1, served by script(peer) in a thread."""

    def __init__(self, script, implicit_tls: ssl.SSLContext | None = None):
        self.script, self.implicit_tls = script, implicit_tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.peer: Peer | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(10)
            if self.implicit_tls:
                conn = self.implicit_tls.wrap_socket(conn, server_side=True)
            self.peer = Peer(conn, "tls" if self.implicit_tls else "plain")
            self.script(self.peer)
        except (OSError, ValueError) as exc:
            self.error = exc
        finally:
            self.listener.close()

    def client_lines(self, phase: str | None = None) -> bytes:
        self.thread.join(10)
        assert not self.thread.is_alive()
        lines = self.peer.lines if self.peer else []
        return b"".join(line for p, line in lines if phase is None or p == phase)

    def assert_no_credentials(self) -> None:
        sent = self.client_lines()
        for word in CREDENTIAL_WORDS:
            assert word not in sent.upper() and word not in sent, (word, sent)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    ca_pem = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))

    def context(issuer: trustme.CA, *names: str, **kwargs) -> ssl.SSLContext:
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        issuer.issue_cert(*names, **kwargs).configure_cert(server)
        return server

    self_signed = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other_ca.cert_pem.write_to_path(str(directory / "self.pem"))
    other_ca.private_key_pem.write_to_path(str(directory / "self.key"))
    self_signed.load_cert_chain(directory / "self.pem", directory / "self.key")
    past = datetime.now(timezone.utc) - timedelta(days=30)
    return {
        "ca_pem": ca_pem,
        "good": context(ca, "127.0.0.1", "localhost"),
        "unknown root": context(other_ca, "127.0.0.1", "localhost"),
        "self-signed": self_signed,
        "wrong name": context(ca, "mail.example.org"),
        "expired": context(ca, "127.0.0.1", not_before=past - timedelta(days=60), not_after=past),
    }


def make_account(protocol: Protocol, port: int, security: Security, ca_pem: Path | None,
                 pin: str | None = None) -> Account:
    server = ServerConfig(protocol, "127.0.0.1", port, security, cert_fingerprint=pin)
    return Account(name="fake", email="alice@example.test", username="alice",
                   ca_file=str(ca_pem) if ca_pem else None, timeout=5.0,
                   **{protocol.value: server, **({} if protocol is not Protocol.SMTP else
                                                 {"imap": ServerConfig(Protocol.IMAP, "127.0.0.1", 1,
                                                                       Security.TLS)})})


# ---------------------------------------------------------------- scripted servers

def imap_script(greeting=b"* OK ready", pre_caps=b"IMAP4rev1 STARTTLS LOGINDISABLED",
                starttls_reply=b"OK begin TLS", inject=b"", post_caps=b"IMAP4rev1 AUTH=PLAIN REAL",
                tls: ssl.SSLContext | None = None):
    def script(peer: Peer) -> None:
        peer.send(greeting + b"\r\n")
        while line := peer.line():
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            command = rest.split(b" ")[0].upper()
            if command == b"CAPABILITY":
                caps = post_caps if peer.phase == "tls" else pre_caps
                peer.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif command == b"STARTTLS":
                peer.send(tag + b" " + starttls_reply + b"\r\n" + inject)
                if starttls_reply.startswith(b"OK"):
                    peer.starttls(tls)
            elif command == b"LOGOUT":
                peer.send(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return
            else:
                peer.send(tag + b" OK done\r\n")
    return script


def pop3_script(capa=(b"USER", b"STLS"), stls_reply=b"+OK begin TLS", inject=b"",
                post_capa=(b"USER", b"SASL PLAIN", b"REAL"), capa_ok=True, tls=None):
    def script(peer: Peer) -> None:
        peer.send(b"+OK POP3 ready\r\n")
        while line := peer.line():
            command = line.split()[0].upper() if line.split() else b""
            if command == b"CAPA":
                if not capa_ok:
                    peer.send(b"-ERR unknown command\r\n")
                    continue
                lines = post_capa if peer.phase == "tls" else capa
                peer.send(b"+OK\r\n" + b"".join(c + b"\r\n" for c in lines) + b".\r\n")
            elif command == b"STLS":
                peer.send(stls_reply + b"\r\n" + inject)
                if stls_reply.startswith(b"+OK"):
                    peer.starttls(tls)
            elif command == b"QUIT":
                peer.send(b"+OK bye\r\n")
                return
            else:
                peer.send(b"+OK\r\n")
    return script


def smtp_script(ehlo=(b"PIPELINING", b"STARTTLS"), starttls_reply=b"220 go ahead", inject=b"",
                post_ehlo=(b"AUTH PLAIN LOGIN", b"REAL"), tls=None):
    def script(peer: Peer) -> None:
        peer.send(b"220 fake.example ESMTP\r\n")
        while line := peer.line():
            command = line.split()[0].upper() if line.split() else b""
            if command == b"EHLO":
                lines = [b"fake.example", *(post_ehlo if peer.phase == "tls" else ehlo)]
                peer.send(b"".join(b"250-" + x + b"\r\n" for x in lines[:-1]) + b"250 " + lines[-1] + b"\r\n")
            elif command == b"STARTTLS":
                peer.send(starttls_reply + b"\r\n" + inject)
                if starttls_reply.startswith(b"220"):
                    peer.starttls(tls)
            elif command == b"AUTH":
                peer.send(b"235 2.7.0 ok\r\n")
            elif command == b"QUIT":
                peer.send(b"221 bye\r\n")
                return
            else:
                peer.send(b"250 ok\r\n")
    return script


# ---------------------------------------------------------------- A1, A2, A3: refuse before credentials

@pytest.mark.parametrize("script, reason", [
    (imap_script(pre_caps=b"IMAP4rev1 AUTH=PLAIN"), "does not offer STARTTLS"),
    (imap_script(starttls_reply=b"NO not today"), "STARTTLS failed"),
    (imap_script(starttls_reply=b"BAD what"), "STARTTLS failed"),
    (imap_script(greeting=b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome back"), "PREAUTH"),
])
def test_imap_starttls_refusals(pki, script, reason):
    server = FakeServer(script)
    account = make_account(Protocol.IMAP, server.port, Security.STARTTLS, pki["ca_pem"])
    with pytest.raises(StartTlsError, match=reason):
        ImapSession.connect(account, Secret(PASSWORD))
    server.assert_no_credentials()
    assert not any(word in server.client_lines() for word in (b"SELECT", b"APPEND", b"STARTTLS\r\nx"))


@pytest.mark.parametrize("script, reason", [
    (pop3_script(capa=(b"USER", b"TOP")), "does not offer STLS"),
    (pop3_script(stls_reply=b"-ERR not now"), "STARTTLS failed; unencrypted reply: -ERR not now"),
    (pop3_script(capa_ok=False), "does not answer CAPA"),
])
def test_pop3_stls_refusals(pki, script, reason):
    server = FakeServer(script)
    account = make_account(Protocol.POP3, server.port, Security.STARTTLS, pki["ca_pem"])
    with pytest.raises(StartTlsError, match=reason):
        pop = open_pop3(account, account.pop3)
        pop3_login(pop, account, account.pop3, Secret(PASSWORD))
    server.assert_no_credentials()


@pytest.mark.parametrize("script, reason", [
    (smtp_script(ehlo=(b"PIPELINING", b"AUTH PLAIN LOGIN")), "does not offer STARTTLS"),
    (smtp_script(starttls_reply=b"454 4.7.0 TLS not available"), "STARTTLS failed; unencrypted reply: 454"),
    (smtp_script(starttls_reply=b"502 5.5.1 no"), "STARTTLS failed; unencrypted reply: 502"),
])
async def test_smtp_starttls_refusals(pki, script, reason):
    server = FakeServer(script)
    account = make_account(Protocol.SMTP, server.port, Security.STARTTLS, pki["ca_pem"])
    with pytest.raises(StartTlsError, match=reason):
        smtp = await open_smtp(account, account.smtp)
        await smtp_login(smtp, account, account.smtp, Secret(PASSWORD))
    await asyncio.to_thread(server.assert_no_credentials)  # the loop must run to close the socket


# ---------------------------------------------------------------- A4, A5, A6, A9: injection

def test_imap_injected_lines_after_starttls_have_no_effect(pki):
    server = FakeServer(imap_script(
        inject=b"* CAPABILITY IMAP4rev1 AUTH=PLAIN INJECTED\r\n* 666 EXISTS\r\n", tls=pki["good"]))
    account = make_account(Protocol.IMAP, server.port, Security.STARTTLS, pki["ca_pem"])
    with ImapSession.connect(account, Secret(PASSWORD)) as session:
        caps = session.capabilities()
        assert "REAL" in caps and "INJECTED" not in caps and "STARTTLS" not in caps
        assert not session._client._imap.untagged_responses.get("EXISTS")
        assert session.tls is not None and session.tls.version in ("TLSv1.2", "TLSv1.3")
    assert b"LOGIN" in server.client_lines("tls") and b"LOGIN" not in server.client_lines("plain")
    assert PASSWORD.encode() not in server.client_lines("plain")


def test_pop3_injected_lines_after_stls_have_no_effect(pki):
    server = FakeServer(pop3_script(inject=b"+OK injected\r\n-ERR injected\r\n", tls=pki["good"]))
    account = make_account(Protocol.POP3, server.port, Security.STARTTLS, pki["ca_pem"])
    pop = open_pop3(account, account.pop3)
    try:
        assert "REAL" in pop.capa() and "STLS" not in pop.capa()
        pop3_login(pop, account, account.pop3, Secret(PASSWORD))
    finally:
        close_pop3(pop)
    assert b"PASS" in server.client_lines("tls") and b"USER" not in server.client_lines("plain")


async def test_smtp_injected_lines_after_starttls_have_no_effect(pki):
    server = FakeServer(smtp_script(inject=b"250-AUTH CRAM-MD5 INJECTED\r\n250 OK\r\n", tls=pki["good"]))
    account = make_account(Protocol.SMTP, server.port, Security.STARTTLS, pki["ca_pem"])
    smtp = await open_smtp(account, account.smtp)
    try:
        await smtp_login(smtp, account, account.smtp, Secret(PASSWORD))
        assert smtp.supports_extension("real") and not smtp.supports_extension("injected")
        assert "cram-md5" not in smtp.server_auth_methods
    finally:
        await close_smtp(smtp)
    assert b"AUTH" in await asyncio.to_thread(server.client_lines, "tls")
    assert b"AUTH" not in server.client_lines("plain")


# ---------------------------------------------------------------- A11: certificates, every protocol

def _serve_greeting(greeting: bytes):
    def script(peer: Peer) -> None:
        peer.send(greeting)
        while peer.line():
            pass
    return script


GREETINGS = {Protocol.IMAP: b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
             Protocol.POP3: b"+OK hi\r\n", Protocol.SMTP: b"220 fake ESMTP\r\n"}


async def _open(account: Account, protocol: Protocol):
    if protocol is Protocol.IMAP:
        return ImapSession.connect(account, Secret(PASSWORD))
    if protocol is Protocol.POP3:
        pop = open_pop3(account, account.pop3)
        pop3_login(pop, account, account.pop3, Secret(PASSWORD))
        return pop
    smtp = await open_smtp(account, account.smtp)
    await smtp_login(smtp, account, account.smtp, Secret(PASSWORD))
    return smtp


@pytest.mark.parametrize("protocol", list(Protocol))
@pytest.mark.parametrize("case, reason", [
    ("unknown root", "unable to get local issuer certificate"),
    ("self-signed", "self-signed certificate"),
    ("wrong name", "IP address mismatch"),
    ("expired", "certificate has expired"),
])
async def test_bad_certificates_are_refused_before_anything_is_sent(pki, protocol, case, reason):
    server = FakeServer(_serve_greeting(GREETINGS[protocol]), implicit_tls=pki[case])
    account = make_account(protocol, server.port, Security.TLS, pki["ca_pem"])
    with pytest.raises(TlsError, match=reason) as caught:
        await _open(account, protocol)
    assert str(caught.value).startswith(f"{protocol.value} 127.0.0.1:{server.port}: certificate verify failed")
    # the handshake never completed: not one byte of session
    assert await asyncio.to_thread(server.client_lines) == b""
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("protocol", list(Protocol))
async def test_a_fingerprint_pin_is_the_only_way_past(pki, protocol):
    probe = FakeServer(_serve_greeting(GREETINGS[protocol]), implicit_tls=pki["unknown root"])
    with socket.create_connection(("127.0.0.1", probe.port)) as raw:
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        with unverified.wrap_socket(raw) as tls:
            pin = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()

    wrong = "00" * 32
    server = FakeServer(_serve_greeting(GREETINGS[protocol]), implicit_tls=pki["unknown root"])
    account = make_account(protocol, server.port, Security.TLS, pki["ca_pem"], pin=wrong)
    with pytest.raises(TlsError, match="does not match the pinned cert_fingerprint"):
        await _open(account, protocol)
    await asyncio.to_thread(server.assert_no_credentials)
    assert server.client_lines() == b""

    script = {Protocol.IMAP: imap_script(greeting=b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi"),
              Protocol.POP3: pop3_script(capa=(b"USER",)),
              Protocol.SMTP: smtp_script(ehlo=(b"AUTH PLAIN",))}[protocol]
    server = FakeServer(script, implicit_tls=pki["unknown root"])
    account = make_account(protocol, server.port, Security.TLS, pki["ca_pem"], pin=pin)
    conn = await _open(account, protocol)
    info = tls_info(conn._client if protocol is Protocol.IMAP else conn)
    assert info.verified_by == "pin" and info.sha256.replace(":", "").lower() == pin
    if protocol is Protocol.IMAP:
        conn.close()
    elif protocol is Protocol.POP3:
        close_pop3(conn)
    else:
        await close_smtp(conn)


def test_imap_greeting_preauth_on_implicit_tls_is_refused_too(pki):
    server = FakeServer(imap_script(greeting=b"* PREAUTH hi"), implicit_tls=pki["good"])
    account = make_account(Protocol.IMAP, server.port, Security.TLS, pki["ca_pem"])
    with pytest.raises(Exception, match="PREAUTH"):
        open_imap(account, account.imap)
    server.assert_no_credentials()


# ---------------------------------------------------------------- timeouts

def _silent(after: bytes = b""):
    def script(peer: Peer) -> None:
        if after:
            peer.send(after)
        peer.line()  # then nothing: wait for the client to give up
        while peer.line():
            pass
    return script


@pytest.mark.parametrize("protocol", list(Protocol))
@pytest.mark.parametrize("security", [Security.TLS, Security.STARTTLS])
async def test_a_silent_server_times_out(pki, protocol, security):
    implicit = pki["good"] if security is Security.TLS else None
    server = FakeServer(_silent(), implicit_tls=implicit)
    account = replace(make_account(protocol, server.port, security, pki["ca_pem"]), timeout=0.5)
    with pytest.raises(MailTimeout, match="timed out after 0.5 s") as caught:
        await _open(account, protocol)
    assert isinstance(caught.value, TimeoutError)
    await asyncio.to_thread(server.assert_no_credentials)


@pytest.mark.parametrize("protocol, script", [
    (Protocol.IMAP, imap_script()), (Protocol.POP3, pop3_script()), (Protocol.SMTP, smtp_script())])
async def test_a_server_that_never_starts_tls_times_out(pki, protocol, script):
    # tls=None: the script answers "go ahead" and then never does the handshake
    server = FakeServer(_never_handshakes(script))
    account = replace(make_account(protocol, server.port, Security.STARTTLS, pki["ca_pem"]), timeout=0.5)
    with pytest.raises((MailTimeout, TlsError)):
        await _open(account, protocol)
    await asyncio.to_thread(server.assert_no_credentials)


def _never_handshakes(script):
    def run(peer: Peer) -> None:
        peer.starttls = lambda context: peer.line()  # swallow the ClientHello, answer nothing
        script(peer)
    return run
