"""Header inspection in the reader against the real Dovecot and submission server: the full
headers toggle (decoded, then raw), the route view (hops, TLS, authentication claims), the raw
source of the message and of one part, and the MIME tree. Hostile header text stays literal."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from tests.tui_support import open_newest, hermetic, rendered_lines, wait_for
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.help import HelpScreen
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.screens.route import RouteScreen
from tuimail.ui.screens.source import MimeTreeScreen, RawSourceScreen
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.source_view import SourceView
from tuimail.ui.widgets.text_view import TextView

__all__ = ["hermetic"]
SIZE = (160, 50)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8

# Three hops of our own, newest first as MTAs prepend them: Postfix, Exim, Sendmail layouts.
OWN_RECEIVED = (
    b"Received: from relay2.example.net (relay2.example.net [198.51.100.7])\r\n"
    b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
    b"\tby mx.example.test (Postfix) with ESMTPS id 4AbCdE\r\n"
    b"\tfor <alice@example.test>; Sat, 28 Nov 2026 10:00:09 +0000\r\n"
    b"Received: from [203.0.113.9] (helo=relay1.example.net)\r\n"
    b"\tby relay2.example.net with esmtp (Exim 4.96)\r\n"
    b"\tid 1tXyZa-000Abc-2B; Sat, 28 Nov 2026 10:00:05 +0000\r\n"
    b"Received: from origin.example.org (origin.example.org [192.0.2.44])\r\n"
    b"\tby relay1.example.net (8.17.1/8.17.1) with ESMTP id 2ASA00aB012345;\r\n"
    b"\tSat, 28 Nov 2026 10:00:00 +0000\r\n"
)
AUTH = (b"Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=origin.example.org;\r\n"
        b"\tdkim=pass header.d=origin.example.org header.s=sel1; dmarc=pass header.from=origin.example.org\r\n")


def _app(testbed, path: Path, user: str = "alice", trusted: tuple[str, ...] = (), **overrides) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = testbed.config_toml(user, **overrides)
    if trusted:  # the testbed writes scalars only
        head = f"[accounts.{user}]\n"
        config = config.replace(head, head + f"trusted_authserv_ids = {list(trusted)!r}\n".replace("'", '"'), 1)
    path.write_text(config)
    return TuimailApp(path, load_config(path))


def _message(subject: str = "=?utf-8?q?Gr=C3=BC=C3=9Fe_[red]alarm[/red]?=") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = "Origin <ann@origin.example.org>", "alice@example.test"
    msg["Message-ID"] = "<headers@origin.example.org>"
    msg["Date"] = "Sat, 28 Nov 2026 09:59:58 +0000"
    msg["X-Tuimail-Probe"] = "probe-value"
    msg.set_content("The report is attached.\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    body = bytes(msg).replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
    head = b"Subject: " + subject.encode() + b"\r\n"
    return OWN_RECEIVED + AUTH + head + body


async def _open_newest(pilot, app) -> MessageScreen:
    return await open_newest(pilot, app)


def _screen_text(screen) -> str:
    return "\n".join("\n".join(rendered_lines(w)) for w in screen.query("Static, TextView, SourceView, OptionList")
                     if w.display)


async def test_full_headers_toggle_decoded_raw_and_back(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files("alice", [_message()])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        short = _screen_text(reader)
        assert "Grüße [red]alarm[/red]" in short  # the short block shows markup literally
        assert "X-Tuimail-Probe" not in short and "relay1.example.net" not in short
        await pilot.press("h")
        await wait_for(pilot, lambda: reader.query("#full-headers") and reader.query_one("#full-headers").display,
                       what="the full headers")
        full = reader.query_one("#full-headers", TextView)
        await pilot.pause()
        shown = "\n".join(rendered_lines(full))
        assert not reader.query_one("#headers").display
        assert "Received: from origin.example.org (origin.example.org [192.0.2.44]) by relay1.example.net" \
            in full.text  # unfolded
        assert "X-Tuimail-Probe: probe-value" in full.text
        assert "Subject: Grüße [red]alarm[/red]" in full.text
        assert "Received: from relay2.example.net" in shown  # in order: the newest Received first
        lines = full.text.split("\n")
        assert lines.index(next(x for x in lines if x.startswith("Authentication-Results"))) \
            < lines.index(next(x for x in lines if x.startswith("Subject")))
        await pilot.press("h")
        await wait_for(pilot, lambda: "=?utf-8?q?" in full.text, what="the raw headers")
        assert "\tby relay1.example.net (8.17.1/8.17.1) with ESMTP id 2ASA00aB012345;" in full.text  # folded as sent
        assert "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_[red]alarm[/red]?=" in full.text
        await pilot.press("h")
        assert reader.query_one("#headers").display and not full.display


async def test_route_view_raw_source_and_mime_tree(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files("alice", [_message(subject="route \x1b[31m[bold]check[/bold]")])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        assert "route [bold]check[/bold]" in _screen_text(reader) and "\x1b" not in _screen_text(reader)

        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RouteScreen) and app.screen.lines, what="the route")
        route = app.screen
        await pilot.pause()
        shown = "\n".join(rendered_lines(route.query_one("#route")))
        for host in ("origin.example.org [192.0.2.44]", "relay1.example.net", "relay2.example.net",
                     "mx.example.test"):
            assert host in shown, host
        assert "TLSv1.3 TLS_AES_256_GCM_SHA384" in shown
        assert "Route: 3 hops" in shown and "total transit 9 s" in shown
        assert "no TLS" in shown.split("\n")[2]  # hop 1 (oldest) came in without TLS
        assert "untrusted claim" in shown and "trusted " not in shown.replace("untrusted", "")
        assert "not verified cryptographically" in shown
        assert "no forwarded original found" in shown
        assert "█" in shown  # the timeline has bars
        await pilot.press("escape")

        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, RawSourceScreen) and app.screen.loaded == "",
                       what="the raw source")
        source = app.screen.query_one(SourceView)
        await pilot.pause()
        top = rendered_lines(source)
        assert any(row.startswith("Received: from relay2.example.net (relay2.example.net [198.51.100.7])")
                   for row in top), top[:5]
        assert "X-Tuimail-Probe: probe-value" in source.lines
        assert any(row.startswith("JVBERi0xLjQK") for row in source.lines)  # the PDF, still in base64
        assert "\x1b" not in "".join(top)

        # the part alone: the attachment is the highlighted one
        await pilot.press("p")
        part = reader.view.attachments[0]
        await wait_for(pilot, lambda: app.screen.loaded == part.part_id, what="the part's source")
        lines = source.lines
        assert any('filename="report.pdf"' in row for row in lines[:6]), lines[:6]
        assert "X-Tuimail-Probe: probe-value" not in lines and "The report is attached." not in lines
        await pilot.press("escape")

        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, MimeTreeScreen) and app.screen.parts,
                       what="the MIME tree")
        tree = "\n".join(rendered_lines(app.screen.query_one("#mime-tree")))
        assert "multipart/mixed" in tree and "text/plain" in tree
        assert "application/pdf" in tree and "report.pdf" in tree and "base64" in tree
        await pilot.press("escape")

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        help_rows = [row for row in rendered_lines(app.screen.query_one("#help-keys"))]
        for keys, what in (("h ", "Headers"), ("^u / U", "Source"), ("T ", "MIME tree"), ("H ", "Route")):
            assert any(row.strip().startswith(keys) and what in row for row in help_rows), (what, "\n".join(help_rows))


async def test_route_shows_the_testbed_hop_with_tls_after_smtp(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    raw = _message(subject="through submission")
    context = ssl.create_default_context(cafile=str(testbed.ca_pem))
    with smtplib.SMTP(testbed.host, testbed.submission_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login("bob", testbed.users["bob"])
        smtp.sendmail("bob@example.test", ["alice@example.test"], raw)
    app = _app(testbed, hermetic, trusted=("mx.example.test",))
    async with app.run_test(size=SIZE) as pilot:
        await _open_newest(pilot, app)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RouteScreen) and app.screen.lines, what="the route")
        text = app.screen.text
        ours = [row for row in text.split("\n") if f"mail.{testbed.domain}" in row and "ESMTPSA" in row]
        assert ours, text
        assert "TLSv1" in ours[0] and "no TLS" not in ours[0]
        assert "relay1.example.net" in text and "origin.example.org" in text  # the hops we wrote are kept
        assert text.index("origin.example.org [192.0.2.44]") < text.index(ours[0])  # oldest first
        spf = next(row for row in text.split("\n") if row.startswith("SPF"))
        assert "mx.example.test" in spf and spf.rstrip().endswith("trusted") and "untrusted" not in spf


async def test_pop3_reader_shows_full_headers_and_route_from_the_local_copy(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files("bob", [_message(subject="pop3 headers")])
    app = _app(testbed, hermetic, "bob", protocol="pop3")
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        await pilot.press("h")
        await wait_for(pilot, lambda: reader.query("#full-headers"), what="the full headers")
        assert "X-Tuimail-Probe: probe-value" in reader.query_one("#full-headers", TextView).text
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RouteScreen) and app.screen.lines, what="the route")
        assert "relay2.example.net [198.51.100.7]" in app.screen.text and "Route: 3 hops" in app.screen.text
        await pilot.press("escape", "T")
        await wait_for(pilot, lambda: isinstance(app.screen, MimeTreeScreen) and app.screen.parts,
                       what="the MIME tree")
        assert [p.content_type for p in app.screen.parts] == ["multipart/mixed", "text/plain", "application/pdf"]
        assert app.screen.parts[2].filename == "report.pdf"
        await pilot.press("escape", "U")
        await wait_for(pilot, lambda: isinstance(app.screen, RawSourceScreen) and app.screen.loaded == "",
                       what="the raw source")
        assert "X-Tuimail-Probe: probe-value" in app.screen.query_one(SourceView).lines


async def test_a_big_raw_source_is_laid_out_off_the_event_loop(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "big@example.org", "alice@example.test", "big source"
    msg.set_content("".join(f"line {n:07d} of the big body\n" for n in range(200_000)))  # ~6 MB
    testbed.deliver_files("alice", [bytes(msg)])
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        await _open_newest(pilot, app)
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, RawSourceScreen) and app.screen.loaded == "",
                       timeout=30, what="the big raw source")
        source = app.screen.query_one(SourceView)
        assert len(source.lines) > 200_000 and source.virtual_size.height == len(source.lines)
        await pilot.press("end")
        await pilot.pause()
        assert "line 0199999 of the big body" in "\n".join(rendered_lines(source))
