"""The testbed's servers are real: checked with stdlib, imapclient and aiosmtplib clients only."""
from __future__ import annotations

import email
import email.policy
import imaplib
import poplib
import smtplib
import ssl
import subprocess
import time
import tomllib
import uuid
from collections.abc import Callable
from email.message import EmailMessage

import aiosmtplib
import pytest
from imapclient import IMAPClient

from tests.testbed import Testbed, TestbedError

TIMEOUT = 10


def imap_login(bed: Testbed, user: str = "alice", host: str | None = None) -> IMAPClient:
    client = IMAPClient(host or bed.host, port=bed.imaps_port, ssl=True,
                        ssl_context=bed.client_context(), timeout=TIMEOUT)
    client.login(user, bed.users[user])
    return client


def new_message(bed: Testbed, sender: str, *recipients: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = bed.address(sender)
    message["To"] = ", ".join(recipients)
    message["Subject"] = "testbed check"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    message.set_content("Hello from the testbed test.\n")
    return message


def fetch_by_message_id(bed: Testbed, user: str, message_id: str) -> email.message.Message:
    with imap_login(bed, user) as client:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id])
        assert len(uids) == 1, f"{message_id} not in {user}'s INBOX exactly once: {uids}"
        raw = client.fetch(uids, ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]
    return email.message_from_bytes(raw, policy=email.policy.default)


# -- IMAP and POP3 logins -------------------------------------------------------------------

def test_imap_starttls_login(testbed: Testbed) -> None:
    with IMAPClient(testbed.host, port=testbed.imap_port, ssl=False, timeout=TIMEOUT) as client:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(ssl_context=testbed.client_context())
        client.login("alice", testbed.users["alice"])
        caps = client.capabilities()
        assert b"CONDSTORE" in caps and b"QRESYNC" in caps and b"IDLE" in caps
        assert client.select_folder("INBOX")[b"UIDVALIDITY"] > 0


def test_imaps_login_and_bad_password(testbed: Testbed) -> None:
    with imap_login(testbed, "bob") as client:
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] >= 0
    with IMAPClient(testbed.host, port=testbed.imaps_port, ssl_context=testbed.client_context(),
                    timeout=TIMEOUT) as client:
        with pytest.raises(Exception, match="(?i)authentication failed"):
            client.login("alice", "wrong-password")
    started = time.monotonic()
    imap_login(testbed).logout()
    assert time.monotonic() - started < 1.5, "Dovecot's auth penalty is slowing logins down"


def test_pop3_stls_login(testbed: Testbed) -> None:
    pop = poplib.POP3(testbed.host, testbed.pop3_port, timeout=TIMEOUT)
    try:
        assert "STLS" in pop.capa()
        pop.stls(context=testbed.client_context())
        pop.user("alice")
        assert pop.pass_(testbed.users["alice"]).startswith(b"+OK")
        pop.stat()
    finally:
        pop.quit()


def test_pop3s_login(testbed: Testbed) -> None:
    pop = poplib.POP3_SSL(testbed.host, testbed.pop3s_port, context=testbed.client_context(),
                          timeout=TIMEOUT)
    try:
        pop.user("bob")
        assert pop.pass_(testbed.users["bob"]).startswith(b"+OK")
    finally:
        pop.quit()


def test_remote_host_refuses_plaintext_login_until_starttls(testbed: Testbed) -> None:
    imap = imaplib.IMAP4(testbed.remote_host, testbed.imap_port, timeout=TIMEOUT)
    assert "LOGINDISABLED" in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|Plaintext"):
        imap.login("alice", testbed.users["alice"])
    imap.starttls(ssl_context=testbed.client_context())  # its certificate names 127.0.0.4
    assert imap.login("alice", testbed.users["alice"])[0] == "OK"
    imap.logout()

    pop = poplib.POP3(testbed.remote_host, testbed.pop3_port, timeout=TIMEOUT)
    with pytest.raises(poplib.error_proto, match="(?i)plaintext"):
        pop.user("alice")
        pop.pass_(testbed.users["alice"])
    pop.quit()


