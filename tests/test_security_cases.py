"""SECURITY-CASES that had no test of their own yet (wire side): 7, 10, 12/14 on SMTP, 20, 30.

The map of every case to its tests is tests/SECURITY_CASES.md. These tests use the scripted
fake servers of test_tls_hostile (real TLS from a test CA; every client line recorded).
"""
from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace

import pytest

from tests.test_tls_hostile import (PASSWORD, FakeServer, Peer, imap_script, make_account, pki,
                                    pop3_script)
from tuimail.model.config import Protocol, Security
from tuimail.model.html import html_to_text
from tuimail.model.limits import Limits
from tuimail.model.message import parse_message
from tuimail.model.secret import Secret
from tuimail.protocols.connect import close_pop3
from tuimail.protocols.errors import AuthError, MailError, MailTimeout, WireLimit
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.pop3 import Pop3Session
from tuimail.protocols.smtp import send as smtp_send
from tuimail.protocols.trace import ProtocolTrace

__all__ = ["pki"]
ALERT = b"[ALERT] Your mailbox is locked: call +1-555-0100 or visit http://evil.example"


def _listener() -> socket.socket:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.5)
    return sock


def _accepted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except (TimeoutError, socket.timeout):
        return False
    conn.close()
    return True


# ---------------------------------------------------------------- case 7

def test_case_07_imap_plaintext_alert_and_bye_are_never_kept(pki):
    server = FakeServer(imap_script(
        greeting=b"* OK " + ALERT, inject=b"* OK " + ALERT + b"\r\n* BYE " + ALERT + b"\r\n", tls=pki["good"]))
    account = make_account(Protocol.IMAP, server.port, Security.STARTTLS, pki["ca_pem"])
    trace = ProtocolTrace()
    with ImapSession.connect(account, Secret(PASSWORD), trace=trace) as session:
        session.noop()  # the injected BYE did not end the TLS session
        untagged = session._client._imap.untagged_responses
        assert not any(b"evil.example" in bytes(v) for values in untagged.values() for v in values
                       if isinstance(v, bytes)), untagged
        assert "evil.example" not in trace.format() and "ALERT" not in trace.format()


def test_case_07_pop3_plaintext_greeting_is_not_kept_after_stls(pki):
    script = pop3_script(inject=b"+OK " + ALERT + b"\r\n", tls=pki["good"])

    def greet(peer: Peer) -> None:
        send = peer.send
        peer.send = lambda data: (setattr(peer, "send", send), send(b"+OK " + ALERT + b"\r\n"))
        script(peer)
    server = FakeServer(greet)
    account = make_account(Protocol.POP3, server.port, Security.STARTTLS, pki["ca_pem"])
    trace = ProtocolTrace()
    session = Pop3Session.connect(account, Secret(PASSWORD), trace=trace)
    try:
        assert session.greeting == "" and "evil" not in trace.format()
    finally:
        close_pop3(session._pop)


# ---------------------------------------------------------------- case 10

def test_case_10_imap_referral_is_never_followed(pki):
    elsewhere = _listener()
    referral = b"imap://alice@127.0.0.1:%d/INBOX" % elsewhere.getsockname()[1]

    def script(peer: Peer) -> None:
        peer.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN-REFERRALS] hi\r\n")
        while line := peer.line():
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            if rest.upper().startswith(b"LOGIN"):
                peer.send(tag + b" NO [REFERRAL " + referral + b"] try there\r\n")
            elif rest.upper().startswith(b"CAPABILITY"):
                peer.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN-REFERRALS\r\n" + tag + b" OK done\r\n")
            else:
                peer.send(tag + b" NO [REFERRAL " + referral + b"] no\r\n")
    server = FakeServer(script, implicit_tls=pki["good"])
    account = make_account(Protocol.IMAP, server.port, Security.TLS, pki["ca_pem"])
    with pytest.raises(AuthError):
        ImapSession.connect(account, Secret(PASSWORD))
    assert not _accepted(elsewhere), "the client followed a REFERRAL"
    elsewhere.close()


