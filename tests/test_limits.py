"""The [limits] caps (issue #8 item 4; SECURITY-CASES 12, 14, 22, 30): each one is set small in
the config, hit by a scripted fake server or a generated message, and reported in one line that
names the key raising it. Without [limits] the caps are those in force before the table existed.
The IMAP reader's caps (BODYSTRUCTURE depth and parts, the fetched text) are in test_limits_mime.py.
"""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.pop3_support import FakePop3, message
from tests.smtp_support import PASSWORD, FakeSmtp, pki  # noqa: F401 (pki is a fixture)
from tests.test_imap_hostile import FakeServer as FakeImap
from tuimail.model.config import Account, ConfigError, dump_config, parse_config, with_account
from tuimail.model.limits import Limits
from tuimail.model.message import parse_message
from tuimail.model.mime import MimePart
from tuimail.model.secret import Secret
from tuimail.protocols.errors import AuthError, ConnectError, MailError, ProtocolError, StartTlsError, WireLimit
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.pop3 import Pop3Limits, Pop3Session
from tuimail.protocols.smtp import send as smtp_send
from tuimail.protocols.wire import ImapLimits
from tuimail.store.config_file import load_config
from tuimail.store.pop3_store import Pop3Store
from tuimail.store.pop3_sync import Pop3Sync

MIB = 1024 * 1024


def config_text(server: str, port: int, limits: str = "", own: str = "", extra: str = "") -> str:
    """One account "x" on a fake server; limits: the [limits] body, own: [accounts.x.limits]'s."""
    reading = server if server != "smtp" else "imap"
    servers = f"""
[accounts.x.{server}]
host = "127.0.0.1"
port = {port}
{extra}"""
    if server == "smtp":
        servers += '\n[accounts.x.imap]\nhost = "127.0.0.1"\nport = 1\n'
    return f"""
[limits]
{limits}

[accounts.x]
email = "x@example.test"
username = "x"
protocol = "{reading}"
timeout = 2
{servers}
[accounts.x.limits]
{own}
"""


def account_with(server: str, port: int, limits: str = "", own: str = "", extra: str = "") -> Account:
    return parse_config(config_text(server, port, limits, own, extra)).account("x")


def limits_with(text: str) -> Limits:
    return account_with("imap", 1, text).limits


PLAIN = 'security = "plain"\nallow_plaintext_auth = true'


# ---------------------------------------------------------------- the config table

def test_limits_default_to_the_caps_in_force_before_the_table_existed():
    config = parse_config(config_text("imap", 1))
    assert config.limits == Limits() == config.account("x").limits
    assert Limits() == Limits(
        imap_line_bytes=4 * MIB, imap_literal_bytes=80 * MIB, imap_response_bytes=256 * MIB,
        imap_responses=400_000, pop3_line_bytes=MIB, pop3_response_bytes=256 * MIB,
        smtp_line_bytes=8192, smtp_response_bytes=32768, message_bytes=64 * MIB, header_bytes=MIB,
        mime_parts=2_000, mime_depth=40, body_chars=2_000_000, html_chars=1_000_000, html_seconds=2.0)
    # the protocol layers' own defaults are these very values
    assert ImapLimits.of(Limits()) == ImapLimits() and Pop3Limits.of(Limits()) == Pop3Limits()


def test_limits_are_global_with_per_account_overrides_and_round_trip():
    text = config_text("imap", 1, "imap_line_bytes = 1000\nhtml_seconds = 1", "imap_line_bytes = 2000\nmime_parts = 7")
    text += '\n[accounts.y]\nemail = "y@example.test"\n[accounts.y.imap]\nhost = "h.example.test"\n'
    config = parse_config(text)
    x, y = config.account("x"), config.account("y")
    assert (x.limits.imap_line_bytes, x.limits.mime_parts, x.limits.html_seconds) == (2000, 7, 1.0)
    assert (y.limits.imap_line_bytes, y.limits.mime_parts, y.limits.html_seconds) == (1000, 2_000, 1.0)
    assert config.limits.imap_line_bytes == 1000 and x.own_limits == ("imap_line_bytes", "mime_parts")
    dumped = dump_config(config)
    assert parse_config(dumped, config.path) == config
    assert "[accounts.x.limits]" in dumped and "[accounts.y.limits]" not in dumped
    # an account added later (setup form) takes the global limits, not the built-in ones
    added = with_account(config, Account("z", "z@example.test", "z")).account("z")
    assert added.limits == config.limits


