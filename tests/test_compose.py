"""Building messages from a Draft, and reply / forward / redirect drafts from raw originals:
recipients, threading headers, subjects, quoting, encodings, and header injection (no network)."""
from __future__ import annotations

import base64
import email
import email.policy
import re
from email.headerregistry import Address as HeaderAddress

import pytest

from tuimail import __version__
from tuimail.model.address import parse_addresses
from tuimail.model.compose import (ComposeError, Draft, build_message, envelope, forward_as_attachment,
                                   forward_inline_draft, message_bytes, needs_8bitmime, needs_smtputf8,
                                   redirect_draft, reply_draft)
from tuimail.model.config import Account
from tuimail.model.draft import format_address, parse_address_list, plain_header_text
from tuimail.model.forward import FORWARD_MARK, forward_subject
from tuimail.model.reply import reply_subject

ACCOUNT = Account(name="bob", email="bob@example.test", username="bob", display_name="Bob Example")


def raw_message(*headers: str, body: str = "Hello Bob.\n", crlf: bool = True) -> bytes:
    """A raw message from header lines as written (folding included) and a body."""
    eol = "\r\n" if crlf else "\n"
    text = eol.join(headers) + eol + eol + body.replace("\n", eol)
    return text.encode("utf-8", "surrogateescape")


def original(body: str = "Hello Bob.\n", **over: str | None) -> bytes:
    fields = {
        "From": "Carol <carol@example.org>",
        "To": "Bob <bob@example.test>",
        "Subject": "Lunch",
        "Date": "Mon, 03 Jun 2024 10:00:00 +0200",
        "Message-ID": "<orig-1@example.org>",
    }
    fields.update({k.replace("_", "-"): v for k, v in over.items()})
    return raw_message(*(f"{k}: {v}" for k, v in fields.items() if v is not None), body=body)


def wire(draft: Draft) -> bytes:
    return message_bytes(build_message(draft, ACCOUNT))


def head_names(data: bytes) -> list[str]:
    """The header field names of the top-level header block, read straight off the bytes."""
    head = data.split(b"\r\n\r\n", 1)[0]
    names = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
        if line[:1] not in (b" ", b"\t"):
            names.append(line.split(b":", 1)[0].decode("ascii"))
    return names


def parsed(data: bytes) -> email.message.EmailMessage:
    """data parsed, line ends as Python keeps text (LF)."""
    return email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)


def specs(header) -> list[str]:
    return [a.addr_spec for a in header.addresses]


# -- reply: recipients -----------------------------------------------------------------------

def test_reply_goes_to_from_with_threading_headers():
    draft = reply_draft(original(References="<root@example.org> <mid@example.org>"), ACCOUNT)
    assert draft.to == ["Carol <carol@example.org>"] and draft.cc == []
    assert draft.in_reply_to == "<orig-1@example.org>"
    assert draft.references == ["<root@example.org>", "<mid@example.org>", "<orig-1@example.org>"]
    assert draft.subject == "Re: Lunch"
    assert draft.from_addr == "Bob Example <bob@example.test>" and draft.account == "bob"
    msg = parsed(wire(draft))
    assert msg["In-Reply-To"] == "<orig-1@example.org>"
    assert msg["References"].split() == draft.references
    assert specs(msg["To"]) == ["carol@example.org"]


def test_references_fall_back_to_in_reply_to_and_are_bounded():
    draft = reply_draft(original(In_Reply_To="<parent@example.org>"), ACCOUNT)
    assert draft.references == ["<parent@example.org>", "<orig-1@example.org>"]
    many = " ".join(f"<r{i}@example.org>" for i in range(60))
    draft = reply_draft(original(References=many), ACCOUNT)
    assert len(draft.references) == 20
    assert draft.references[0] == "<r0@example.org>" and draft.references[-1] == "<orig-1@example.org>"
    assert draft.references[-2] == "<r59@example.org>"


def test_no_message_id_means_no_in_reply_to():
    draft = reply_draft(original(Message_ID=None), ACCOUNT)
    assert draft.in_reply_to is None and draft.references == []
    assert "In-Reply-To" not in head_names(wire(draft))


def test_reply_honours_reply_to():
    draft = reply_draft(original(Reply_To="List <list@lists.example.org>"), ACCOUNT)
    assert draft.to == ["List <list@lists.example.org>"]