# ---------------------------------------------------------------- cases 12 and 14 on SMTP

def _smtp_flood(kind: str):
    def script(peer: Peer) -> None:
        peer.send(b"220 fake ESMTP\r\n")
        peer.line()
        try:
            if kind == "endless 250-":
                while True:
                    peer.send(b"250-" + b"x" * 60 + b"\r\n")
            elif kind == "no CRLF":
                while True:
                    peer.send(b"250-" + b"y" * 4096)
            else:  # a trickle, one byte at a time
                for _ in range(100):
                    peer.send(b"2")
                    time.sleep(0.1)
        except OSError:
            pass
    return script


@pytest.mark.parametrize("kind, error, words", [
    ("endless 250-", WireLimit, "server reply over 32 KiB (limits.smtp_response_bytes)"),
    ("no CRLF", WireLimit, "server sent a line over 8 KiB (limits.smtp_line_bytes)"),
    ("trickle", MailTimeout, "timed out"),
])
async def test_case_14_smtp_endless_or_trickled_ehlo_hits_a_cap_or_the_timeout(pki, kind, error, words):
    server = FakeServer(_smtp_flood(kind), implicit_tls=pki["good"])
    account = replace(make_account(Protocol.SMTP, server.port, Security.TLS, pki["ca_pem"]), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(MailError) as caught:  # the real send path, which closes what it opened
        await asyncio.wait_for(asyncio.to_thread(
            smtp_send, account, Secret(PASSWORD), "alice@example.test", ["bob@example.test"],
            b"Subject: x\r\n\r\nbody\r\n"), 20)
    assert time.monotonic() - started < 15 and "\n" not in str(caught.value)
    # A flood is a limit hit, never a failed login (it used to read "login failed: Response too long")
    assert type(caught.value) is error and not isinstance(caught.value, AuthError), repr(caught.value)
    assert words in str(caught.value) and "login failed" not in str(caught.value)
    await asyncio.to_thread(server.assert_no_credentials)


# ---------------------------------------------------------------- case 30

@pytest.mark.parametrize("html", [
    "<ul><li>x" * 50_000,  # each level indents deeper: quadratic output
    "<blockquote>" * 40_000 + "x",
    "<div>" * 300_000 + "deep",  # over the size cap
])
def test_case_30_pathological_html_is_capped_and_falls_back_to_stripped_text(html):
    started = time.monotonic()
    text, problems = html_to_text(html)
    assert time.monotonic() - started < 5
    assert len(text) < 4_000_000 and text.strip()


def test_case_30_a_conversion_over_the_time_limit_strips_tags_instead():
    html = "<p><a href='https://example.org/x'>link</a></p>" * 20_000
    text, problems = html_to_text(html, Limits(html_seconds=0.0))
    assert any("took over 0 s (limits.html_seconds)" in p for p in problems), problems
    assert "<" not in text and "link" in text


def test_case_30_plain_alternative_is_preferred_to_pathological_html():
    raw = (b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n"
           + b"<ul><li>x" * 50_000 + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nthe plain text\r\n--b--\r\n")
    parsed = parse_message(raw)
    assert parsed.body_kind == "plain" and parsed.body.strip() == "the plain text"


# ---------------------------------------------------------------- case 29

def test_case_29_links_show_their_real_target_next_to_the_text():
    raw = (b"Content-Type: text/html\r\n\r\n<a href='file:///etc/passwd'>your invoice</a> "
           b"<a href='https://evil.example/login'>https://bank.example</a> "
           b"<a href='javascript:alert(1)'>click</a>\r\n")
    body = parse_message(raw).body
    assert "file:///etc/passwd" in body and "https://evil.example/login" in body and "javascript:alert" in body
    assert "\x1b]8" not in body  # plain text: no terminal hyperlink, nothing to auto-open