@pytest.mark.parametrize("limits, own, words", [
    ("line_bytes = 10", "", ["key 'limits.line_bytes'", "unknown key", "imap_line_bytes"]),
    ("imap_line_bytes = 0", "", ["key 'limits.imap_line_bytes'", "more than 0"]),
    ("body_chars = -5", "", ["key 'limits.body_chars'", "more than 0"]),
    ("html_seconds = 0.0", "", ["key 'limits.html_seconds'", "more than 0"]),
    ('header_bytes = "1MB"', "", ["key 'limits.header_bytes'", "expected an integer"]),
    ("mime_depth = 2.5", "", ["key 'limits.mime_depth'", "expected an integer"]),
    ("mime_parts = true", "", ["key 'limits.mime_parts'", "expected an integer"]),
    ("smtp_line_bytes = 9000", "", ["key 'limits.smtp_line_bytes'", "at most 8192", "aiosmtplib"]),
    ("", "pop3_line_bytes = 0", ["account 'x'", "key 'limits.pop3_line_bytes'", "more than 0"]),
    ("", "imap_lines = 3", ["account 'x'", "key 'limits.imap_lines'", "unknown key"]),
])
def test_bad_limits_are_one_clear_line_naming_the_key(tmp_path, limits, own, words):
    path = tmp_path / "config.toml"
    path.write_text(config_text("imap", 1, limits, own))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    for word in words:
        assert word in message, message


def test_a_limits_value_that_is_not_a_table_is_a_config_error():
    with pytest.raises(ConfigError, match="key 'limits': expected a table"):
        parse_config("limits = 5\n")


# ---------------------------------------------------------------- IMAP: lines, literals, responses

def imap(script, limits: str = "", own: str = "") -> ImapSession:
    server = FakeImap(script)
    session = ImapSession.connect(account_with("imap", server.port, limits, own, PLAIN), Secret("pw"))
    session.select("INBOX")
    return session


def fetch_answer(data: bytes):
    def script(tag, command, conn):
        section = command.split(b"BODY.PEEK[", 1)[1].split(b"]", 1)[0]
        conn.sendall(b"* 1 FETCH (UID 1 BODY[%s] {%d}\r\n%s)\r\n%s OK done\r\n" % (section, len(data), data, tag))
    return script


def lines_answer(count: int, size: int):
    def script(tag, command, conn):
        conn.sendall((b"* OK " + b"x" * (size - 7) + b"\r\n") * count + tag + b" OK done\r\n")
    return script


def test_case_14_imap_line_over_limits_imap_line_bytes():
    with imap(lines_answer(1, 3000)) as session:
        session.noop()  # the default cap lets a 3,000-byte line through
    with imap(lines_answer(1, 3000), "imap_line_bytes = 2048") as session:
        with pytest.raises(WireLimit) as caught:
            session.noop()
        assert str(caught.value).endswith("server sent a line over 2 KiB (limits.imap_line_bytes)")
        assert isinstance(session.broken, ConnectError)  # the connection is dropped, not reused


def test_case_12_imap_literal_over_limits_imap_literal_bytes_per_account():
    with imap(fetch_answer(b"y" * 5000)) as session:
        assert session.fetch_part(1, "1") == b"y" * 5000
    # the account's own table beats the global one
    with imap(fetch_answer(b"y" * 5000), "imap_literal_bytes = 100000", "imap_literal_bytes = 4096") as session:
        with pytest.raises(WireLimit, match=r"literal of 5000 bytes, over the 4 KiB allowed "
                                            r"\(limits\.imap_literal_bytes\)"):
            session.fetch_part(1, "1")


