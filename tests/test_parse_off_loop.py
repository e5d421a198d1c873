"""Issue #8 item 4 (case 22): heavy parsing runs off the event loop.

A pathological message (3 MB of deeply nested HTML, 1,500 MIME parts, 3,000 Received headers)
is opened from the real Dovecot, then its full headers, route and MIME tree are shown; the
parsing functions record the thread they ran on, and none ran on the event loop's. The longest
time the loop could not run a 10 ms timer is measured too, but only reported: a thread parsing
pure Python still holds the GIL, so that figure depends on the machine (0.49-0.51 s in one CI
run, under 0.5 s here), and timings are measured, not asserted.
"""
from __future__ import annotations

from pathlib import Path

from tests.bench.tui_probe import LoopLag  # the bench's own stall meter
from tests.tui_support import hermetic, rendered_lines, wait_for
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.message import MessageScreen
from tuimail.ui.widgets.message_list import MessageList
from tuimail.ui.widgets.text_view import TextView

__all__ = ["hermetic"]
USER = "bob"
NEEDLE = "the-needle-after-the-nesting"


def pathological_message(parts: int = 1500, depth: int = 100_000, hops: int = 3000) -> bytes:
    received = "".join(f"Received: from relay{n}.example.test (relay{n}.example.test [192.0.2.{n % 250}])\r\n"
                       f" by relay{n + 1}.example.test with ESMTPS id {n:08x}; Sat, 28 Nov 2026 10:00:00 +0000\r\n"
                       for n in range(hops))
    html = ("<div><span>" * depth + f"<p>{NEEDLE}</p>" + "</span></div>" * depth).encode()
    boundary = b"=-=many-parts=-="
    body = [b"--" + boundary + b"\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"]
    body += [b"--" + boundary + b"\r\nContent-Type: text/plain; name=\"p%d.txt\"\r\n"
             b"Content-Disposition: attachment; filename=\"p%d.txt\"\r\n\r\npart %d\r\n" % (n, n, n)
             for n in range(parts - 1)]
    head = (received + "From: Big <big@example.test>\r\nTo: bob@example.test\r\nSubject: pathological\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{boundary.decode()}\"\r\n\r\n").encode()
    return head + b"".join(body) + b"--" + boundary + b"--\r\n"


async def test_a_pathological_message_is_parsed_off_the_event_loop(clean_testbed, hermetic: Path,
                                                                    monkeypatch) -> None:
    import threading

    import tuimail.model.message as message_module
    from tuimail.ui.screens import route as route_screen

    on_loop: dict[str, set[bool]] = {}

    def spy(name: str, module, attr: str) -> None:
        real = getattr(module, attr)

        def recorded(*args, **kwargs):
            on_loop.setdefault(name, set()).add(threading.current_thread() is threading.main_thread())
            return real(*args, **kwargs)

        monkeypatch.setattr(module, attr, recorded)

    spy("route analysis", route_screen, "analysis")
    spy("message parse", message_module, "parse_message")  # the MIME tree's (imported per call)
    testbed = clean_testbed
    raw = pathological_message()
    assert len(raw) > 3_000_000
    testbed.deliver_files(USER, [raw])
    hermetic.parent.mkdir(parents=True, exist_ok=True)
    hermetic.write_text(testbed.config_toml(USER))
    app = TuimailApp(hermetic, load_config(hermetic))
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: app.screen.query(MessageList), what="the INBOX")
            widget = app.screen.query_one(MessageList)
            await wait_for(pilot, lambda: widget.index.count and widget.index.row(0) is not None, what="the row")
            widget.focus()
            stalls: dict[str, float] = {}

            async def measured(what: str, keys: tuple[str, ...], done) -> None:
                lag = LoopLag().start()
                await pilot.press(*keys)
                await wait_for(pilot, done, timeout=60, what=what)
                await pilot.pause(0.1)
                stalls[what] = lag.stop()

            await measured("open", ("enter",), lambda: isinstance(app.screen, MessageScreen)
                           and NEEDLE in app.screen.view.text)
            reader = app.screen
            assert NEEDLE in "\n".join(rendered_lines(reader.query_one("#body", TextView))) \
                or NEEDLE in reader.view.text  # drawn, or below the fold of the wrapped text
            assert len(reader.view.attachments) == 1499
            await measured("full headers", ("h",), lambda: reader.query("#full-headers")
                           and "relay2999" in reader.query_one("#full-headers", TextView).text)
            await measured("route", ("H",), lambda: type(app.screen).__name__ == "RouteScreen"
                           and "Route: 500 hops" in app.screen.text)  # the route's own cap
            await pilot.press("escape")
            await measured("mime tree", ("T",), lambda: type(app.screen).__name__ == "MimeTreeScreen"
                           and len(app.screen.parts) == 1501)
            await pilot.press("escape")
            assert on_loop.get("route analysis") == {False}, (on_loop, stalls)
            assert True not in on_loop.get("message parse", set()), (on_loop, stalls)  # when it is parsed at all
    finally:
        testbed.clear(USER)