def test_reply_all_adds_to_and_cc_without_my_addresses():
    raw = original(To="Bob <BOB@example.test>, Dave <dave@example.org>, carol@example.org",
                   Cc="erin@example.org, Bob Alias <bob.alias@example.test>, Dave <DAVE@example.org>")
    draft = reply_draft(raw, ACCOUNT, reply_all=True, own_addresses=["Me <bob.alias@example.test>"])
    assert draft.to == ["Carol <carol@example.org>", "Dave <dave@example.org>"]
    assert draft.cc == ["erin@example.org"]
    _, recipients = envelope(draft)
    assert recipients == ["carol@example.org", "dave@example.org", "erin@example.org"]
    plain = reply_draft(raw, ACCOUNT)
    assert plain.to == ["Carol <carol@example.org>"] and plain.cc == []


def test_replying_to_my_own_message_goes_to_its_recipients():
    raw = original(From="Bob <bob@example.test>", To="Carol <carol@example.org>", Cc="dave@example.org")
    assert reply_draft(raw, ACCOUNT).to == ["Carol <carol@example.org>"]
    everyone = reply_draft(raw, ACCOUNT, reply_all=True)
    assert everyone.to == ["Carol <carol@example.org>"] and everyone.cc == ["dave@example.org"]


@pytest.mark.parametrize("sender, real", [
    ('"ceo@bank.example" <evil@x.example>', "evil@x.example"),
    ('"Bank <ceo@bank.example>" <evil@x.example>', "evil@x.example"),
    ("=?utf-8?q?Boss_=3Cboss=40bank=2Eexample=3E?= <evil@x.example>", "evil@x.example"),
    ("=?utf-8?b?ImNlb0BiYW5rLmV4YW1wbGUiIDxjZW9AYmFuay5leGFtcGxlPiw=?= <evil@x.example>", "evil@x.example"),
])
def test_a_display_name_never_redirects_the_reply(sender, real):
    draft = reply_draft(original(From=sender), ACCOUNT)
    _, recipients = envelope(draft)
    assert recipients == [real]
    shown = [a.email for a in parse_addresses(sender)]  # what the reader shows as the address
    assert recipients == shown
    to = parsed(wire(draft))["To"]
    assert specs(to) == [real]
    assert "bank.example" not in "".join(a.addr_spec for a in to.addresses)


def test_the_trick_name_stays_a_display_name():
    draft = reply_draft(original(From='"ceo@bank.example" <evil@x.example>'), ACCOUNT)
    address = parsed(wire(draft))["To"].addresses[0]
    assert (address.display_name, address.addr_spec) == ("ceo@bank.example", "evil@x.example")


def _answered_as_shown(draft_, sender: str) -> None:
    """The reply goes exactly to the addresses the reader shows for sender; when it shows none
    (a Python with the strict getaddresses shows the raw text, no address), to nobody."""
    shown = [a.email for a in parse_addresses(sender) if "@" in a.email and a.email != ACCOUNT.email]
    if shown:
        assert envelope(draft_)[1] == shown
    else:
        assert parse_addresses(sender) and draft_.to == [] and draft_.cc == []
        with pytest.raises(ComposeError):
            envelope(draft_)


def test_an_address_ending_in_a_parenthesis_is_answered_as_shown():
    sender = "alice@example.org)<bob@example.org>"
    _answered_as_shown(reply_draft(original(From=sender), ACCOUNT, reply_all=False), sender)


def test_group_and_empty_originals_give_an_empty_reply_not_a_crash():
    draft = reply_draft(original(From="undisclosed-recipients:;", To="unlisted-recipients:; (no To-header on input)"),
                        ACCOUNT, reply_all=True)
    assert draft.to == [] and draft.cc == []
    with pytest.raises(ComposeError):
        envelope(draft)


# -- reply: subject and quote ----------------------------------------------------------------

@pytest.mark.parametrize("subject, expected", [
    ("Lunch", "Re: Lunch"),
    ("Re: Lunch", "Re: Lunch"),
    ("RE: Lunch", "Re: Lunch"),
    ("re:Lunch", "Re: Lunch"),
    ("Re[2]: Lunch", "Re: Lunch"),
    ("Re: RE: Aw: Lunch", "Re: Lunch"),
    ("AW: Lunch", "Re: Lunch"),
    ("SV: Lunch", "Re: Lunch"),
    ("Fwd: Lunch", "Re: Fwd: Lunch"),
    ("Return of the Re: thing", "Re: Return of the Re: thing"),
    ("", "Re:"),
])
def test_re_is_not_doubled(subject, expected):
    assert reply_subject(subject) == expected