def test_dovecot_trusts_same_address_loopback(testbed: Testbed) -> None:
    """Documents a Dovecot rule, not a wish: 127.0.0.1 to 127.0.0.1 counts as secure, so
    LOGIN before STARTTLS works there. Tests that need LOGINDISABLED use remote_host."""
    imap = imaplib.IMAP4(testbed.host, testbed.imap_port, timeout=TIMEOUT)
    assert "LOGINDISABLED" not in imap.capabilities
    imap.logout()


# -- SMTP submission -----------------------------------------------------------------------

async def test_submission_starttls_delivers_to_imap_and_pop3(clean_testbed: Testbed) -> None:
    bed = clean_testbed
    message = new_message(bed, "alice", bed.address("bob"))
    await aiosmtplib.send(message, hostname=bed.host, port=bed.submission_port, start_tls=True,
                          tls_context=bed.client_context(), username="alice",
                          password=bed.users["alice"], timeout=TIMEOUT)

    received = fetch_by_message_id(bed, "bob", message["Message-ID"])
    hops = received.get_all("Received")
    assert "LMTP" in hops[0]  # Dovecot's own hop on delivery
    assert "with ESMTPSA" in hops[1] and "(Authenticated sender: alice)" in hops[1]
    assert "using TLSv1.3" in hops[1] and f"for <{bed.address('bob')}>" in hops[1]
    assert received.get_content().strip() == "Hello from the testbed test."

    pop = poplib.POP3_SSL(bed.host, bed.pop3s_port, context=bed.client_context(),
                          timeout=TIMEOUT)
    try:
        pop.user("bob")
        pop.pass_(bed.users["bob"])
        count, _ = pop.stat()
        assert count == 1
        lines = pop.retr(1)[1]
        assert any(message["Message-ID"].encode() in line for line in lines)
        assert any(b"with ESMTPSA" in line for line in lines)
    finally:
        pop.quit()
    [submission] = [s for s in bed.submissions() if message["Message-ID"].encode() in s.data]
    assert submission.user == "alice" and submission.delivered == (bed.address("bob"),)
    assert submission.tls_version == "TLSv1.3" and submission.port == bed.submission_port


async def test_smtps_delivers_locally_and_captures_external(clean_testbed: Testbed) -> None:
    bed = clean_testbed
    outside = "carol@example.org"
    message = new_message(bed, "bob", bed.address("alice"), outside)
    await aiosmtplib.send(message, hostname=bed.host, port=bed.smtps_port, use_tls=True,
                          tls_context=bed.client_context(), username="bob@example.test",
                          password=bed.users["bob"], timeout=TIMEOUT)
    received = fetch_by_message_id(bed, "alice", message["Message-ID"])
    assert "with ESMTPSA" in received.get_all("Received")[1]
    [captured] = [s for s in bed.captured() if message["Message-ID"].encode() in s.data]
    assert captured.captured == (outside,) and captured.port == bed.smtps_port
    assert message["Message-ID"].encode() in captured.data


def test_auth_before_starttls_is_refused_with_530(testbed: Testbed) -> None:
    with smtplib.SMTP(testbed.host, testbed.submission_port, timeout=TIMEOUT) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
        code, text = smtp.docmd("AUTH", "PLAIN AGFsaWNlAGFsaWNlLXNlY3JldC1wdw==")
        assert code == 530, text
        code, _ = smtp.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 530


