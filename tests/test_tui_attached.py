"""An attached message (message/rfc822, a forward as attachment) opened in the reader against the
real Dovecot, over IMAP and POP3: its own headers, text, route and SPF/DKIM/DMARC, raw source
(byte for byte what the outer message carries), MIME tree and attachments; over IMAP only the
part's section crosses the wire, once. Nested messages open another level up to mime_depth, and
a hostile original is drawn inert."""
from __future__ import annotations

import json
import threading
from email import policy
from email.message import EmailMessage
from pathlib import Path

from tests.test_inert_everywhere import CONTROLS, CONTROLS_SHOWN, MARKUP, assert_inert, hostile_message
from tests.tui_support import open_newest, hermetic, rendered_lines, wait_for
from tuimail.model.rfc822 import rfc822_part
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.screens.route import RouteScreen
from tuimail.ui.screens.save import SaveDialog
from tuimail.ui.screens.source import MimeTreeScreen, RawSourceScreen
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.source_view import SourceView
from tuimail.ui.widgets.text_view import TextView

__all__ = ["hermetic"]
SIZE = (160, 50)
MANIFEST = b"pallet,kg\r\n1,92\r\n2,92\r\n" + bytes(range(256))  # every byte value: a binary attachment

# The original's own route (newest first), four hops none of which the outer message names.
ORIGINAL_TRACE = (
    b"Return-Path: <bounce@shipping.example.net>\r\n"
    b"Received: from mx1.partner.example.com (mx1.partner.example.com [203.0.113.25])\r\n"
    b"\tby store.partner.example.com with LMTPS id 2Vb4KQ; Sat, 28 Nov 2026 08:00:21 +0000\r\n"
    b"Authentication-Results: mx1.partner.example.com;\r\n"
    b"\tspf=pass smtp.mailfrom=shipping.example.net;\r\n"
    b"\tdkim=fail header.d=shipping.example.net header.s=nw2025;\r\n"
    b"\tdmarc=pass header.from=shipping.example.net\r\n"
    b"Received: from outbound-3.esp.example.com (outbound-3.esp.example.com [198.51.100.33])\r\n"
    b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
    b"\tby mx1.partner.example.com (Postfix) with ESMTPS id 4Wk7Lv; Sat, 28 Nov 2026 08:00:09 +0000\r\n"
    b"Received: from smtp-out-1.shipping.example.net (smtp-out-1.shipping.example.net [192.0.2.21])\r\n"
    b"\tby outbound-3.esp.example.com with esmtps (Exim 4.97) id 1sXyZq; Sat, 28 Nov 2026 08:00:07 +0000\r\n"
    b"Received: from app-14.shipping.example.net (app-14.shipping.example.net [192.0.2.14])\r\n"
    b"\tby smtp-out-1.shipping.example.net (Postfix) with ESMTP id 4Wk7Lq; Sat, 28 Nov 2026 08:00:01 +0000\r\n"
)
ORIGINAL_HOSTS = ("app-14.shipping.example.net", "smtp-out-1.shipping.example.net", "outbound-3.esp.example.com",
                  "mx1.partner.example.com", "store.partner.example.com")
# The forward's own route: hosts that must not appear in the original's route view.
OUTER_TRACE = (
    b"Received: from out-1.forwarder.example.org (out-1.forwarder.example.org [203.0.113.31])\r\n"
    b"\tby mx.example.test (Postfix) with ESMTPS id 77QQ; Sat, 28 Nov 2026 10:00:05 +0000\r\n"
    b"Received: from [203.0.113.77] (helo=laptop.forwarder.example.org)\r\n"
    b"\tby out-1.forwarder.example.org with esmtpsa (Exim 4.97) id 1sXzAa; Sat, 28 Nov 2026 10:00:00 +0000\r\n"
)
OUTER_HOSTS = ("out-1.forwarder.example.org", "laptop.forwarder.example.org")


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def original(subject: str = "Shipment NW-9 dispatched", attach: bytes | None = None) -> bytes:
    """A shipping notice as it reached its first reader: four hops, auth results, a CSV."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Northwind Shipping <notify@shipping.example.net>"
    msg["To"] = "Marta <marta@partner.example.com>"
    msg["Subject"], msg["Date"] = subject, "Sat, 28 Nov 2026 08:00:00 +0000"
    msg["Message-ID"] = "<nw-9@shipping.example.net>"
    msg.set_content("Your shipment NW-9 left the Rotterdam hub today.\n")
    if attach is None:
        msg.add_attachment(MANIFEST, maintype="text", subtype="csv", filename="manifest.csv")
    else:  # another attached message inside: a nested level
        msg.make_mixed()
        msg.attach(rfc822_part(attach, "inner.eml", policy.SMTP))
    return ORIGINAL_TRACE + _crlf(bytes(msg))


def forward(carried: bytes, subject: str = "Fwd: Shipment NW-9 dispatched") -> bytes:
    """The forward as attachment: the original byte for byte as a message/rfc822 part."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"] = "Marta <marta@forwarder.example.org>", "alice@example.test"
    msg["Subject"], msg["Date"] = subject, "Sat, 28 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<fwd-nw-9@forwarder.example.org>"
    msg.set_content("Forwarding the dispatch notice as an attachment.\n")
    msg.make_mixed()
    msg.attach(rfc822_part(carried, "Shipment NW-9 dispatched.eml", policy.SMTP))
    return OUTER_TRACE + _crlf(bytes(msg))