@pytest.mark.parametrize("subject, expected", [
    ("Lunch", "Fwd: Lunch"), ("Fwd: Lunch", "Fwd: Lunch"), ("FW: Lunch", "Fwd: Lunch"),
    ("Fwd: Fwd: Lunch", "Fwd: Lunch"), ("WG: Lunch", "Fwd: Lunch"), ("Re: Lunch", "Fwd: Re: Lunch"),
])
def test_fwd_is_not_doubled(subject, expected):
    assert forward_subject(subject) == expected


def test_the_reply_quotes_with_attribution():
    raw = original(body="First line\n> earlier quote\n\nlast \x1b[2J line\n")
    draft = reply_draft(raw, ACCOUNT)
    lines = draft.body.split("\n")
    assert lines[0] == "On Mon, 03 Jun 2024 at 10:00 +0200, Carol <carol@example.org> wrote:"
    assert lines[1:5] == ["> First line", ">> earlier quote", ">", "> last  line"]
    assert "\x1b" not in draft.body


def test_quote_body_replaces_the_original_text():
    draft = reply_draft(original(), ACCOUNT, quote_body="only this part")
    assert "> only this part" in draft.body and "Hello Bob" not in draft.body


def test_reply_to_an_html_only_message_quotes_its_text():
    raw = original(Content_Type="text/html; charset=utf-8",
                   body="<p>Hi <b>Bob</b></p><script>alert(1)</script>")
    body = reply_draft(raw, ACCOUNT).body
    assert "> Hi **Bob**" in body and "<script" not in body


def test_a_date_that_does_not_parse_is_quoted_as_written():
    draft = reply_draft(original(Date="sometime last week"), ACCOUNT)
    assert draft.body.startswith("On sometime last week, Carol <carol@example.org> wrote:")


# -- header injection ------------------------------------------------------------------------

def draft(**over) -> Draft:
    values = dict(account="bob", from_addr="Bob Example <bob@example.test>", to=["carol@example.org"],
                  subject="Hello", body="Hi.\n")
    values.update(over)
    return Draft(**values)


EXPECTED_HEAD = ["From", "To", "Subject", "Date", "Message-ID", "User-Agent", "Content-Type",
                 "Content-Transfer-Encoding", "MIME-Version"]


@pytest.mark.parametrize("bad", [
    dict(subject="Hi\r\nBcc: spy@evil.example"),
    dict(subject="Hi\nBcc: spy@evil.example"),
    dict(subject="Hi\rBcc: spy@evil.example"),
    dict(to=["carol@example.org\r\nBcc: spy@evil.example"]),
    dict(to=["Carol\n <carol@example.org>"]),
    dict(cc=["x@example.org\rBcc: spy@evil.example"]),
    dict(bcc=["x@example.org\nX: y"]),
    dict(from_addr="bob@example.test\r\nBcc: spy@evil.example"),
    dict(in_reply_to="<a@b>\r\nBcc: spy@evil.example"),
    dict(references=["<a@b>", "<c@d>\r\nBcc: spy@evil.example"]),
    dict(extra_headers={"X-Note": "a\r\nBcc: spy@evil.example"}),
    dict(extra_headers={"Bcc": "spy@evil.example"}),
    dict(extra_headers={"X-Bad Name": "x"}),
    dict(extra_headers={"Content-Type": "text/html"}),
    # encoded-words that decode to a line break: Python before 3.11.10 writes it out raw
    dict(subject="=?utf-8?q?Hi=0D=0ABcc:_spy@evil.example?="),
    dict(subject="=?utf-8?b?SGkNCkJjYzogc3B5QGV2aWwuZXhhbXBsZQ==?="),
    dict(to=["=?utf-8?q?Carol=0D=0ABcc:_spy@evil.example?= <carol@example.org>"]),
])
def test_a_line_break_in_a_header_value_is_refused(bad):
    with pytest.raises(ComposeError):
        build_message(draft(**bad), ACCOUNT)


