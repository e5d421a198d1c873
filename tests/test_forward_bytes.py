"""Forward as attachment carries the original byte for byte: whatever writes the message out
(message_bytes, as_bytes with policy.SMTP, smtplib's and aiosmtplib's generators), the
message/rfc822 part cut out of the output by hand is exactly the original. Plus: every message
of the shared corpus can be replied to and forwarded both ways without an exception."""
from __future__ import annotations

import copy
import email
import email.policy
import io
import re
from email.generator import BytesGenerator

import pytest
from aiosmtplib.email import flatten_message

from tests.corpus_support import CORPUS, corpus_messages, needs_corpus
from tuimail.model.compose import (Draft, build_message, forward_as_attachment, forward_inline_draft,
                                   message_bytes, needs_8bitmime, reply_draft)
from tuimail.model.config import Account
from tuimail.model.rfc822 import canonical_line_ends, transfer_encoding, verbatim_original

ACCOUNT = Account(name="bob", email="bob@example.test", username="bob", display_name="Bob")

# Long folded Received hops, a DKIM signature folded the way signers fold it (its b= value must
# survive unchanged or the signature breaks), ARC, a header over 78 characters left unfolded,
# raw 8-bit bytes in a header and in the body, a "From " line (mbox mangling would add ">"), a
# line of one ".", trailing spaces, and a line that looks like a MIME boundary.
ORIGINAL_8BIT = b"\r\n".join([
    b"Return-Path: <carol@origin.example>",
    b"Delivered-To: bob@example.test",
    b"Received: from mx2.relay.example (mx2.relay.example [198.51.100.23])",
    b"\tby mail.example.test (Postfix) with ESMTPS id 4VwXyZ1234z",
    b"\tfor <bob@example.test>; Mon, 03 Jun 2024 10:00:03 +0200 (CEST)",
    b"Received: from smtp-out.origin.example (smtp-out.origin.example [2001:db8::25])",
    b"        (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    b"         key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)",
    b"        (No client certificate requested)",
    b"        by mx2.relay.example (Postfix) with ESMTPS id 9F3A2C0042",
    b"        for <bob@example.test>; Mon, 03 Jun 2024 10:00:02 +0200 (CEST)",
    b"Received: by smtp-out.origin.example (Postfix, from userid 1000) id 77AB1;",
    b" Mon,  3 Jun 2024 08:00:01 +0000 (UTC)",
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=origin.example;",
    b"\ts=sel2024; t=1717401601; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;",
    b"\th=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;",
    b"\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgZm9sZGVkIGxpa2Ugb25l",
    b"\t IGFuZCBpdHMgc3BhY2VzIG11c3Qgbm90IGJlIHRvdWNoZWQgYnkgYSByZS1mb2xkZXIu",
    b"ARC-Seal: i=1; a=rsa-sha256; t=1717401602; cv=none; d=relay.example; s=arc;",
    b"\tb=YXJjIHNlYWwgdmFsdWU=",
    b"X-Long-Unfolded: " + b"word " * 40 + b"end",
    b"From: =?iso-8859-1?q?Caf=E9?= <carol@origin.example>",
    b"To: Bob <bob@example.test>",
    b"Subject: Men\xc3\xbc f\xc3\xbcr Montag",
    b"Date: Mon, 3 Jun 2024 10:00:00 +0200",
    b"Message-ID: <menu-42@origin.example>",
    b"MIME-Version: 1.0",
    b"Content-Type: text/plain; charset=iso-8859-1",
    b"Content-Transfer-Encoding: 8bit",
    b"",
    b"Men\xfc f\xfcr Montag:  ",
    b"From the kitchen, with love.",
    b".",
    b"..two dots",
    b"--===============1234567890==",
    b"Gr\xfc\xdfe",
    b"",
])

ORIGINAL_MULTIPART = b"\r\n".join([
    b"Received: from a.example by b.example with SMTP id 1; Mon, 3 Jun 2024 10:00:00 +0000",
    b"From: carol@origin.example",
    b"To: bob@example.test",
    b"Subject: =?utf-8?b?5pel5pys6Kqe?= report",
    b"MIME-Version: 1.0",
    b'Content-Type: multipart/mixed; boundary="outer"',
    b"",
    b"preamble",
    b"--outer",
    b"Content-Type: text/plain; charset=utf-8",
    b"",
    b"see attached",
    b"--outer",
    b"Content-Type: application/pdf; name=\"r.pdf\"",
    b"Content-Transfer-Encoding: base64",
    b"",
    b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K",
    b"--outer--",
    b"epilogue, no final line end",
])

ORIGINAL_7BIT_NO_FINAL_EOL = (b"From: carol@origin.example\r\nTo: bob@example.test\r\nSubject: short\r\n"
                              b"Message-ID: <short@origin.example>\r\n\r\nNo line end at the end")

ORIGINALS = {"8bit": ORIGINAL_8BIT, "multipart": ORIGINAL_MULTIPART, "7bit": ORIGINAL_7BIT_NO_FINAL_EOL}


def body_parts(data: bytes) -> list[tuple[bytes, bytes]]:
    """(header block, content) of each body part of a CRLF multipart message, cut at the
    boundary delimiters by hand (RFC 2046 5.1.1), without the email package."""
    head, _, body = data.partition(b"\r\n\r\n")
    boundary = re.search(rb'boundary="([^"]+)"', head).group(1)
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        piece = piece[piece.index(b"\r\n") + 2:]  # transport padding and the CRLF
        part_head, _, content = piece.partition(b"\r\n\r\n")
        parts.append((part_head, content))
    return parts


def attached(data: bytes) -> tuple[bytes, bytes]:
    parts = body_parts(data)
    assert len(parts) == 2
    return parts[1]