def _app(testbed, path: Path, user: str = "alice", extra: str = "", **overrides) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(testbed.config_toml(user, **overrides) + extra)
    return TuimailApp(path, load_config(path))


async def _open_newest(pilot, app) -> MessageScreen:
    return await open_newest(pilot, app)


async def _enter_on_attached(pilot, reader: MessageScreen):
    """Highlight the message/rfc822 part in the attachment list and press Enter."""
    from tuimail.ui.screens.attached import AttachedMessageScreen

    index = next(i for i, p in enumerate(reader.view.attachments) if p.content_type == "message/rfc822")
    options = reader.query_one("#attachments")
    options.focus()
    options.highlighted = index
    await pilot.pause()
    await pilot.press("enter")
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, AttachedMessageScreen) and app.screen is not reader,
                   what=lambda: f"the attached message ({reader.status.message})")
    await pilot.pause()
    return app.screen


def _shown(screen, selector: str) -> str:
    return "\n".join(rendered_lines(screen.query_one(selector)))


def _commands(app, user: str) -> list[str]:
    """What the client sent on the account's connections, in order (the session's trace)."""
    return [item.entry.text() for item in app.trace_book.since(0, user) if item.entry.direction == "C"]


async def _save(pilot, screen, directory: Path) -> None:
    app = pilot.app
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, SaveDialog), what="the save dialog")
    app.screen.query_one("#save-dir").value = str(directory)
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.status.level in ("ok", "error") and "sav" in screen.status.message,
                   what=lambda: f"the save ({screen.status.message})")
    assert screen.status.level == "ok", screen.status.message


