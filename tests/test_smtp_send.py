"""Sending for real: the outbox delivers through the testbed's submission server (587 STARTTLS,
465 TLS) into Dovecot, and files the Sent copy over IMAP; read back through IMAP."""
from __future__ import annotations

import email
import os
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import make_msgid

import pytest
from imapclient import IMAPClient

from tests.testbed import Testbed
from tests.testbed.net import free_ports
from tuimail.model.config import Account, parse_config
from tuimail.model.secret import Secret
from tuimail.store.outbox import Outbox, OutboxError, OutboxState, deliver

USER = "bob"
SUBJECT = "Grüße aus Köln ✓ — naïve café"


def account(bed: Testbed, **overrides) -> Account:
    return parse_config(bed.config_toml(USER, timeout=10, **overrides)).account(USER)


def password(bed: Testbed) -> Secret:
    return Secret(bed.users[USER])


def mailbox(bed: Testbed, user: str, folder: str = "INBOX") -> list[tuple[bytes, frozenset]]:
    """(raw message, flags) of every message in folder, from a fresh IMAP connection."""
    with IMAPClient(bed.host, port=bed.imaps_port, ssl=True, ssl_context=bed.client_context(),
                    timeout=10) as client:
        client.login(user, bed.users[user])
        client.select_folder(folder, readonly=True)
        data = client.fetch(client.search("ALL"), ["BODY.PEEK[]", "FLAGS"])
    return [(d[b"BODY[]"], frozenset(f.decode() for f in d[b"FLAGS"])) for d in data.values()]


def compose(bed: Testbed, attachment: bytes = b"", to: list[str] | None = None,
            bcc: bool = True) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Bob <{bed.address(USER)}>"
    msg["To"] = ", ".join(to or [bed.address("alice"), bed.address(USER)])
    if bcc:
        msg["Bcc"] = "Hidden <hidden@elsewhere.test>"
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg.set_content("Hallo Alice,\nschöne Grüße.\n")
    if attachment:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="data.bin")
    return msg


@pytest.fixture
def outbox(tmp_path) -> Outbox:
    return Outbox(tmp_path / "outbox")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_send_read_back_and_filed_once_in_sent(clean_testbed, outbox, security):
    bed = clean_testbed
    blob = os.urandom(150_000) + bytes(range(256))
    msg = compose(bed, blob)
    entry = outbox.enqueue(USER, msg, bed.address(USER), [])
    assert entry.state is OutboxState.QUEUED
    assert entry.recipients == [bed.address("alice"), bed.address(USER), "hidden@elsewhere.test"]

    done = deliver(outbox, entry.id, account(bed, smtp={"security": security}), password(bed))
    assert done.state is OutboxState.SENT and done.filed and done.filing == "filed in Sent"
    assert [(r.address, r.code, r.accepted) for r in done.results] == [
        (a, 250, True) for a in entry.recipients]
    assert done.reply.startswith("250 2.0.0 Ok: queued as")

    (submission,) = bed.submissions()
    assert submission.user == USER and submission.tls_version in ("TLSv1.2", "TLSv1.3")
    assert submission.port == bed.port_for("smtp", security)
    assert sorted(submission.rcpt_tos) == sorted(entry.recipients)
    assert b"hidden@elsewhere.test" not in submission.data and b"\nBcc:" not in submission.data

    for user in ("alice", USER):
        (raw, _), = [m for m in mailbox(bed, user) if msg["Message-ID"].encode() in m[0]]
        got = email.message_from_bytes(raw, policy=default_policy)
        assert got["Subject"] == SUBJECT and got["Message-ID"] == msg["Message-ID"]
        assert got["From"].addresses[0].addr_spec == bed.address(USER)
        assert "Bcc" not in got and got["Received"]
        assert got.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hallo Alice,\nschöne Grüße.\n"
        (part,) = list(got.iter_attachments())
        assert part.get_filename() == "data.bin" and part.get_content() == blob

    sent = mailbox(bed, USER, "Sent")
    assert len(sent) == 1 and "\\Seen" in sent[0][1]
    assert sent[0][0].replace(b"\r\n", b"\n") == outbox.raw(entry.id).replace(b"\r\n", b"\n")


