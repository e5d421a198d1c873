"""protocols/connect.py against the real testbed: Dovecot (IMAP, POP3) and aiosmtpd (SMTP).

Logins over every protocol and port, a message sent by SMTP and read back by IMAP and POP3, and
the TLS failures (wrong CA, wrong host name, STARTTLS not offered, plain text), each of which
must stop before any credential is sent. The proof comes from both ends: a recording proxy
shows what the client sent, and the servers' own logs show no authentication attempt.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme

from tests.recording_proxy import CREDENTIAL_COMMAND, RecordingProxy
from tuimail.model.config import Account, parse_config
from tuimail.model.secret import Secret
from tuimail.protocols.connect import (close_imap, close_pop3, close_smtp, imap_login, open_imap,
                                       open_pop3, open_smtp, pop3_login, smtp_login, tls_info)
from tuimail.protocols.errors import (AuthError, MailError, MailTimeout, PlaintextRefused, StartTlsError,
                                     TlsError)
from tuimail.protocols.imap import ImapSession
from tuimail.store.credentials import lookup_password

CASES = [("imap", "starttls"), ("imap", "tls"), ("pop3", "starttls"), ("pop3", "tls"),
         ("smtp", "starttls"), ("smtp", "tls")]


def account_of(testbed, user: str = "alice", **overrides) -> Account:
    return parse_config(testbed.config_toml(user, **overrides)).account(user)


def only(testbed, protocol: str, user: str = "alice", **server) -> Account:
    """An account whose `protocol` server is configured by **server (the others as default)."""
    reading = protocol if protocol != "smtp" else "imap"
    return account_of(testbed, user, protocol=reading, timeout=10, **{protocol: server})


async def login(account: Account, protocol: str, password: Secret):
    """Open and log in the way the client does; returns the open connection."""
    server = account.server(protocol)  # type: ignore[arg-type]
    if protocol == "imap":
        client = open_imap(account, server)
        try:
            imap_login(client, account, server, password)
        except BaseException:
            close_imap(client, logout=False)
            raise
        return client
    if protocol == "pop3":
        pop = open_pop3(account, server)
        try:
            pop3_login(pop, account, server, password)
        except BaseException:
            close_pop3(pop, quit=False)
            raise
        return pop
    smtp = await open_smtp(account, server)
    try:
        await smtp_login(smtp, account, server, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


async def close(conn) -> None:
    if hasattr(conn, "select_folder"):
        close_imap(conn)
    elif hasattr(conn, "retr"):
        close_pop3(conn)
    else:
        await close_smtp(conn)


# ---------------------------------------------------------------- logins and mail round trip

@pytest.mark.parametrize("protocol, security", CASES)
async def test_login_over_every_protocol_and_port(testbed, protocol, security):
    account = only(testbed, protocol, security=security)
    server = account.server(protocol)
    assert server.port == testbed.port_for(protocol, security)
    password = lookup_password(account)  # the testbed config uses password_command
    assert password == Secret(testbed.users["alice"])
    conn = await login(account, protocol, password)
    try:
        info = tls_info(conn)
        assert info is not None and info.version in ("TLSv1.2", "TLSv1.3")
        assert info.verified_by == "ca" and "IP Address:127.0.0.1" in info.alt_names
        assert "tuimail testbed CA" in info.issuer and info.days_left() > 0
        assert len(info.sha256) == 95
    finally:
        await close(conn)


def test_imap_session_lists_folders_with_roles(testbed):
    account = account_of(testbed, "alice", imap={"security": "starttls"})
    with ImapSession.connect(account, lookup_password(account)) as session:
        assert session.tls is not None
        caps = session.capabilities()
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps  # read after TLS and login
        folders = {f.name: f for f in session.list_folders()}
    roles = {f.role for f in folders.values()}
    assert {"inbox", "sent", "drafts", "trash", "junk", "archive"} <= roles
    assert folders["INBOX"].role == "inbox" and folders["Sent"].role == "sent"
    assert all(isinstance(f.name, str) and f.delimiter == "/" for f in folders.values())


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_send_by_smtp_and_read_back_over_imap_and_pop3(testbed, security):
    sender = account_of(testbed, "alice", smtp={"security": security})
    token = uuid.uuid4().hex
    message = EmailMessage()
    message["From"] = testbed.address("alice")
    message["To"] = testbed.address("bob")
    message["Subject"] = f"round trip {token}"
    message["Message-ID"] = f"<{token}@example.test>"
    message.set_content(f"Hello Bob, this went through port {sender.smtp.port} ({security}).\n")

    smtp = await login(sender, "smtp", lookup_password(sender))
    try:
        errors, reply = await smtp.send_message(message)
    finally:
        await close_smtp(smtp)
    assert errors == {} and reply.startswith("2.0.0 Ok: queued")
    submitted = [s for s in testbed.submissions() if token.encode() in s.data]
    assert len(submitted) == 1 and submitted[0].user == "alice" and submitted[0].tls_version

    reader = account_of(testbed, "bob", imap={"security": "starttls"}, pop3={"security": "starttls"})
    password = lookup_password(reader)
    client = await login(reader, "imap", password)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", token])
        assert len(uids) == 1
        raw = client.fetch(uids, ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]
    finally:
        close_imap(client)
    assert f"round trip {token}".encode() in raw and b"Hello Bob" in raw
    assert raw.startswith(b"Return-Path:") or b"Received:" in raw

    pop = await login(reader, "pop3", password)
    try:
        count, _ = pop.stat()
        found = [n for n in range(count, max(0, count - 20), -1)
                 if token.encode() in b"\n".join(pop.top(n, 0)[1])]
        assert len(found) == 1
        body = b"\n".join(pop.retr(found[0])[1])
    finally:
        close_pop3(pop)  # QUIT without DELE: the message stays for IMAP
    assert b"Hello Bob" in body


# ---------------------------------------------------------------- failures before credentials

@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA(organization_name="not the testbed CA").cert_pem.write_to_path(str(path))
    return path


class ServerLogs:
    """What the servers themselves saw: Dovecot's log file and aiosmtpd's log records."""

    def __init__(self, testbed, caplog):
        self.log = Path(testbed.dovecot_log)
        self.offset = self.log.stat().st_size
        self.caplog = caplog
        caplog.set_level(logging.INFO, logger="mail.log")

    def dovecot_since(self, wait_for: str = "Disconnected", timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log, "rb") as handle:
                handle.seek(self.offset)
                text = handle.read().decode("utf-8", "replace")
            if wait_for in text or time.monotonic() > deadline:
                return text

    def smtp_commands(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records
                if r.name == "mail.log" and " >> " in r.getMessage()]

    def assert_no_auth(self, protocol: str, handshake_failed: bool = False) -> None:
        """The server saw no authentication; with handshake_failed, TLS never got going."""
        if protocol == "smtp":
            commands = self.smtp_commands()
            assert not any("AUTH" in c.upper() for c in commands), commands
            if handshake_failed:  # at most EHLO and STARTTLS, in plain text
                verbs = {c.split(" >> ")[1].strip("b'\"").split(" ")[0].upper() for c in commands}
                assert verbs <= {"EHLO", "STARTTLS"}, commands
        else:
            seen = self.dovecot_since()
            assert "no auth attempts" in seen, seen
            for sign in ("Login: user=", "auth failed", "Password mismatch", "user=<alice>"):
                assert sign not in seen, seen
            if handshake_failed:
                assert "TLS handshaking" in seen and "alert" in seen, seen


def assert_client_sent_no_credentials(sent: bytes, password: str) -> None:
    assert password.encode() not in sent
    assert not CREDENTIAL_COMMAND.search(sent), sent[:2000]


def _failure_setups(testbed, other_ca):
    """(protocol, security, proxy host, target host, target port, config overrides, error, text)"""
    main, wrong = testbed.host, testbed.wrong_name_host
    setups = []
    for protocol, security in CASES:
        port = testbed.port_for(protocol, security)
        setups.append((f"{protocol}-{security}-wrong-ca", protocol, security, main, main, port,
                       {"ca_file": str(other_ca)}, TlsError,
                       "certificate verify failed: unable to get local issuer certificate"))
        setups.append((f"{protocol}-{security}-wrong-name", protocol, security, wrong, wrong, port,
                       {}, TlsError, "certificate verify failed: IP address mismatch"))
    nostarttls = {"imap": (testbed.nostarttls_host, testbed.imap_port, "STARTTLS"),
                  "pop3": (testbed.nostarttls_host, testbed.pop3_port, "STLS"),
                  "smtp": (main, testbed.smtp_nostarttls_port, "STARTTLS")}
    for protocol, (host, port, word) in nostarttls.items():
        setups.append((f"{protocol}-starttls-not-offered", protocol, "starttls", host, host, port, {},
                       StartTlsError, f"server does not offer {word}; not continuing without TLS"))
    return setups


FAILURE_IDS = [f"{p}-{s}-{k}" for p, s in CASES for k in ("wrong-ca", "wrong-name")] + [
    f"{p}-starttls-not-offered" for p in ("imap", "pop3", "smtp")]


@pytest.mark.parametrize("case", FAILURE_IDS)
async def test_tls_failures_stop_before_any_credential(testbed, other_ca, caplog, case):
    setup = {s[0]: s[1:] for s in _failure_setups(testbed, other_ca)}[case]
    protocol, security, proxy_host, target_host, target_port, extra, error, text = setup
    logs = ServerLogs(testbed, caplog)
    password = testbed.users["alice"]
    with RecordingProxy(proxy_host, target_host, target_port) as proxy:
        account = account_of(testbed, "alice", protocol="imap" if protocol == "smtp" else protocol,
                             timeout=10, **extra,
                             **{protocol: {"host": proxy_host, "port": proxy.port, "security": security}})
        with pytest.raises(error) as caught:
            if protocol == "imap":
                ImapSession.connect(account, Secret(password))  # what the TUI calls
            else:
                await login(account, protocol, Secret(password))
        await asyncio.sleep(0.05)  # let aiosmtplib's transport close
        sent = await asyncio.to_thread(proxy.close)
    message = str(caught.value)
    assert message == f"{protocol} {proxy_host}:{proxy.port}: {caught.value.reason}"
    assert text in message and password not in message and "\n" not in message
    assert proxy.connections == 1
    assert_client_sent_no_credentials(sent, password)
    logs.assert_no_auth(protocol, handshake_failed=error is TlsError)
    if protocol == "smtp" and security == "starttls":  # the server log really is being read
        assert any("STARTTLS" in c or "EHLO" in c for c in logs.smtp_commands())


@pytest.mark.parametrize("protocol", ["imap", "pop3", "smtp"])
async def test_plain_without_allow_plaintext_auth_refuses_before_sending(testbed, caplog, protocol):
    logs = ServerLogs(testbed, caplog)
    port = testbed.port_for(protocol, "plain")
    with RecordingProxy(testbed.host, testbed.host, port) as proxy:
        account = only(testbed, protocol, host=testbed.host, port=proxy.port, security="plain")
        with pytest.raises(PlaintextRefused, match="refusing to send the password over an unencrypted"):
            await login(account, protocol, Secret(testbed.users["alice"]))
        await asyncio.sleep(0.05)
        sent = await asyncio.to_thread(proxy.close)
    assert sent == b"" or not CREDENTIAL_COMMAND.search(sent)
    assert testbed.users["alice"].encode() not in sent
    logs.assert_no_auth(protocol)


def test_plain_with_allow_plaintext_auth_logs_in_where_the_server_allows_it(testbed):
    # Dovecot trusts 127.0.0.1 -> 127.0.0.1 as secure, so it accepts LOGIN in plain text there.
    account = only(testbed, "imap", host=testbed.host, security="plain", allow_plaintext_auth=True)
    with ImapSession.connect(account, Secret(testbed.users["alice"])) as session:
        assert session.tls is None
        assert any(f.role == "inbox" for f in session.list_folders())


def test_logindisabled_is_honoured_without_sending_login(testbed):
    account = only(testbed, "imap", host=testbed.remote_host, security="plain",
                   allow_plaintext_auth=True)
    with RecordingProxy(testbed.remote_host, testbed.remote_host, testbed.imap_port) as proxy:
        account = only(testbed, "imap", host=testbed.remote_host, port=proxy.port, security="plain",
                       allow_plaintext_auth=True)
        with pytest.raises(AuthError, match="LOGINDISABLED"):
            ImapSession.connect(account, Secret(testbed.users["alice"]))
        sent = proxy.close()
    assert_client_sent_no_credentials(sent, testbed.users["alice"])


def test_a_certificate_pin_gets_past_a_name_mismatch_and_nothing_else(testbed):
    good = account_of(testbed, "alice")
    client = open_imap(good, good.imap)
    try:
        pin = tls_info(client).sha256
    finally:
        close_imap(client, logout=False)
    imap = {"host": testbed.wrong_name_host, "security": "tls", "cert_fingerprint": pin}
    pinned = account_of(testbed, "alice", ca_file=None, imap=imap)
    with ImapSession.connect(pinned, lookup_password(pinned)) as session:
        assert session.tls.verified_by == "pin" and session.tls.sha256 == pin
    wrong = account_of(testbed, "alice", ca_file=None, imap={**imap, "cert_fingerprint": "ab" * 32})
    with pytest.raises(TlsError, match="does not match the pinned cert_fingerprint"):
        ImapSession.connect(wrong, lookup_password(wrong))


@pytest.mark.parametrize("protocol", ["imap", "pop3", "smtp"])
async def test_wrong_port_for_the_security_fails_cleanly(testbed, protocol):
    tls_on_plain = only(testbed, protocol, port=testbed.port_for(protocol, "starttls"), security="tls")
    with pytest.raises(TlsError, match="TLS handshake failed: "):
        await login(tls_on_plain, protocol, Secret(testbed.users["alice"]))
    plain_on_tls = only(testbed, protocol, port=testbed.port_for(protocol, "tls"), security="starttls")
    plain_on_tls = replace(plain_on_tls, timeout=0.5)
    with pytest.raises(MailTimeout, match="timed out after 0.5 s"):  # both sides wait to be greeted
        await login(plain_on_tls, protocol, Secret(testbed.users["alice"]))


# ---------------------------------------------------------------- secrets stay secret

async def test_wrong_password_errors_and_logs_never_hold_the_password(testbed, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-but-s3cret-" + uuid.uuid4().hex[:8]
    account = account_of(testbed, "alice", imap={"security": "starttls"})
    for protocol in ("imap", "smtp"):
        with pytest.raises(AuthError) as caught:
            await login(account, protocol, Secret(wrong))
        error = caught.value
        assert error.__cause__ is None and error.__suppress_context__
        assert wrong not in str(error) and wrong not in repr(error)
        assert str(error).startswith(f"{protocol} 127.0.0.1:") and "login failed" in str(error)
    right = testbed.users["alice"]
    for protocol in ("imap", "pop3", "smtp"):
        await close(await login(account, protocol, Secret(right)))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "LOGIN" in logged  # imapclient did log the session, redacted
    assert wrong not in logged and right not in logged


def test_mail_errors_are_one_line_and_name_the_server():
    error = MailError("NO [ALERT] line one\r\nline two \x1b]52;c;x\x07", "imap 127.0.0.1:993")
    assert str(error) == "imap 127.0.0.1:993: NO [ALERT] line one line two"


def test_folder_names_imapclient_cannot_parse_are_still_listed(testbed):
    """Dovecot sends "[" and "x[y" unquoted (they are atoms to it); imapclient reads "[" as a
    bracketed section and gave up on the whole LIST, leaving the user with no folder list."""
    from tests.imap_support import USER, other_client

    names = ["[", "x[y", "[bold red]z["]
    with other_client(testbed) as client:
        for name in names:
            client.create_folder(name)
    try:
        account = account_of(testbed, USER)
        with ImapSession.connect(account, lookup_password(account)) as session:
            listed = {f.name for f in session.list_folders()}
        assert set(names) <= listed, listed
        assert "INBOX" in listed
    finally:
        with other_client(testbed) as client:
            for name in names:
                client.delete_folder(name)