async def test_imap_opens_the_attached_original_with_its_own_route_source_and_attachment(
        clean_testbed, hermetic: Path, tmp_path: Path, monkeypatch) -> None:
    import tuimail.model.message as message_module

    threads: list[bool] = []
    real_parse = message_module.parse_message

    def parse_spy(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(message_module, "parse_message", parse_spy)
    testbed = clean_testbed
    carried = original()
    testbed.deliver_files("alice", [forward(carried)])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    app = _app(testbed, hermetic)
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        assert [p.content_type for p in reader.view.attachments] == ["message/rfc822"]
        assert "Enter/v views a message" in (reader.query_one("#attachments").border_title or "")
        attached = await _enter_on_attached(pilot, reader)
        section = reader.view.attachments[0].part_id
        assert _shown(attached, "#h-subject").endswith("Shipment NW-9 dispatched")
        assert "Northwind Shipping <notify@shipping.example.net>" in _shown(attached, "#h-from")
        assert "Marta <marta@partner.example.com>" in _shown(attached, "#h-to")
        assert "Attached" in _shown(attached, "#h-flags") and f"part {section}" in _shown(attached, "#h-flags")
        assert "left the Rotterdam hub" in attached.query_one("#body", TextView).text
        assert "manifest.csv" in _shown(attached, "#attachments")
        assert threads and True not in threads  # the carried message was parsed on a thread
        assert "attached message" in attached.status.message and attached.status.level != "error"
        attached.query_one("#attachments").focus()
        await pilot.press("enter")  # Enter on an attachment that is not a message: a hint
        await wait_for(pilot, lambda: "text/csv: s saves it" in attached.status.message, what="the hint")
        assert app.screen is attached
        # the bytes fetched are what the forward carries (Dovecot serves CRLF; the file had CRLF)
        assert attached.raw == carried

        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RouteScreen) and app.screen.lines, what="the route")
        route = app.screen.text
        assert "Route: 4 hops" in route, route
        for host in ORIGINAL_HOSTS:
            assert host in route, host
        for host in OUTER_HOSTS + ("mx.example.test",):
            assert host not in route, host
        spf = next(row for row in route.split("\n") if row.startswith("SPF"))
        dkim = next(row for row in route.split("\n") if row.startswith("DKIM "))
        assert "pass" in spf and "mx1.partner.example.com" in spf
        assert "fail" in dkim and "shipping.example.net" in dkim
        assert "no forwarded original found" in route
        await pilot.press("escape")

        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, RawSourceScreen) and app.screen.loaded == "",
                       what="the raw source")
        lines = app.screen.query_one(SourceView).lines
        assert "\n".join(lines) == carried.decode().replace("\r\n", "\n").rstrip("\n")
        await pilot.press("escape")

        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, MimeTreeScreen) and app.screen.parts,
                       what="the MIME tree")
        assert [p.content_type for p in app.screen.parts] == ["multipart/mixed", "text/plain", "text/csv"]
        await pilot.press("escape")

        await pilot.press("h")
        await wait_for(pilot, lambda: attached.query("#full-headers") and attached.query_one("#full-headers").display,
                       what="the full headers")
        full = attached.query_one("#full-headers", TextView).text
        assert "Message-ID: <nw-9@shipping.example.net>" in full and "fwd-nw-9" not in full
        await pilot.press("h", "h")  # raw, then the short block again

        await _save(pilot, attached, downloads)
        assert (downloads / "manifest.csv").read_bytes() == MANIFEST

        # the outer message's actions are not offered here, and the keys do nothing
        for action in ("delete", "toggle_seen", "toggle_flagged", "move", "reply", "forward"):
            assert attached.check_action(action, ()) is False, action
        before = len(_commands(app, "alice"))
        await pilot.press("d", "F", "N", "M")
        await pilot.pause(0.3)
        assert app.screen is attached
        assert not [c for c in _commands(app, "alice")[before:] if any(
            verb in c for verb in ("STORE", "MOVE", "COPY", "EXPUNGE"))]

        await pilot.press("escape")
        assert app.screen is reader
        await pilot.press("v")  # again: served from the reader's cache
        from tuimail.ui.screens.attached import AttachedMessageScreen

        await wait_for(pilot, lambda: isinstance(app.screen, AttachedMessageScreen), what="the attached again")
        fetches = [c for c in _commands(app, "alice") if "FETCH" in c and "BODY" in c]
        assert [c for c in fetches if f"BODY.PEEK[{section}]" in c] and len(
            [c for c in fetches if f"BODY.PEEK[{section}]" in c]) == 1, fetches
        assert not [c for c in fetches if "BODY.PEEK[]" in c or f"BODY.PEEK[{section}.MIME]" in c
                    or "BODY.PEEK[HEADER]" in c], fetches  # only the part, never the whole outer message


async def test_the_outer_route_names_the_key_that_opens_the_original(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files("alice", [forward(original())])
    app = _app(testbed, hermetic, extra='\n[keymap]\n"message.view_attached" = "O,ctrl+o"\n')
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RouteScreen) and app.screen.lines, what="the route")
        route = app.screen.text
        assert "Route: 2 hops" in route and "out-1.forwarder.example.org" in route
        note = next(row for row in route.split("\n") if row.startswith("Forwarding"))
        assert "forwarded original as an attachment" in note, note
        assert "O / ^o (or Enter on it in the attachment list) opens it" in note, note
        await pilot.press("escape", "O")  # the remapped key opens it
        from tuimail.ui.screens.attached import AttachedMessageScreen

        await wait_for(pilot, lambda: isinstance(app.screen, AttachedMessageScreen), what="the attached message")
        assert app.screen is not reader and app.screen.summary.subject == "Shipment NW-9 dispatched"


async def test_nested_attached_messages_open_level_by_level_up_to_mime_depth(clean_testbed, hermetic: Path) -> None:
    from tuimail.ui.screens.attached import AttachedMessageScreen

    testbed = clean_testbed
    innermost = original("level three")
    middle = original("level two", attach=innermost)
    outer = original("level one", attach=middle)
    testbed.deliver_files("alice", [forward(outer, "Fwd: three levels")])
    app = _app(testbed, hermetic, extra="\n[limits]\nmime_depth = 2\n")
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        first = await _enter_on_attached(pilot, reader)
        assert first.summary.subject == "level one" and first.raw == outer and first.attached_depth == 1
        second = await _enter_on_attached(pilot, first)
        assert second.summary.subject == "level two" and second.raw == middle and second.attached_depth == 2
        assert "› part 2 › part 2" in _shown(second, "#h-flags")
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, RawSourceScreen) and app.screen.loaded == "",
                       what="the raw source")
        assert "\n".join(app.screen.query_one(SourceView).lines) == middle.decode().replace("\r\n", "\n").rstrip()
        await pilot.press("escape", "v")  # a third level is over mime_depth = 2
        await wait_for(pilot, lambda: "mime_depth" in second.status.message, what="the depth refusal")
        assert app.screen is second and second.status.level == "error"
        assert not [s for s in app.screen_stack if isinstance(s, AttachedMessageScreen) and s.attached_depth > 2]
        await pilot.press("escape")
        assert app.screen is first


