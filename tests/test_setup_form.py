"""The first-run form, typed into with Pilot, checked against and saved for the real servers."""
from __future__ import annotations

import stat
from pathlib import Path

import keyring
from textual.widgets import Input, RichLog, Select

from tests.tui_support import hermetic, no_keyring, plaintext_keyring, rendered_lines, type_into, wait_for
from tuimail.model.config import Protocol, Security
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.confirm import ConfirmScreen
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.screens.password import PasswordScreen
from tuimail.ui.screens.setup import SetupScreen
from tuimail.ui.widgets.folders import FolderList
from tuimail.ui.widgets.status import StatusLine

__all__ = ["hermetic", "no_keyring", "plaintext_keyring"]  # fixtures, used by name

SIZE = (120, 60)


def text_of(app: TuimailApp, selector: str) -> str:
    return "\n".join(rendered_lines(app.screen.query_one(selector)))


def log_text(app: TuimailApp) -> str:
    """Every line in the check log, scrolled out of view or not."""
    log = app.screen.query_one("#check-log", RichLog)
    return "\n".join("".join(segment.text for segment in strip) for strip in log.lines)


def value(app: TuimailApp, selector: str) -> str:
    return app.screen.query_one(selector, Input).value


async def fill_form(pilot, testbed, password: str, *, name: str = "work", paste: bool = True) -> None:
    """Fill in a complete account for alice on the testbed, the way a person would."""
    await type_into(pilot, "#email", testbed.address("alice"), paste)
    await type_into(pilot, "#name", name, paste)
    await type_into(pilot, "#username", "alice", paste)
    await type_into(pilot, "#display-name", "Alice Liddell", paste)
    for protocol, security in (("imap", "tls"), ("pop3", "tls"), ("smtp", "starttls")):
        await type_into(pilot, f"#{protocol}-host", testbed.host, paste)
        await type_into(pilot, f"#{protocol}-port", str(testbed.port_for(protocol, security)), paste)
    await type_into(pilot, "#ca-file", str(testbed.ca_pem), paste)
    await type_into(pilot, "#password", password, paste)


async def check(pilot, app: TuimailApp) -> str:
    """Press Check, wait for the doctor, and return 'ok' or 'error'."""
    await pilot.click("#check")
    summary = app.screen.query_one("#check-summary")
    await wait_for(pilot, lambda: summary.has_class("-ok") or summary.has_class("-error"),
                   timeout=30, what="the check result")
    return "ok" if summary.has_class("-ok") else "error"


async def shell_ready(pilot, app: TuimailApp) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the shell after Save")
    await wait_for(pilot, lambda: app.screen.query_one(FolderList).folders
                   or app.screen.query_one(StatusLine).level == "error", what="the folder list")
    assert app.screen.query_one(StatusLine).level == "ok", app.screen.query_one(StatusLine).message


async def test_first_run_form_checks_saves_and_opens_the_shell(testbed, plaintext_keyring, hermetic: Path) -> None:
    password = testbed.users["alice"]
    app = TuimailApp(hermetic, None)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, SetupScreen)
        await fill_form(pilot, testbed, password, paste=False)  # every key, as typed
        assert await check(pilot, app) == "ok"
        log = log_text(app)
        for expected in ("imap 127.0.0.1", "pop3 127.0.0.1", "smtp 127.0.0.1", "login", "all checks passed"):
            assert expected in log, log
        assert "passed" in text_of(app, "#check-summary")
        assert not hermetic.exists()  # checking writes nothing

        await pilot.click("#save")  # a passed check needs no confirmation
        await shell_ready(pilot, app)
        assert any("Sent" in row for row in rendered_lines(app.screen.query_one(FolderList)))

    config = load_config(hermetic)
    account = config.account()
    assert list(config.accounts) == ["work"]
    assert (account.email, account.username, account.display_name) == ("alice@example.test", "alice",
                                                                        "Alice Liddell")
    assert account.protocol is Protocol.IMAP and account.ca_file == str(testbed.ca_pem)
    assert account.password_command is None
    for protocol, security in ((Protocol.IMAP, Security.TLS), (Protocol.POP3, Security.TLS),
                               (Protocol.SMTP, Security.STARTTLS)):
        server = account.server(protocol)
        assert (server.host, server.port, server.security) == (
            testbed.host, testbed.port_for(protocol.value, security.value), security)
    assert password not in hermetic.read_text()
    assert stat.S_IMODE(hermetic.stat().st_mode) == 0o600
    assert keyring.get_password("tuimail", "work") == password
    assert password not in hermetic.read_text()