def test_case_14_imap_total_response_over_limits_imap_response_bytes():
    with imap(lines_answer(100, 200), "imap_response_bytes = 32768") as session:
        session.noop()
        session.noop()  # 20,000 bytes each: the count starts again with every command
    with imap(lines_answer(100, 200), "imap_response_bytes = 16384") as session:
        with pytest.raises(WireLimit) as caught:
            session.noop()
        assert str(caught.value).endswith("server response over 16 KiB (limits.imap_response_bytes)")


def test_case_14_imap_untagged_responses_over_limits_imap_responses():
    with imap(lines_answer(500, 20), "imap_responses = 100") as session:
        with pytest.raises(WireLimit, match=r"more than 100 untagged responses to one command "
                                            r"\(limits\.imap_responses\)"):
            session.noop()


def test_case_22_imap_header_and_message_over_their_limits_are_clean_errors():
    with imap(fetch_answer(b"Subject: x\r\n" * 300), "header_bytes = 1024") as session:
        with pytest.raises(ProtocolError) as caught:
            session.fetch_header(1)
        assert str(caught.value).endswith("header block of UID 1 over 1 KiB (limits.header_bytes)")
        assert session.broken is None  # the answer was read whole: the session goes on
    with imap(fetch_answer(b"Subject: x\r\n\r\n" + b"z" * 3000), "message_bytes = 2048") as session:
        with pytest.raises(ProtocolError, match=r"message UID 1 over 2 KiB \(limits\.message_bytes\)"):
            session.fetch_raw(1)


def test_case_22_30_imap_displayed_text_follows_the_accounts_body_and_html_limits():
    plain = MimePart("1", "text/plain", size=500)
    html = MimePart("1", "text/html", size=2000)
    with imap(fetch_answer(b"w" * 500), "body_chars = 100") as session:
        text, problems = session.fetch_text(1, plain)
    assert text == "w" * 100 and "body over 100 characters (limits.body_chars); the rest is not shown" in problems
    with imap(fetch_answer(b"<p>hi</p>" * 200), "html_chars = 1000") as session:
        text, problems = session.fetch_text(1, html)
    assert "<p>" not in text and "hi" in text
    assert any("HTML over 1,000 characters (limits.html_chars)" in p for p in problems), problems


# ---------------------------------------------------------------- POP3: lines, RETR, TOP

def pop3_sync(server: FakePop3, root, limits: str = "") -> Pop3Sync:
    account = account_with("pop3", server.port, limits, extra=PLAIN)
    return Pop3Sync(Pop3Store(root), account, connect=lambda: Pop3Session.connect(account, Secret("pw")))


def test_case_14_pop3_retr_over_limits_pop3_response_bytes_loses_nothing(tmp_path):
    big = message(1, size=100_000)  # an honest message; LIST says its size
    server = FakePop3([(b"U1", big)])
    report = pop3_sync(server, tmp_path / "small", "pop3_response_bytes = 65536").sync()
    server.wait()
    assert not report.ok and "message 1: answer over 64 KiB (limits.pop3_response_bytes)" in report.error
    assert b"DELE 1" not in server.log and server.committed is None  # still on the server, nothing deleted
    server = FakePop3([(b"U1", big)])
    report = pop3_sync(server, tmp_path / "default").sync()  # the default cap takes it
    assert report.ok and len(report.downloaded) == 1


def test_case_14_pop3_line_over_limits_pop3_line_bytes_stores_nothing(tmp_path):
    def one_long_line(conn, n):
        conn.sendall(b"+OK\r\nSubject: x\r\n\r\n" + b"q" * 5000 + b"\r\n.\r\n")
    server = FakePop3([(b"U1", message(1))], retr=one_long_line)
    sync = pop3_sync(server, tmp_path, "pop3_line_bytes = 4096")
    sync.open()
    with pytest.raises(MailError, match=r"message 1: a line over 4 KiB \(limits\.pop3_line_bytes\)"):
        sync.read("U1")
    assert not sync.store.by_key("U1").stored and list((tmp_path / "cur").iterdir()) == []


