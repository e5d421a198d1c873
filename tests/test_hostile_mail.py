"""Hostile messages (SECURITY-CASES C and D) parse into inert text without raising."""
from __future__ import annotations

from tuimail.model.address import parse_addresses
from tuimail.model.decode import decode_bytes, decode_header, python_charset
from tuimail.model.message import MAX_DEPTH, MAX_PARTS, parse_message


def _nested(depth: int) -> bytes:
    head = b"From: a@example.test\r\nSubject: deep\r\n"
    parts = []
    for level in range(depth):
        parts.append(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level))
    body = b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    tail = b"".join(b"\r\n--b%d--\r\n" % level for level in reversed(range(depth)))
    return head + b"".join(parts) + body + tail


def test_thousand_deep_nesting_does_not_raise():
    parsed = parse_message(_nested(1000))
    assert parsed.header("Subject") == "deep"
    assert any("nesting" in p or "deep" in p for p in parsed.problems)


def test_moderate_nesting_finds_the_innermost_text():
    parsed = parse_message(_nested(10))
    assert parsed.body.strip() == "innermost"
    assert MAX_DEPTH > 10


def test_twenty_thousand_parts_are_capped():
    parts = b"".join(b"--x\r\nContent-Type: application/octet-stream\r\n\r\nA\r\n" for _ in range(20_000))
    raw = b"Subject: many\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" + parts + b"--x--\r\n"
    parsed = parse_message(raw)
    assert len(list(parsed.root.walk())) <= MAX_PARTS
    assert any("MIME parts" in p for p in parsed.problems)


def test_encoded_word_storm_is_linear_and_bounded():
    subject = " ".join(["=?utf-8?q?a?="] * 40_000)
    parsed = parse_message(f"Subject: {subject}\r\n\r\nbody\r\n".encode())
    assert set(parsed.header("Subject")) == {"a"}
    assert len(parsed.header("Subject")) <= 16_384


def test_unknown_and_lying_charsets_decode_with_replacement():
    assert python_charset("x-evil") is None and python_charset("base64") is None
    raw = (b"Subject: =?x-evil?q?caf=E9?=\r\nContent-Type: text/plain; charset=x-evil\r\n\r\n"
           b"caf\xe9 \xff\xfe\r\n")
    parsed = parse_message(raw)
    assert parsed.header("Subject") == "café"
    assert parsed.body.startswith("café")
    assert decode_bytes(b"\xe9t\xe9", "utf-8") == "été"  # declared UTF-8, really cp1252


def test_utf16_and_nul_bytes():
    raw = "Content-Type: text/plain; charset=utf-16\r\n\r\n".encode() + "héllo".encode("utf-16")
    assert parse_message(raw).body == "héllo"
    assert "\x00" not in parse_message(b"Subject: a\x00b\r\n\r\nx\x00y").body


def test_invalid_encodings_do_not_raise():
    raw = (b"Subject: =?utf-8?b?!!!?= =?utf-8?q?=ZZ?=\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"@@@not base64 at all@@@\r\n")
    parsed = parse_message(raw)
    assert isinstance(parsed.body, str)
    uu = b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n\x9fgarbage\r\nend\r\n"
    assert isinstance(parse_message(uu).body, str)


def test_headers_starting_with_newline_and_missing_fields():
    parsed = parse_message(b"\r\nSubject: x\r\n\r\nbody")
    assert isinstance(parsed.body, str)
    parsed = parse_message(b"To: unlisted-recipients:; (no To-header on input)\r\n\r\nhi\r\n")
    assert parsed.header("From") == "" and parsed.header("Date") == ""
    assert parse_addresses(parsed.header("To")) == () or all(a.email == "" for a in parse_addresses(parsed.header("To")))


def test_address_confusion_shows_the_real_address():
    spoof = parse_addresses('"ceo@bank.example" <evil@x.example>')
    assert spoof[0].email == "evil@x.example"
    assert "evil@x.example" in spoof[0].display()


def test_terminal_controls_are_stripped_everywhere():
    evil = "\x1b]52;c;SGVsbG8=\x07\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\x1b[2J\x9b31m\u202egnp.exe"
    raw = (f"Subject: {evil}\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Disposition: inline\r\n\r\n{evil}\r\n").encode()
    parsed = parse_message(raw)
    for text in (parsed.header("Subject"), parsed.body):
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text and "\x07" not in text
        assert "link" in text and "gnp.exe" in text


def test_markup_is_left_as_text():
    raw = b"Subject: [@click=app.quit]x[/] [b]bold [TODO]\r\n\r\n[link=https://evil]bank[/link]\r\n"
    parsed = parse_message(raw)
    assert parsed.header("Subject") == "[@click=app.quit]x[/] [b]bold [TODO]"
    assert "[link=https://evil]bank[/link]" in parsed.body


def test_html_body_never_references_images_and_keeps_link_targets():
    raw = (b"Content-Type: text/html\r\n\r\n<p>Hi <a href='javascript:alert(1)'>bank.example</a>"
           b"<img src='http://tracker.example/t.gif' alt='logo'></p>")
    parsed = parse_message(raw)
    assert parsed.body_kind == "html"
    assert "javascript:alert" in parsed.body  # the real target is visible next to its text
    assert "tracker.example" not in parsed.body and "logo" in parsed.body


def test_encoded_word_with_crlf_does_not_become_two_header_lines():
    parsed = parse_message(b"Subject: =?utf-8?q?a=0D=0ABcc:_x@evil?=\r\n\r\nb")
    assert "\n" not in parsed.header("Subject") and "\r" not in parsed.header("Subject")
    assert decode_header("=?utf-8?q?a=0D=0Ab?=").replace("\r", "").replace("\n", "") == "ab"