async def test_pop3_opens_the_attached_original_from_the_local_copy(clean_testbed, hermetic: Path,
                                                                      tmp_path: Path, monkeypatch) -> None:
    testbed = clean_testbed
    carried = original()
    testbed.deliver_files("bob", [forward(carried)])
    downloads, opened, runtime = tmp_path / "downloads", tmp_path / "opened", tmp_path / "runtime"
    for directory in (downloads, opened, runtime):
        directory.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    opener = json.dumps(f"sh -c 'cp \"$0\" {opened}/copy'")  # the file handed over is the last argument
    app = _app(testbed, hermetic, "bob", extra=f"\n[ui]\nopen_command = {opener}\n", protocol="pop3")
    async with app.run_test(size=SIZE) as pilot:
        reader = await _open_newest(pilot, app)
        # the outer message's attachment saves as the original, byte for byte but the line ends
        # (the local copy keeps LF, as a Maildir does)
        reader.query_one("#attachments").focus()
        await _save(pilot, reader, downloads)
        assert (downloads / "Shipment NW-9 dispatched.eml").read_bytes() == _lf(carried)

        attached = await _enter_on_attached(pilot, reader)
        assert attached.summary.subject == "Shipment NW-9 dispatched"
        assert "notify@shipping.example.net" in _shown(attached, "#h-from")
        assert _lf(attached.raw) == _lf(carried)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RouteScreen) and app.screen.lines, what="the route")
        assert "Route: 4 hops" in app.screen.text and "app-14.shipping.example.net" in app.screen.text
        assert not any(host in app.screen.text for host in OUTER_HOSTS)
        await pilot.press("escape", "U")
        await wait_for(pilot, lambda: isinstance(app.screen, RawSourceScreen) and app.screen.loaded == "",
                       what="the raw source")
        assert "\n".join(app.screen.query_one(SourceView).lines) == carried.decode().replace("\r\n", "\n").rstrip()
        await pilot.press("escape")
        attached.query_one("#attachments").focus()
        await _save(pilot, attached, downloads)
        assert (downloads / "manifest.csv").read_bytes() == MANIFEST
        await pilot.press("o")  # open with: saved into the session's private directory, then handed over
        await wait_for(pilot, lambda: (opened / "copy").exists() and (opened / "copy").stat().st_size == len(MANIFEST)
                       and "opened" in attached.status.message,
                       what=lambda: f"the opener ({attached.status.message})")
        assert (opened / "copy").read_bytes() == MANIFEST and attached.status.level == "ok"
        assert "opened manifest.csv with sh" in attached.status.message


async def test_a_hostile_attached_message_is_drawn_inert(clean_testbed, hermetic: Path) -> None:
    testbed = clean_testbed
    testbed.deliver_files("alice", [forward(hostile_message(), subject=f"Fwd: {MARKUP} {CONTROLS}")])
    app = _app(testbed, hermetic)
    async with app.run_test(size=(220, 45)) as pilot:
        reader = await _open_newest(pilot, app)
        attached = await _enter_on_attached(pilot, reader)
        assert_inert(attached.query_one("#h-from"), "[@click=app.quit]Eve[/]")
        assert_inert(attached.query_one("#h-to"), "[link=https://evil.example]Bob[/link]")
        assert_inert(attached.query_one("#h-subject"), f"S {MARKUP} {CONTROLS_SHOWN}")
        assert_inert(attached.query_one("#h-flags"), "Attached", "(Fwd: [bold red]x[/] [@click=app.quit]")
        assert_inert(attached.query_one("#body"), f"Body {MARKUP}", f"line2 {CONTROLS_SHOWN}")
        await pilot.press("h")
        await wait_for(pilot, lambda: attached.query("#full-headers") and attached.query_one("#full-headers").display,
                       what="the full headers")
        await pilot.pause()
        assert_inert(attached.query_one("#full-headers"), f"Subject: S {MARKUP} {CONTROLS_SHOWN}")
        assert app.is_running