@pytest.mark.parametrize("subject", [
    "=?utf-8?q?Lunch=0D=0ABcc:_spy@evil.example?=",  # decodes to a line break
    # doubly encoded: decodes to text that is itself an encoded-word holding a line break
    "=?utf-8?b?" + base64.b64encode(b"=?utf-8?q?Lunch=0D=0ABcc:_spy@evil.example?=").decode() + "?=",
])
def test_a_hostile_original_subject_becomes_one_line(subject):
    draft_ = reply_draft(original(Subject=subject), ACCOUNT)
    data = wire(draft_)
    assert head_names(data) == ["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                                "User-Agent", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    assert "\n" not in str(parsed(data)["Subject"]) and "Bcc: spy" in str(parsed(data)["Subject"])
    fwd = wire(forward_inline_draft(original(Subject=subject), ACCOUNT, to=["dave@example.org"]))
    assert "Bcc" not in head_names(fwd)


@pytest.mark.parametrize("message_id", [
    "<orig-1@example.org>\r\n Bcc: spy@evil.example",  # folded: one header whose value goes on
    "=?utf-8?q?<orig-1@example.org>=0D=0ABcc:_spy@evil.example?=",
    "<orig-1@example.org>\x1b]52;c;Zm9v\x07 junk <a b@c>",
])
def test_only_the_msg_id_of_the_original_reaches_in_reply_to(message_id):
    draft_ = reply_draft(original(Message_ID=message_id, References="<r@x>\r\n\tBcc: spy@evil.example <s@y>"),
                         ACCOUNT)
    assert draft_.in_reply_to == "<orig-1@example.org>"
    assert draft_.references == ["<r@x>", "<s@y>", "<orig-1@example.org>"]
    data = wire(draft_)
    assert "Bcc" not in head_names(data) and b"spy@evil" not in data


def test_a_hostile_display_name_in_the_original_cannot_inject():
    sender = "=?utf-8?q?Carol=0D=0AX-Injected=3A_yes?= <carol@example.org>"
    data = wire(reply_draft(original(From=sender), ACCOUNT, reply_all=True))
    assert head_names(data) == ["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                                "User-Agent", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    assert specs(parsed(data)["To"]) == ["carol@example.org"]


def test_a_colon_in_an_encoded_word_is_answered_as_the_reader_shows_it():
    """Not a valid encoded-word in a phrase (RFC 2047 5.3): the reader's parser finds what it
    finds, and the reply goes exactly there, with no header of its own."""
    sender = "=?utf-8?q?Carol=0D=0ABcc:_spy@evil.example?= <carol@example.org>"
    draft_ = reply_draft(original(From=sender), ACCOUNT)
    _answered_as_shown(draft_, sender)
    if draft_.to:
        assert "Bcc" not in head_names(wire(draft_))


def test_the_body_may_hold_smtp_lookalikes():
    body = "one\r\n.\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<y@evil.example>\n.\nend\r.\r"
    data = wire(draft(body=body))
    msg = parsed(data)
    assert head_names(data) == EXPECTED_HEAD
    assert msg.get_content() == "one\n.\nMAIL FROM:<x@evil.example>\nRCPT TO:<y@evil.example>\n.\nend\n.\n"


# -- encodings ---------------------------------------------------------------------------------

def test_required_headers_and_the_user_agent():
    data = wire(draft())
    assert head_names(data) == EXPECTED_HEAD
    msg = parsed(data)
    assert msg["User-Agent"] == f"tuimail/{__version__}" and msg["MIME-Version"] == "1.0"
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.test>", msg["Message-ID"])
    assert msg["Date"].datetime is not None


def test_a_utf8_subject_and_name_are_rfc2047_encoded():
    data = wire(draft(subject="Grüße aus Köln — 日本語", to=["Jörg Ü <joerg@example.org>"]))
    head = data.split(b"\r\n\r\n")[0]
    assert head.isascii() and b"=?utf-8?" in head
    msg = parsed(data)
    assert msg["Subject"] == "Grüße aus Köln — 日本語"
    assert msg["To"].addresses[0].display_name == "Jörg Ü"


def test_utf8_body_goes_quoted_printable_ascii_as_7bit():
    data = wire(draft(body="Grüße\n" + "x" * 200 + "\n"))
    msg = parsed(data)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable" and data.isascii()
    assert msg.get_content() == "Grüße\n" + "x" * 200 + "\n"
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    plain = parsed(wire(draft(body="plain text")))
    assert plain["Content-Transfer-Encoding"] == "7bit" and plain.get_content() == "plain text\n"


def test_smtputf8_only_for_a_non_ascii_addr_spec():
    assert not needs_smtputf8(draft(to=["Jörg <joerg@example.org>"]))
    eai = draft(to=["Jörg <jörg@bücher.example>"])
    assert needs_smtputf8(eai)
    assert needs_smtputf8(draft(bcc=["jörg@bücher.example"]))
    data = message_bytes(build_message(eai, ACCOUNT))
    assert "To: Jörg <jörg@bücher.example>".encode() in data
    assert envelope(eai)[1] == ["jörg@bücher.example"]


def test_bcc_is_in_the_envelope_only_and_recipients_are_deduplicated():
    d = draft(to=["Carol <carol@example.org>", "dave@example.org, Erin <erin@example.org>"],
              cc=["CAROL@example.org"], bcc=["Spy <hidden@example.org>", "dave@example.org"])
    data = wire(d)
    assert b"hidden@example.org" not in data and "Bcc" not in head_names(data)
    assert envelope(d) == ("bob@example.test", ["carol@example.org", "dave@example.org", "erin@example.org",
                                               "hidden@example.org"])


@pytest.mark.parametrize("bad", ["bogus", "a@", "@b", "carol@example.org bob@example.org",
                                 "group: a@b, c@d;", "unlisted-recipients:; (no To-header on input)"])
def test_bad_addresses_are_refused(bad):
    with pytest.raises(ComposeError):
        parse_address_list(bad)
    with pytest.raises(ComposeError):
        build_message(draft(to=[bad]), ACCOUNT)


def test_no_recipients_is_an_envelope_error_not_a_build_error():
    d = draft(to=[])
    assert "To" not in head_names(wire(d))  # a draft may be saved without recipients
    with pytest.raises(ComposeError, match="no recipients"):
        envelope(d)


def test_format_address_keeps_a_name_only_if_it_parses_back():
    assert format_address("Carol", "carol@example.org") == "Carol <carol@example.org>"
    assert format_address('ceo@bank.example', "evil@x.example") == '"ceo@bank.example" <evil@x.example>'
    # a name that would decode to something else when parsed again is dropped, the address kept
    assert format_address("=?utf-8?q?a=0D=0Ab?=", "evil@x.example") == "evil@x.example"
    assert format_address("x", "not an address") is None


def test_plain_header_text_is_stored_as_itself():
    for text in ("Lunch", "=?utf-8?q?a=0D=0Ab?=", "=?utf-8?b?" + base64.b64encode(b"=?utf-8?q?x?=").decode() + "?="):
        kept = plain_header_text(text)
        stored = str(email.policy.default.header_factory("Subject", kept))
        assert stored == kept and "\n" not in stored and "\r" not in stored


# -- attachments ---------------------------------------------------------------------------------

def test_attachments_have_safe_names_guessed_types_and_exact_bytes(tmp_path):
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    odd = tmp_path / "-\u202etxt.exe"
    odd.write_bytes(b"MZ")
    text = tmp_path / "Grüße.txt"
    text.write_bytes("line\r\nnot utf-8: \xff".encode("latin-1"))
    msg = parsed(wire(draft(attachments=[png, odd, text])))
    parts = list(msg.iter_attachments())
    assert [p.get_content_type() for p in parts] == ["image/png", "application/x-msdos-program", "text/plain"]
    assert [p.get_filename() for p in parts] == ["pic.png", "txt.exe", "Grüße.txt"]
    assert parts[0].get_content() == png.read_bytes()
    assert parts[2].get_payload(decode=True) == text.read_bytes()
    assert msg.get_body(("plain",)).get_content() == "Hi.\n"


def test_an_eml_attachment_is_attached_verbatim(tmp_path):
    eml = tmp_path / "old.eml"
    eml.write_bytes(original())
    data = wire(draft(attachments=[eml]))
    assert original() in data
    part = next(parsed(data).iter_attachments())
    assert part.get_content_type() == "message/rfc822" and part.get_filename() == "old.eml"


def test_a_missing_attachment_is_a_compose_error(tmp_path):
    with pytest.raises(ComposeError, match="not a file"):
        build_message(draft(attachments=[tmp_path / "gone.pdf"]), ACCOUNT)
    with pytest.raises(ComposeError):
        build_message(draft(attachments=[tmp_path]), ACCOUNT)


# -- forward and redirect ---------------------------------------------------------------------

RECEIVED = ("Received: from mx.origin.example (mx.origin.example [192.0.2.7])\r\n"
            "\tby mail.example.test (Postfix) with ESMTPS id 4Vabc123\r\n"
            "\tfor <bob@example.test>; Mon, 03 Jun 2024 10:00:01 +0200")


def forwarded_original() -> bytes:
    return raw_message(RECEIVED, "From: Carol <carol@example.org>", "To: Bob <bob@example.test>",
                       "Cc: dave@example.org", "Subject: Plans", "Date: Mon, 03 Jun 2024 10:00:00 +0200",
                       "Message-ID: <plans@example.org>", "X-Spam-Score: 0.1",
                       body="The plan is simple.\n> quoted before\n")


def test_inline_forward_has_the_block_and_none_of_the_original_headers():
    d = forward_inline_draft(forwarded_original(), ACCOUNT, to=["erin@example.org"])
    assert d.subject == "Fwd: Plans" and d.to == ["erin@example.org"]
    assert d.forward_raw is None and d.in_reply_to is None and d.references == []
    block = d.body[d.body.index(FORWARD_MARK):].split("\n")
    assert block[:6] == [FORWARD_MARK, "From: Carol <carol@example.org>", "Date: Mon, 03 Jun 2024 10:00:00 +0200",
                         "Subject: Plans", "To: Bob <bob@example.test>", "Cc: dave@example.org"]
    assert "> The plan is simple." in d.body and ">> quoted before" in d.body
    data = wire(d)
    assert head_names(data) == EXPECTED_HEAD
    assert b"mx.origin.example" not in data and b"X-Spam-Score" not in data and b"plans@example.org" not in data
    unquoted = forward_inline_draft(forwarded_original(), ACCOUNT, quote_text=False).body
    assert "\nThe plan is simple.\n" in unquoted


def test_inline_forward_can_carry_the_attachments():
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "carol@example.org", "bob@example.test", "Files"
    msg.set_content("see attached")
    msg.add_attachment(bytes(range(256)) * 4, maintype="application", subtype="pdf", filename="../../report.pdf")
    inner = email.message.EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("inner text")
    msg.add_attachment(inner, filename="inner.eml")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    without = forward_inline_draft(raw, ACCOUNT, to=["erin@example.org"])
    assert without.attachment_data == []
    d = forward_inline_draft(raw, ACCOUNT, to=["erin@example.org"], include_attachments=True)
    assert [(a.filename, a.content_type) for a in d.attachment_data] == [
        ("report.pdf", "application/pdf"), ("inner.eml", "message/rfc822")]
    parts = list(parsed(wire(d)).iter_attachments())
    assert parts[0].get_content() == bytes(range(256)) * 4 and parts[0].get_filename() == "report.pdf"
    assert parts[1].get_content_type() == "message/rfc822"
    assert parts[1].get_content()["Subject"] == "inner"


def test_forward_as_attachment_keeps_the_original_and_the_note():
    raw = forwarded_original()
    d = forward_as_attachment(raw, ACCOUNT, to=["erin@example.org"], note="FYI")
    assert d.forward_raw == raw and d.body == "FYI" and d.subject == "Fwd: Plans"
    data = wire(d)
    assert raw in data and head_names(data)[:3] == ["From", "To", "Subject"]
    assert data.count(b"mx.origin.example") == 2  # in the attached original only (Received, twice)
    assert not needs_8bitmime(build_message(d, ACCOUNT))


def test_redirect_prepends_resent_headers_to_the_unchanged_original():
    raw = forwarded_original()
    data, recipients = redirect_draft(raw, ACCOUNT, to=["Erin <erin@example.org>", "frank@example.org"])
    assert recipients == ["erin@example.org", "frank@example.org"]
    assert data.endswith(raw)
    head = data[: len(data) - len(raw)]
    assert head_names(head + b"\r\n") == ["Resent-From", "Resent-To", "Resent-Date", "Resent-Message-ID"]
    msg = parsed(data)
    assert msg["Resent-From"] == "Bob Example <bob@example.test>"
    assert specs(msg["Resent-To"]) == ["erin@example.org", "frank@example.org"]
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.test>", msg["Resent-Message-ID"])
    lf, _ = redirect_draft(raw.replace(b"\r\n", b"\n"), ACCOUNT, to=["erin@example.org"])
    assert lf.endswith(raw) and b"\n" not in lf.replace(b"\r\n", b"")


@pytest.mark.parametrize("to", [[], ["erin@example.org\r\nBcc: spy@evil.example"], ["bogus"]])
def test_redirect_refuses_bad_recipients(to):
    with pytest.raises(ComposeError):
        redirect_draft(forwarded_original(), ACCOUNT, to=to)


def test_header_address_helper_matches_the_strict_parser():
    assert str(HeaderAddress(display_name="ceo@bank.example", addr_spec="evil@x.example")) == \
        format_address("ceo@bank.example", "evil@x.example")