def test_a_copy_the_server_saved_already_is_not_filed_twice(clean_testbed, outbox):
    bed = clean_testbed
    msg = compose(bed, to=[bed.address(USER)])
    entry = outbox.enqueue(USER, msg, bed.address(USER), [])
    bed.deliver_files(USER, [outbox.raw(entry.id)], folder="Sent", flags="S")
    done = deliver(outbox, entry.id, account(bed), password(bed))
    assert done.state is OutboxState.SENT and done.filing.startswith("already in Sent")
    assert len(mailbox(bed, USER, "Sent")) == 1 and len(bed.submissions()) == 1


def test_filing_failure_is_retried_without_sending_again(clean_testbed, outbox):
    bed = clean_testbed
    entry = outbox.enqueue(USER, compose(bed, to=[bed.address(USER)]), bed.address(USER), [])
    (closed,) = free_ports(1, [bed.host])
    broken = account(bed, imap={"port": closed})
    done = deliver(outbox, entry.id, broken, password(bed))
    assert done.state is OutboxState.FILING_FAILED and not done.filed
    assert "connection refused" in done.filing and done.reply.startswith("250")
    assert len(bed.submissions()) == 1 and mailbox(bed, USER, "Sent") == []
    assert Outbox(outbox.path).get(entry.id).state is OutboxState.FILING_FAILED  # on disk

    done = deliver(outbox, entry.id, account(bed), password(bed))
    assert done.state is OutboxState.SENT and done.filed
    assert len(bed.submissions()) == 1  # delivered once, filed once
    assert len(mailbox(bed, USER, "Sent")) == 1 and len(mailbox(bed, USER)) == 1
    with pytest.raises(OutboxError, match="sent already"):
        deliver(outbox, entry.id, account(bed), password(bed))
    assert len(bed.submissions()) == 1


def test_one_unknown_recipient_of_two_is_reported_and_the_other_gets_it(clean_testbed, outbox):
    bed = clean_testbed
    nobody = "nobody@example.test"
    entry = outbox.enqueue(USER, compose(bed, to=[bed.address(USER), nobody], bcc=False), bed.address(USER),
                           [bed.address(USER), nobody])
    done = deliver(outbox, entry.id, account(bed), password(bed))
    assert done.state is OutboxState.SENT
    assert [(r.address, r.code, r.accepted) for r in done.results] == [
        (bed.address(USER), 250, True), (nobody, 550, False)]
    assert "User unknown" in done.refused[0].message
    assert len(mailbox(bed, USER)) == 1 and bed.submissions()[0].rcpt_tos == (bed.address(USER),)


def test_a_wrong_password_fails_keeps_the_message_and_a_retry_sends_it(clean_testbed, outbox):
    bed = clean_testbed
    entry = outbox.enqueue(USER, compose(bed, to=[bed.address(USER)]), bed.address(USER), [])
    done = deliver(outbox, entry.id, account(bed), Secret("wrong-password-123"))
    assert done.state is OutboxState.FAILED and "535" in done.reply
    assert "wrong-password-123" not in done.reply and bed.submissions() == []
    assert b"wrong-password-123" not in b"".join(p.read_bytes() for p in outbox.path.iterdir())
    done = deliver(outbox, entry.id, account(bed), password(bed))
    assert done.state is OutboxState.SENT and done.attempts == 2 and len(bed.submissions()) == 1


def test_append_and_find_by_message_id(testbed):
    from tests.imap_support import connect, new_folder

    folder = new_folder(testbed, "Ap")
    raw = compose(testbed, bcc=False).as_bytes().replace(b"\r\n", b"\n")  # bare LF: made CRLF
    mid = email.message_from_bytes(raw)["Message-ID"]
    with connect(testbed) as session:
        uid = session.append(folder, raw, flags=("\\Seen", "$Sent"))
        assert uid and session.find_message_id(folder, mid) == [uid]
        assert session.find_message_id(folder, "<absent@example.test>") == []
        assert session.find_message_id(folder, 'x" OR ALL "') == []  # not an id: never searched
        with pytest.raises(ValueError):
            session.append(folder, b"Subject: x\r\n\r\nNUL \0 byte\r\n")
    (stored, flags), = mailbox(testbed, USER, folder)
    assert stored == raw.replace(b"\n", b"\r\n") and {"\\Seen", "$Sent"} <= flags