CAPS = (b"USER", b"UIDL", b"TOP", b"PIPELINING")
POP3_SHORT_CASES = {  # name: (server options, lowered limit, message); status/CAPA lines stay <= 4 KiB
    "capa_line": (dict(capa=CAPS + (b"X-LONG " + b"c" * 2000,)), "pop3_line_bytes = 1024",
                  "CAPA answer: a line over 1 KiB (limits.pop3_line_bytes)"),
    "capa_answer": (dict(capa=CAPS + tuple(b"X-CAP-%03d " % i + b"c" * 50 for i in range(100))),
                    "pop3_response_bytes = 4096", "CAPA answer: answer over 4 KiB (limits.pop3_response_bytes)"),
    "status_line": (dict(auth_reply=b"+OK " + b"w" * 2000), "pop3_line_bytes = 1024",
                    "status line: a line over 1 KiB (limits.pop3_line_bytes)"),
    "uidl_listing": ({}, "pop3_response_bytes = 1024", "UIDL listing: answer over 1 KiB (limits.pop3_response_bytes)"),
}


@pytest.mark.parametrize("name", list(POP3_SHORT_CASES))
def test_case_14_pop3_status_capa_and_listings_follow_lowered_limits(name):
    options, limits, words = POP3_SHORT_CASES[name]
    mail = [(b"U%02d-" % i + b"u" * 60, message(i)) for i in range(1, 21)]  # a UIDL listing of 1.4 KB
    for lowered in (False, True):
        server = FakePop3(mail, **options)
        account = account_with("pop3", server.port, limits if lowered else "", extra=PLAIN)
        try:
            session = Pop3Session.connect(account, Secret("pw"))
            with session:
                uidls, _ = session.listing()
            assert not lowered and len(uidls) == 20  # the default caps let each of these through
        except WireLimit as caught:
            assert lowered and str(caught).endswith(words), caught


def test_case_22_pop3_top_over_limits_header_bytes():
    server = FakePop3([(b"U1", b"Subject: x\r\n" + b"X-Pad: " + b"p" * 3000 + b"\r\n\r\nbody\r\n")])
    session = Pop3Session.connect(account_with("pop3", server.port, "header_bytes = 2048", extra=PLAIN),
                                  Secret("pw"))
    try:
        with pytest.raises(WireLimit, match=r"TOP header: answer over 2 KiB \(limits\.header_bytes\)"):
            session.window([1])
    finally:
        session.close()


def test_case_22_pop3_reader_applies_the_accounts_message_limits(tmp_path):
    server = FakePop3([(b"U1", message(1, body="v" * 400 + "\n"))])
    sync = pop3_sync(server, tmp_path, "body_chars = 100")
    sync.open()
    view = sync.read("U1")
    assert len(view.text) == 100 and any("(limits.body_chars)" in p for p in view.problems), view.problems


# ---------------------------------------------------------------- SMTP: EHLO lines and replies

def smtp_to(server: FakeSmtp, pki, limits: str, extra: str):  # noqa: F811 (pki is the fixture's value)
    account = replace(account_with("smtp", server.port, limits, extra=extra), ca_file=str(pki["ca_pem"]))
    return smtp_send(account, Secret(PASSWORD), "x@example.test", ["bob@example.test"], b"Subject: s\r\n\r\nb\r\n")


SMTP_CASES = [
    ("smtp_response_bytes = 1024", tuple(b"X-CAP-%02d " % i + b"c" * 60 for i in range(40)),
     "server reply over 1 KiB (limits.smtp_response_bytes)"),
    ("smtp_line_bytes = 512", (b"X-LONG " + b"l" * 600,), "server sent a line over 512 bytes (limits.smtp_line_bytes)"),
]


@pytest.mark.parametrize("security", ["tls", "starttls"])
@pytest.mark.parametrize("limits, caps, words", SMTP_CASES)
def test_case_14_smtp_ehlo_over_lowered_limits_is_a_limit_error_not_a_login_failure(pki, security, limits, caps,
                                                                                     words):
    tls = pki["server"]
    caps = caps + (b"AUTH PLAIN",)
    kwargs = {"implicit": tls, "caps_tls": caps} if security == "tls" else {
        "starttls": tls, "caps_plain": caps + (b"STARTTLS",)}  # flooded before TLS: not a STARTTLS refusal either
    extra = f'security = "{security}"'
    with FakeSmtp(**kwargs) as server:
        with pytest.raises(MailError) as caught:
            smtp_to(server, pki, limits, extra)
        assert type(caught.value) is WireLimit and not isinstance(caught.value, (AuthError, StartTlsError))
        assert str(caught.value).endswith(words)
        server.assert_no_credentials()  # stopped at the first EHLO: no AUTH, no MAIL
        assert set(server.commands()) <= {b"EHLO", b"STARTTLS"}, server.commands()
        smtp_to(server, pki, "", extra)  # the same server with the default limits: delivered
    assert len(server.delivered) == 1


