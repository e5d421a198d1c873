"""model/outgoing: header facts read from raw bytes, and the only edits the outbox makes."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tuimail.model.outgoing import (addresses, check_address, decoded_header, has_8bit, needs_smtputf8,
                                    split_head, strip_fields, with_required_fields)

RAW = (b"From: a@example.test\r\nBCC: x@example.test,\r\n\t\"Y, Z\" <y@example.test>\r\n"
       b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nResent-Bcc: r@example.test\r\nTo: b@example.test\r\n"
       b"\r\nBcc: in the body\r\n")


def test_hidden_fields_go_with_their_folded_lines_and_nothing_else_changes():
    assert strip_fields(RAW) == (b"From: a@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
                                 b"To: b@example.test\r\n\r\nBcc: in the body\r\n")
    assert addresses(RAW, ("bcc", "resent-bcc")) == ["x@example.test", "y@example.test", "r@example.test"]
    assert addresses(RAW) == ["b@example.test", "x@example.test", "y@example.test"]
    assert decoded_header(RAW, "subject") == "Grüße"


@pytest.mark.parametrize("raw, head", [
    (b"A: 1\nB: 2\n\nbody\n", b"A: 1\nB: 2\n"),
    (b"A: 1\r\n\r\n", b"A: 1\r\n"),
    (b"A: 1\r\n", b"A: 1\r\n"),
    (b"\r\nbody", b""),
])
def test_split_head(raw, head):
    assert split_head(raw)[0] == head and b"".join(split_head(raw)) == raw


def test_required_fields_are_added_on_top_in_the_messages_line_ending_style():
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    added = with_required_fields(b"Subject: x\n\nbody\n", "example.test", when)
    assert added.startswith(b"Date: Wed, 01 May 2024 12:00:00 +0000\nMessage-ID: <")
    assert added.endswith(b"@example.test>\nSubject: x\n\nbody\n")
    assert with_required_fields(RAW.replace(b"To:", b"Date: x\r\nMessage-ID: <m@x>\r\nTo:"), "x") == \
        RAW.replace(b"To:", b"Date: x\r\nMessage-ID: <m@x>\r\nTo:")


def test_smtputf8_and_8bit_detection():
    assert not needs_smtputf8(RAW, ["a@example.test"]) and not has_8bit(RAW)
    assert needs_smtputf8(RAW, ["jürgen@example.test"])
    assert needs_smtputf8("Subject: Grüße\r\n\r\n".encode(), ["a@x"])
    assert not needs_smtputf8("Subject: x\r\n\r\nGrüße\r\n".encode(), ["a@x"])
    assert has_8bit("Subject: x\r\n\r\nGrüße\r\n".encode())


@pytest.mark.parametrize("bad", ["a@b>\r\nRCPT TO:<c@d", "a b@c", "<a@b>", "a@b@c", "no-at", "a@\x1b[31mb"])
def test_envelope_addresses_are_checked(bad):
    with pytest.raises(ValueError):
        check_address(bad)
    assert check_address("jürgen+tag@example.test") == "jürgen+tag@example.test"


def test_bytes_that_are_not_utf8_never_break_the_state_or_the_envelope(tmp_path):
    from tuimail.store.outbox import Outbox

    raw = b"From: a@example.test\r\nTo: b\xe9@example.test, c@example.test\r\nSubject: caf\xe9\r\n\r\nx\r\n"
    assert decoded_header(raw, "subject") == "caf\ufffd"
    with pytest.raises(ValueError):
        Outbox(tmp_path).enqueue("acct", raw, "a@example.test", [])
    entry = Outbox(tmp_path).enqueue("acct", raw, "a@example.test", ["c@example.test"])
    assert Outbox(tmp_path).get(entry.id).subject == "caf\ufffd"