async def test_failed_check_saves_only_after_confirmation(testbed, plaintext_keyring, hermetic: Path) -> None:
    app = TuimailApp(hermetic, None)
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, testbed, "not-the-password")
        assert await check(pilot, app) == "error"
        summary = text_of(app, "#check-summary")
        assert "failed" in summary and "127.0.0.1" in summary
        assert "not-the-password" not in log_text(app)

        await pilot.click("#save")
        assert isinstance(app.screen, ConfirmScreen)
        assert "did not pass" in text_of(app, "#confirm-question")
        await pilot.click("#confirm-no")
        assert isinstance(app.screen, SetupScreen) and not hermetic.exists()

        await pilot.click("#save")
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the shell")
        # the password is the wrong one, so the shell asks again, with the server's reason
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the password prompt")
        await wait_for(pilot, lambda: "127.0.0.1" in text_of(app, "#password-reason"), what="the reason")
        await pilot.press("escape")
        assert app.screen.query_one(StatusLine).level == "error"
    assert load_config(hermetic).account("work").email == "alice@example.test"
    assert "not-the-password" not in hermetic.read_text()


async def test_no_keyring_offers_password_command_and_pop3(testbed, no_keyring, hermetic: Path) -> None:
    app = TuimailApp(hermetic, None)
    async with app.run_test(size=SIZE) as pilot:
        await fill_form(pilot, testbed, testbed.users["alice"], name="pophome")
        await pilot.click("#protocol")  # read with POP3, chosen with the keyboard
        await pilot.press("down", "enter")
        assert app.screen.query_one("#protocol", Select).value is Protocol.POP3
        assert await check(pilot, app) == "ok"
        await pilot.click("#save")
        await wait_for(pilot, lambda: app.screen.query_one("#check-summary").has_class("-error"),
                       what="the keyring error")
        summary = text_of(app, "#check-summary")
        assert "no keyring backend" in summary and "password_command" in summary
        assert "keyring" in text_of(app, "#password-command-error")
        assert app.screen.focused is app.screen.query_one("#password-command")
        assert not app.screen.query_one("#keyring").value  # unticked for the user
        assert not hermetic.exists()

        await type_into(pilot, "#password-command", f"cat {testbed.password_file('alice')}")
        await pilot.click("#save")  # the check ran without the command: confirm
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the shell after Save")
        await wait_for(pilot, lambda: rendered_lines(app.screen.query_one(FolderList))[:1] == ["▣ INBOX (POP3)"],
                       what="the POP3 inbox")
    account = load_config(hermetic).account("pophome")
    assert account.protocol is Protocol.POP3
    assert account.password_command == f"cat {testbed.password_file('alice')}"


async def test_validation_errors_show_inline_and_nothing_is_written(hermetic: Path) -> None:
    app = TuimailApp(hermetic, None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#save")
        assert "email address is required" in text_of(app, "#email-error")
        assert app.screen.focused is app.screen.query_one("#email")

        await type_into(pilot, "#email", "alice at example")
        await pilot.click("#check")
        assert "not an email address" in text_of(app, "#email-error")

        await type_into(pilot, "#email", "alice@example.test", paste=True)
        assert text_of(app, "#email-error").strip() == ""  # typing clears the message
        await type_into(pilot, "#imap-port", "0")
        await type_into(pilot, "#smtp-port", "99999")
        await type_into(pilot, "#name", "has space")
        await type_into(pilot, "#ca-file", "/no/such/ca.pem", paste=True)
        await pilot.click("#save")
        assert "between 1 and 65535" in text_of(app, "#imap-port-error")
        assert "between 1 and 65535" in text_of(app, "#smtp-port-error")
        assert "letters, digits" in text_of(app, "#name-error")
        assert "no such file" in text_of(app, "#ca-file-error")
        assert "4 fields need fixing" in text_of(app, "#check-summary")

        await type_into(pilot, "#imap-host", "")
        await type_into(pilot, "#imap-port", "abc")  # digits only: the letters never arrive
        assert value(app, "#imap-port") == ""
        await pilot.click("#save")
        assert "a host is needed" in text_of(app, "#imap-host-error")
        assert isinstance(app.screen, SetupScreen) and app.is_running
    assert not hermetic.exists()


async def test_defaults_follow_the_address_and_security_sets_the_port(hermetic: Path) -> None:
    app = TuimailApp(hermetic, None)
    async with app.run_test(size=SIZE) as pilot:
        await type_into(pilot, "#email", "bob@mail.example.org")
        assert value(app, "#name") == "mail"
        assert value(app, "#username") == "bob@mail.example.org"
        assert [value(app, f"#{p}-host") for p in ("imap", "pop3", "smtp")] == [
            "imap.mail.example.org", "pop.mail.example.org", "smtp.mail.example.org"]
        assert [value(app, f"#{p}-port") for p in ("imap", "pop3", "smtp")] == ["993", "995", "587"]

        await type_into(pilot, "#username", "bob")  # typed by the user: no longer derived
        await type_into(pilot, "#email", "bob@example.net")
        assert value(app, "#username") == "bob"
        assert value(app, "#imap-host") == "imap.example.net"

        screen = app.screen
        screen.query_one("#imap-security", Select).value = Security.STARTTLS
        screen.query_one("#smtp-security", Select).value = Security.TLS
        await pilot.pause()
        assert value(app, "#imap-port") == "143" and value(app, "#smtp-port") == "465"
        await type_into(pilot, "#pop3-port", "2995")  # a custom port survives a security change
        screen.query_one("#pop3-security", Select).value = Security.STARTTLS
        await pilot.pause()
        assert value(app, "#pop3-port") == "2995"