def test_case_14_smtp_greeting_over_aiosmtplibs_own_cap_is_a_limit_error(pki):
    flood = b"220-" + b"g" * 100 + b"\r\n"
    with FakeSmtp(implicit=pki["server"], replies={"greeting": flood * 400 + b"220 fake"}) as server:
        started = time.monotonic()
        with pytest.raises(WireLimit) as caught:
            smtp_to(server, pki, "", 'security = "tls"')
    assert time.monotonic() - started < 10
    assert "over aiosmtplib's own caps of 8 KiB a line or 32 KiB a reply" in str(caught.value)
    assert "limits.smtp_response_bytes" in str(caught.value) and "refused" not in str(caught.value)
    server.assert_no_credentials()


# ---------------------------------------------------------------- messages: parts, depth, sizes, HTML

def _nested(depth: int) -> bytes:
    opens = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    closes = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"Subject: deep\r\n" + opens + b"Content-Type: text/plain\r\n\r\ninnermost\r\n" + closes


def _parts(count: int) -> bytes:
    parts = b"".join(b"--x\r\nContent-Type: application/octet-stream\r\n\r\nA\r\n" for _ in range(count))
    return b"Subject: many\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" + parts + b"--x--\r\n"


MESSAGE_CASES = {
    "mime_parts": ("mime_parts = 10", _parts(50),
                   "more than 10 MIME parts; the rest are not listed (limits.mime_parts)"),
    "mime_depth": ("mime_depth = 3", _nested(8),
                   "MIME nesting deeper than 3 levels; inner parts are not listed (limits.mime_depth)"),
    "header_bytes": ("header_bytes = 2048", b"Subject: big\r\n" + b"X-Pad: p\r\n" * 500 + b"\r\nthe body\r\n",
                     "header block over 2 KiB (limits.header_bytes); the rest is not shown"),
    "message_bytes": ("message_bytes = 4096", b"Subject: long\r\n\r\n" + b"m" * 10_000,
                      "message over 4 KiB (limits.message_bytes); the rest is not shown"),
    "body_chars": ("body_chars = 100", b"Subject: b\r\n\r\n" + b"c" * 500,
                   "body over 100 characters (limits.body_chars); the rest is not shown"),
    "html_chars": ("html_chars = 1000", b"Content-Type: text/html\r\n\r\n" + b"<b>bold</b> " * 200,
                   "HTML over 1,000 characters (limits.html_chars): tags stripped instead of converted"),
    "html_seconds": ("html_seconds = 0.000001", b"Content-Type: text/html\r\n\r\n" + b"<p>para</p>" * 3_000,
                     "HTML conversion took over 1e-06 s (limits.html_seconds): tags stripped instead of converted"),
}


@pytest.mark.parametrize("key", list(MESSAGE_CASES))
def test_case_22_30_message_caps_from_the_config_name_their_key(key):
    limits, raw, problem = MESSAGE_CASES[key]
    assert not any(f"limits.{key}" in p for p in parse_message(raw).problems)  # the default lets it through
    parsed = parse_message(raw, limits_with(limits))
    assert problem in parsed.problems, parsed.problems
    assert parsed.header("Subject") or parsed.body  # shown as far as the cap allows, never a crash
    if key == "mime_parts":
        assert len(list(parsed.root.walk())) <= 10
    if key in ("body_chars", "header_bytes"):
        assert parsed.body.strip() in ("c" * 100, "the body")
    if key.startswith("html"):
        assert "<" not in parsed.body and parsed.body.strip()