def test_submission_needs_auth_and_a_good_password(testbed: Testbed) -> None:
    with smtplib.SMTP(testbed.host, testbed.submission_port, timeout=TIMEOUT) as smtp:
        smtp.starttls(context=testbed.client_context())
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"] and "LOGIN" in smtp.esmtp_features["auth"]
        code, _ = smtp.docmd("MAIL", "FROM:<alice@example.test>")
        assert code == 530  # authentication required
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("alice", "wrong-password")
        assert refused.value.smtp_code == 535
        smtp.login("alice", testbed.users["alice"])
        smtp.mail("alice@example.test")
        code, _ = smtp.rcpt("nobody@example.test")
        assert code == 550  # unknown local user, refused at RCPT like a real MTA


# -- hosts and ports for negative tests ----------------------------------------------------

def test_nostarttls_host_and_port_offer_no_starttls(testbed: Testbed) -> None:
    with IMAPClient(testbed.nostarttls_host, port=testbed.imap_port, ssl=False,
                    timeout=TIMEOUT) as client:
        caps = client.capabilities()
        assert b"STARTTLS" not in caps and b"LOGINDISABLED" in caps

    pop = poplib.POP3(testbed.nostarttls_host, testbed.pop3_port, timeout=TIMEOUT)
    try:
        assert "STLS" not in pop.capa()
        with pytest.raises(poplib.error_proto):
            pop._shortcmd("STLS")
    finally:
        pop.quit()

    with smtplib.SMTP(testbed.host, testbed.smtp_nostarttls_port, timeout=TIMEOUT) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls") and not smtp.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.starttls(context=testbed.client_context())


def _imap_starttls(bed: Testbed, host: str) -> None:
    IMAPClient(host, port=bed.imap_port, ssl=False, timeout=TIMEOUT).starttls(
        ssl_context=bed.client_context())


def _pop3_stls(bed: Testbed, host: str) -> None:
    poplib.POP3(host, bed.pop3_port, timeout=TIMEOUT).stls(context=bed.client_context())


def _smtp_starttls(bed: Testbed, host: str) -> None:
    smtplib.SMTP(host, bed.submission_port, timeout=TIMEOUT).starttls(
        context=bed.client_context())


CONNECT: dict[str, Callable[[Testbed, str], object]] = {
    "imaps": lambda bed, host: IMAPClient(host, port=bed.imaps_port,
                                          ssl_context=bed.client_context(), timeout=TIMEOUT),
    "imap-starttls": _imap_starttls,
    "pop3s": lambda bed, host: poplib.POP3_SSL(host, bed.pop3s_port,
                                               context=bed.client_context(), timeout=TIMEOUT),
    "pop3-stls": _pop3_stls,
    "smtps": lambda bed, host: smtplib.SMTP_SSL(host, bed.smtps_port,
                                                context=bed.client_context(), timeout=TIMEOUT),
    "submission-starttls": _smtp_starttls,
}


@pytest.mark.parametrize("kind", CONNECT)
def test_wrong_name_host_fails_verification(testbed: Testbed, kind: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="not valid for '127.0.0.2'"):
        CONNECT[kind](testbed, testbed.wrong_name_host)


@pytest.mark.parametrize("kind", ["imaps", "pop3s", "smtps"])
def test_right_name_verifies_and_unknown_ca_does_not(testbed: Testbed, kind: str) -> None:
    CONNECT[kind](testbed, testbed.host)
    CONNECT[kind](testbed, testbed.remote_host)
    with pytest.raises(ssl.SSLCertVerificationError):
        port = {"imaps": testbed.imaps_port, "pop3s": testbed.pop3s_port,
                "smtps": testbed.smtps_port}[kind]
        ssl.create_default_context().wrap_socket(
            __import__("socket").create_connection((testbed.host, port), timeout=TIMEOUT),
            server_hostname=testbed.host)


# -- mailbox content -----------------------------------------------------------------------

