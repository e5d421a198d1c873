"""Reply and forward end to end on the real servers: an original with several Received hops is
delivered into bob's mailbox and fetched raw over IMAP (BODY.PEEK[]); the reply or forward is
built and submitted over STARTTLS with AUTH (plain smtplib here, only as a test transport), the
testbed delivers it into Dovecot, and the received message is read back through IMAP."""
from __future__ import annotations

import email
import email.policy
import re
import smtplib
from contextlib import contextmanager
from typing import Iterator

from imapclient import IMAPClient

from tests.imap_support import account, connect, new_folder, other_client
from tests.test_forward_bytes import body_parts
from tuimail.model.compose import (build_message, envelope, forward_as_attachment, forward_inline_draft,
                                   message_bytes, needs_8bitmime, redirect_draft, reply_draft)
from tuimail.model.forward import FORWARD_MARK

HOPS = [b"Received: from mx2.relay.example (mx2.relay.example [198.51.100.23])\r\n"
        b"\tby mx.example.test (Postfix) with ESMTPS id 4VwXyZ1234z\r\n"
        b"\tfor <bob@example.test>; Mon, 03 Jun 2024 10:00:03 +0200 (CEST)",
        b"Received: from smtp-out.origin.example (smtp-out.origin.example [2001:db8::25])\r\n"
        b"        (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        b"        by mx2.relay.example (Postfix) with ESMTPS id 9F3A2C0042\r\n"
        b"        for <bob@example.test>; Mon, 03 Jun 2024 10:00:02 +0200 (CEST)",
        b"Received: by smtp-out.origin.example (Postfix, from userid 1000) id 77AB1;\r\n"
        b" Mon,  3 Jun 2024 08:00:01 +0000 (UTC)"]


