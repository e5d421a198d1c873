"""The doctor in the TUI against the real servers: every configured server checked (TLS,
certificate, capabilities, login), shown inert, and a server that is down is a FAIL line, not
a crash."""
from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.tui_support import hermetic, wait_for
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.doctor import DoctorScreen

__all__ = ["hermetic"]
USER = "bob"


def _app(path: Path, config: str) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config)
    return TuimailApp(path, load_config(path))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _screen_text(screen: DoctorScreen) -> str:
    return "\n".join(str(static.render()) for static in screen.query("Static"))


async def test_the_doctor_checks_every_server_and_logs_in(clean_testbed, hermetic: Path) -> None:
    app = _app(hermetic, clean_testbed.config_toml(USER))
    account = app.config.account(USER)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = DoctorScreen(account, None)  # the password comes from password_command
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.lines, timeout=30, what="the doctor's report")
        text = "\n".join(screen.lines)
        assert screen.lines[-1] == "all checks passed", text
        for protocol in ("imap", "pop3", "smtp"):
            assert f"=> {protocol} ok" in text, text
        assert text.count("ok   login") == 3, text
        assert "TLSv1." in text and "certificate" in text, text
        shown = _screen_text(screen)
        assert "all checks passed" in shown
        assert clean_testbed.users[USER] not in shown and clean_testbed.users[USER] not in text
        # its connections recorded into the app's book, as the trace panel reads it
        traced = [item.line() for item in app.trace_book.since(0, USER) if item.label.purpose == "doctor"]
        for protocol, login in (("imap", r"\S+ LOGIN bob \*\*\*"), ("pop3", r"PASS \*\*\*"),
                                ("smtp", r"AUTH PLAIN \*\*\*")):
            assert any(re.search(rf" {protocol}#\d+ bob doctor C: {login}$", line) for line in traced), traced
        assert any(re.search(r" smtp#\d+ bob doctor C: EHLO ", line) for line in traced), traced
        assert not any(clean_testbed.users[USER] in line for line in traced)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is not screen, what="the doctor to close")


async def test_a_server_that_is_down_is_a_fail_line(clean_testbed, hermetic: Path) -> None:
    port = _closed_port()
    app = _app(hermetic, clean_testbed.config_toml(USER, pop3={"port": port}))
    account = app.config.account(USER)
    async with app.run_test(size=(120, 45)) as pilot:
        screen = DoctorScreen(account, None)
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.lines, timeout=30, what="the doctor's report")
        text = "\n".join(screen.lines)
        assert f"FAIL pop3 127.0.0.1:{port}" in text, text
        assert "=> imap ok" in text and "=> smtp ok" in text, text
        assert "all checks passed" not in text
        await pilot.press("r")  # checked again: the same verdict, still no crash
        await wait_for(pilot, lambda: not screen.running, timeout=30, what="the second check")
        assert any(line.startswith("FAIL pop3") for line in screen.lines)