def test_fill_1000_shows_in_select_with_flags_and_dates(clean_testbed: Testbed) -> None:
    summary = clean_testbed.fill("alice", 1000, seed=7)
    assert summary.count == 1000 and 0 < summary.unseen < 1000 and summary.flagged > 0
    assert summary.with_attachment > 0 and summary.replies > 0
    with imap_login(clean_testbed) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 1000
        assert len(client.search(["UNSEEN"])) == summary.unseen
        assert len(client.search(["FLAGGED"])) == summary.flagged
        assert len(client.search(["HEADER", "In-Reply-To", "@"])) == summary.replies
        last = client.fetch([1000], ["INTERNALDATE", "ENVELOPE"])[1000]
        assert last[b"INTERNALDATE"].timestamp() == last[b"ENVELOPE"].date.timestamp()


def test_list_shows_special_use_mailboxes(testbed: Testbed) -> None:
    with imap_login(testbed) as client:
        flags = {name: set(f) for f, _, name in client.list_folders()}
    for name in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert f"\\{name}".encode() in flags[name], flags


def test_deliver_files_keeps_bytes_and_date(clean_testbed: Testbed, tmp_path) -> None:
    raw = (b"From: Dave <dave@example.com>\r\nTo: alice@example.test\r\n"
           b"Date: Tue, 02 Jan 2024 03:04:05 +0100\r\nSubject: exact bytes\r\n"
           b"Message-ID: <exact@example.com>\r\n\r\nBody line.\r\n")
    path = tmp_path / "one.eml"
    path.write_bytes(raw)
    assert clean_testbed.deliver_files("alice", [path, raw.replace(b"exact@", b"second@")],
                                       folder="Archive", flags="FS") == 2
    with imap_login(clean_testbed) as client:
        client.select_folder("Archive")
        first, second = client.search()
        data = client.fetch([first, second], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
    assert data[first][b"BODY[]"] == raw
    assert set(data[first][b"FLAGS"]) >= {b"\\Seen", b"\\Flagged"}
    assert data[first][b"INTERNALDATE"].timestamp() == 1704161045
    assert b"second@" in data[second][b"BODY[]"]


def test_clear_empties_folders_and_drops_custom_ones(testbed: Testbed) -> None:
    testbed.fill("bob", 20, folder="Projects/2024")
    testbed.fill("bob", 5)
    testbed.clear("bob")
    with imap_login(testbed, "bob") as client:
        names = {name for _, _, name in client.list_folders()}
        assert not any(n.startswith("Projects") for n in names)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_config_toml_points_at_the_testbed(testbed: Testbed) -> None:
    config = tomllib.loads(testbed.config_toml("bob", "pop3", timeout=5,
                                               imap={"security": "starttls"}, smtp=None))
    account = config["accounts"]["bob"]
    assert account["protocol"] == "pop3" and account["timeout"] == 5 and "smtp" not in account
    assert account["imap"] == {"host": "127.0.0.1", "port": testbed.imap_port,
                               "security": "starttls"}
    assert account["pop3"]["port"] == testbed.pop3s_port
    assert "bob-secret-pw" not in testbed.config_toml("bob")
    password = subprocess.run(account["password_command"], shell=True, capture_output=True,
                              text=True, check=True).stdout
    assert password == testbed.users["bob"]
    pop = poplib.POP3_SSL(account["pop3"]["host"], account["pop3"]["port"],
                          context=ssl.create_default_context(cafile=account["ca_file"]))
    pop.user(account["username"])
    pop.pass_(password)
    pop.quit()


def test_start_fails_loudly_with_the_dovecot_log(monkeypatch, tmp_path) -> None:
    import socket

    import tests.testbed.bed as bed_module
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    real_free_ports = bed_module.free_ports
    monkeypatch.setattr(bed_module, "free_ports",
                        lambda count, hosts: [taken.getsockname()[1]]
                        + real_free_ports(count - 1, hosts))
    bed = Testbed(tmp_path / "broken")
    bed.start_attempts = 1  # each try takes dovecot ~2 s to give up on the port
    try:
        with pytest.raises(TestbedError, match="(?s)dovecot.*Address already in use"):
            bed.start()
        assert not bed.running
    finally:
        taken.close()
        bed.stop()