def original(message_id: str, **fields: str) -> bytes:
    headers = {"From": "Carol <carol@origin.example>", "To": "Bob <bob@example.test>",
               "Subject": "Men\u00fc f\u00fcr Montag", "Date": "Mon, 3 Jun 2024 10:00:00 +0200",
               "Message-ID": message_id, "MIME-Version": "1.0",
               "Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "8bit"}
    headers.update({k.replace("_", "-"): v for k, v in fields.items()})
    head = b"\r\n".join(HOPS + [b"DKIM-Signature: v=1; a=rsa-sha256; d=origin.example; s=sel;\r\n"
                                b"\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=c2lnbmF0dXJl"]
                        + [f"{k}: {v}".encode() for k, v in headers.items()])
    return head + "\r\n\r\nMenü für Montag:\r\nSuppe.\r\n.\r\nFrom the kitchen.\r\n".encode()


def stored(bed, raw: bytes) -> tuple[str, int, bytes]:
    """raw put into a new folder of bob's, then fetched back the way tuimail does (BODY.PEEK[]):
    (folder, UID, the bytes fetched)."""
    folder = new_folder(bed, "F")
    bed.deliver_files("bob", [raw], folder=folder)
    with other_client(bed, folder) as client:
        uids = client.search(["ALL"])
    assert len(uids) == 1
    with connect(bed) as session:
        session.select(folder, readonly=True)
        return folder, uids[0], session.fetch_raw(uids[0])


def submit(bed, message, envelope_from: str, recipients: list[str]) -> None:
    data = message if isinstance(message, bytes) else message_bytes(message)
    eight_bit = not data.isascii()
    with smtplib.SMTP(bed.host, bed.submission_port, timeout=10) as smtp:
        smtp.starttls(context=bed.client_context())
        smtp.login("bob", bed.users["bob"])
        refused = smtp.sendmail(envelope_from, recipients, data, mail_options=["BODY=8BITMIME"] if eight_bit else [])
    assert refused == {}


@contextmanager
def mailbox(bed, user: str) -> Iterator[IMAPClient]:
    client = IMAPClient(bed.host, port=bed.imaps_port, ssl=True, ssl_context=bed.client_context(), timeout=10)
    try:
        client.login(user, bed.users[user])
        client.select_folder("INBOX", readonly=True)
        yield client
    finally:
        client.logout()


def received(bed, user: str, message_id: str, *items: str) -> dict:
    with mailbox(bed, user) as client:
        uids = client.search(["HEADER", "Message-ID", message_id])
        assert len(uids) == 1, f"{message_id} not delivered to {user}"
        return client.fetch(uids, ["BODY.PEEK[]", *items])[uids[0]]


def top_headers(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=email.policy.compat32)


def submission(bed, message_id: str):
    found = [s for s in bed.submissions() if message_id.encode() in s.data]
    assert len(found) == 1
    return found[0]


def test_forward_as_attachment_arrives_with_the_original_byte_for_byte(testbed):
    mid = "<fwd-att-original@origin.example>"
    _, _, raw = stored(testbed, original(mid))
    assert raw.count(b"Received: ") >= 3 and b"\r\n" in raw and not raw.isascii()
    bob = account(testbed)
    draft = forward_as_attachment(raw, bob, to=["Alice <alice@example.test>"], note="Forwarded unchanged.")
    message = build_message(draft, bob)
    assert needs_8bitmime(message)
    submit(testbed, message, *envelope(draft))

    got = received(testbed, "alice", message["Message-ID"], "BODY.PEEK[2]", "BODYSTRUCTURE")
    assert got[b"BODY[2]"] == raw  # Dovecot's own MIME parser cuts out exactly the original
    whole = got[b"BODY[]"]
    assert body_parts(whole)[1][1] == raw
    structure = got[b"BODYSTRUCTURE"]
    assert [p[:2] for p in structure[0]] == [(b"text", b"plain"), (b"message", b"rfc822")]
    for hop in HOPS:
        assert whole.count(hop) == 1  # every original hop, once, inside the attachment
    outer = top_headers(whole)
    new_chain = outer.get_all("Received")
    assert new_chain and all(hop.decode() not in h for h in new_chain for hop in HOPS)
    assert any("tuimail-testbed" in h and "Authenticated sender: bob" in h for h in new_chain)
    assert outer["DKIM-Signature"] is None and outer["Message-ID"] == message["Message-ID"]


def test_forward_inline_arrives_without_any_original_header(testbed):
    mid = "<fwd-inline-original@origin.example>"
    _, _, raw = stored(testbed, original(mid))
    bob = account(testbed)
    draft = forward_inline_draft(raw, bob, to=["alice@example.test"])
    draft.body = "See below." + draft.body
    message = build_message(draft, bob)
    submit(testbed, message, *envelope(draft))

    whole = received(testbed, "alice", message["Message-ID"])[b"BODY[]"]
    head = whole.split(b"\r\n\r\n", 1)[0]
    for marker in (b"mx2.relay.example", b"smtp-out.origin.example", b"DKIM-Signature", mid.encode()):
        assert marker not in whole
    outer = top_headers(whole)
    assert outer.get_all("Received") and all("tuimail-testbed" in h or "example.test" in h
                                              for h in outer.get_all("Received"))
    assert len(re.findall(rb"^Subject:", head, re.MULTILINE | re.IGNORECASE)) == 1 and head.isascii()
    msg = email.message_from_bytes(whole, policy=email.policy.default)
    assert msg["Subject"] == "Fwd: Men\u00fc f\u00fcr Montag"
    text = msg.get_content().replace("\r\n", "\n")
    assert text.startswith("See below.\n\n" + FORWARD_MARK + "\nFrom: Carol <carol@origin.example>\n")
    assert text.endswith("\n\n> Men\u00fc f\u00fcr Montag:\n> Suppe.\n> .\n> From the kitchen.\n")


def test_reply_threads_and_goes_to_the_real_address(testbed):
    mid = "<reply-original@origin.example>"
    folder, uid, raw = stored(testbed, original(mid, From='"carol@origin.example" <alice@example.test>',
                                                Subject="Re: Plan",
                                                References="<root@origin.example> <mid@origin.example>"))
    bob = account(testbed)
    draft = reply_draft(raw, bob)
    draft.body += "Sounds good.\n"
    message = build_message(draft, bob)
    submit(testbed, message, *envelope(draft))

    got = received(testbed, "alice", message["Message-ID"])
    msg = email.message_from_bytes(got[b"BODY[]"], policy=email.policy.default)
    assert msg["In-Reply-To"] == mid
    assert msg["References"].split() == ["<root@origin.example>", "<mid@origin.example>", mid]
    assert msg["Subject"] == "Re: Plan"
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [("carol@origin.example",
                                                                              "alice@example.test")]
    assert submission(testbed, message["Message-ID"]).rcpt_tos == ("alice@example.test",)
    # where it went is the address an IMAP reader shows for the original (Dovecot's ENVELOPE)
    with connect(testbed) as session:
        session.select(folder, readonly=True)
        summary = session.fetch_uids([uid])[uid]
    assert [a.email for a in summary.sender] == ["alice@example.test"]


def test_reply_all_recipients_on_the_received_message(testbed):
    mid = "<reply-all-original@origin.example>"
    _, _, raw = stored(testbed, original(mid, From="Alice <alice@example.test>",
                                        To="Bob <bob@example.test>, Frank <frank@elsewhere.example>",
                                        Cc="grace@elsewhere.example, BOB@example.test, Alice <alice@example.test>"))
    bob = account(testbed)
    draft = reply_draft(raw, bob, reply_all=True)
    message = build_message(draft, bob)
    envelope_from, recipients = envelope(draft)
    assert envelope_from == "bob@example.test"
    submit(testbed, message, envelope_from, recipients)

    msg = email.message_from_bytes(received(testbed, "alice", message["Message-ID"])[b"BODY[]"],
                                   policy=email.policy.default)
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.test", "frank@elsewhere.example"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["grace@elsewhere.example"]
    assert msg["In-Reply-To"] == mid and msg["References"] == mid
    sent = submission(testbed, message["Message-ID"])
    assert sent.rcpt_tos == ("alice@example.test", "frank@elsewhere.example", "grace@elsewhere.example")
    assert sent.delivered == ("alice@example.test",)
    assert b"bob@example.test" not in b"".join(re.findall(rb"^(?:To|Cc):.*$", sent.data, re.MULTILINE))


def test_redirect_arrives_with_resent_headers_over_the_unchanged_original(testbed):
    mid = "<redirect-original@origin.example>"
    _, _, raw = stored(testbed, original(mid))
    bob = account(testbed)
    data, recipients = redirect_draft(raw, bob, to=["alice@example.test"])
    submit(testbed, data, bob.email, recipients)
    whole = received(testbed, "alice", mid)[b"BODY[]"]
    assert whole.endswith(raw)
    resent = top_headers(whole)
    assert resent["Resent-From"] == "bob@example.test" and resent["Resent-To"] == "alice@example.test"