def build(raw: bytes):
    return build_message(forward_as_attachment(raw, ACCOUNT, to=["erin@example.org"], note="FYI"), ACCOUNT)


def serializations(msg) -> dict[str, bytes]:
    smtplib_like = io.BytesIO()
    BytesGenerator(smtplib_like, mangle_from_=True, policy=email.policy.SMTP).flatten(msg)
    return {
        "message_bytes": message_bytes(msg),
        "as_bytes SMTP": msg.as_bytes(policy=email.policy.SMTP),
        "mangle_from generator": smtplib_like.getvalue(),
        "aiosmtplib": flatten_message(msg),
        "deep copy": message_bytes(copy.deepcopy(msg)),
    }


@pytest.mark.parametrize("name", ORIGINALS)
def test_the_attached_part_is_the_original_byte_for_byte(name):
    raw = ORIGINALS[name]
    msg = build(raw)
    assert verbatim_original(msg) == raw
    for how, data in serializations(msg).items():
        part_head, content = attached(data)
        assert content == raw, how
        assert b"Content-Type: message/rfc822" in part_head
        expected_cte = "8bit" if name == "8bit" else "7bit"
        assert f"Content-Transfer-Encoding: {expected_cte}".encode() in part_head


def test_every_received_header_is_in_the_attachment_and_none_in_the_outer_header():
    data = message_bytes(build(ORIGINAL_8BIT))
    outer_head = data.split(b"\r\n\r\n", 1)[0]
    assert b"Received" not in outer_head and b"DKIM" not in outer_head
    inner = email.message_from_bytes(data, policy=email.policy.compat32).get_payload(1).get_payload(0)
    original = email.message_from_bytes(ORIGINAL_8BIT, policy=email.policy.compat32)
    assert len(original.get_all("Received")) == 3
    assert inner.get_all("Received") == original.get_all("Received")
    assert inner.get_all("DKIM-Signature") == original.get_all("DKIM-Signature")


def test_the_outer_text_is_still_readable_and_8bit_is_declared():
    msg = build(ORIGINAL_8BIT)
    assert needs_8bitmime(msg)
    parsed = email.message_from_bytes(message_bytes(msg), policy=email.policy.default)
    assert parsed.get_body(("plain",)).get_content().rstrip() == "FYI"
    assert parsed["Subject"] == "Fwd: Menü für Montag"
    assert not needs_8bitmime(build(ORIGINAL_7BIT_NO_FINAL_EOL))


def test_an_lf_original_is_carried_with_crlf_line_ends():
    lf = ORIGINAL_8BIT.replace(b"\r\n", b"\n")
    data = message_bytes(build(lf))
    assert attached(data)[1] == ORIGINAL_8BIT
    assert b"\n" not in data.replace(b"\r\n", b"")  # no bare LF reaches the wire


def test_written_with_lf_line_ends_the_original_follows():
    data = build(ORIGINAL_8BIT).as_bytes()  # policy.default: LF
    assert canonical_line_ends(ORIGINAL_8BIT, b"\n") in data
    assert b"\r" not in data


def test_as_string_works_too():
    text = build(ORIGINAL_8BIT).as_string()
    assert "DKIM-Signature: v=1; a=rsa-sha256" in text


def test_the_boundary_never_collides_with_the_original():
    raw = ORIGINAL_8BIT
    for _ in range(5):
        data = message_bytes(build(raw))
        boundary = re.search(rb'boundary="([^"]+)"', data).group(1)
        assert b"--" + boundary not in raw
        assert attached(data)[1] == raw
        raw = data  # forward the forward: the inner boundaries are in it now
    assert data.count(b"Received: from mx2.relay.example") == 1


@pytest.mark.parametrize("raw", [
    ORIGINAL_7BIT_NO_FINAL_EOL.replace(b"No line end", b"NUL \x00 here"),
    ORIGINAL_7BIT_NO_FINAL_EOL + b"\r\n" + b"x" * 1200 + b"\r\n",
])
def test_what_smtp_cannot_carry_as_rfc822_goes_as_base64_with_the_same_bytes(raw):
    assert transfer_encoding(raw) == "binary"
    msg = build(raw)
    data = message_bytes(msg)
    assert max(len(line) for line in data.split(b"\r\n")) <= 78 and b"\x00" not in data
    part = email.message_from_bytes(data, policy=email.policy.default).get_payload(1)
    assert part.get_content_type() == "application/octet-stream" and part.get_filename() == "short.eml"
    assert part.get_content() == raw


def test_the_draft_holds_the_original_untouched():
    draft = forward_as_attachment(ORIGINAL_8BIT, ACCOUNT, to=["erin@example.org"])
    assert isinstance(draft, Draft) and draft.forward_raw == ORIGINAL_8BIT and "forward_raw" not in repr(draft)


# -- the shared corpus ---------------------------------------------------------------------------

@needs_corpus
def test_the_corpus_is_there():
    assert len(corpus_messages()) >= 300


@needs_corpus
@pytest.mark.parametrize("path", corpus_messages(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_message_can_be_replied_to_and_forwarded(path):
    raw = path.read_bytes()
    for draft in (reply_draft(raw, ACCOUNT, reply_all=True),
                  forward_inline_draft(raw, ACCOUNT, to=["erin@example.org"], include_attachments=True)):
        data = message_bytes(build_message(draft, ACCOUNT))
        head = data.split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"^(?:bcc|received|dkim-signature):", head, re.IGNORECASE | re.MULTILINE)
    data = message_bytes(build(raw))
    if transfer_encoding(raw) != "binary":
        assert attached(data)[1] == canonical_line_ends(raw)
