"""The Compare screen against the real Dovecot (IMAP and POP3 on the same store): it opens, shows
the step in progress, then both columns with the values the servers gave; the match table,
the exports (Markdown and JSON, 0600), the experiments after a confirm (and the test message
gone afterwards), an account without POP3 shown as an error; no password anywhere on screen."""
from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.imap_support import truth
from tests.pop3_support import message, on_server
from tests.tui_support import hermetic, plaintext_keyring, rendered_lines, wait_for
from tuimail.model.compare import BOTH, BY_SIZE_DATE, NOT_RUN, OBSERVED, RETR_SETS_SEEN
from tuimail.store.config_file import load_config
from tuimail.ui.app import TuimailApp
from tuimail.ui.screens.compare import CompareScreen, open_compare
from tuimail.ui.screens.confirm import ConfirmScreen
from tuimail.ui.screens.main import MainScreen
from tuimail.ui.screens.password import PasswordScreen
from tuimail.ui.widgets.compare_view import SideBySide

__all__ = ["hermetic", "plaintext_keyring"]  # fixtures, used by name
SIZE = (140, 50)
USER = "bob"
NO_MESSAGE_ID = (b"From: Carol <carol@example.test>\r\nTo: bob@example.test\r\nSubject: no id here\r\n"
                 b"Date: Tue, 02 Jan 2024 09:00:00 +0000\r\n\r\nA message without a Message-ID.\r\n")


def _app(path: Path, config: str) -> TuimailApp:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config)
    return TuimailApp(path, load_config(path))


def _screen_text(screen: CompareScreen) -> str:
    """Everything the screen draws now, widget by widget, plus its report text."""
    drawn = []
    for widget in screen.query("*"):
        if widget.display and widget.size.height:
            drawn += rendered_lines(widget)
    return "\n".join(drawn) + "\n" + (screen.text if screen.report is not None else "")


async def _opened(pilot, app: TuimailApp, **keywords) -> CompareScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
    await pilot.pause()
    screen = open_compare(app, app.config.accounts[USER], **keywords)
    await wait_for(pilot, lambda: screen in app.screen_stack and screen.query("#compare-summary"),
                   what="the compare screen")
    return screen


async def test_compare_screen_shows_both_columns_and_exports(clean_testbed, hermetic: Path, tmp_path: Path) -> None:
    bed = clean_testbed
    delivered = [message(n, body=f"Body {n}.\n") for n in range(1, 6)] + [NO_MESSAGE_ID]
    bed.deliver_files(USER, delivered)
    before = truth(bed, "INBOX")
    password = bed.users[USER]
    app = _app(hermetic, bed.config_toml(USER))
    reports = tmp_path / "reports"
    async with app.run_test(size=SIZE) as pilot:
        screen = await _opened(pilot, app, reports_dir=reports)
        progress = screen.query_one("#compare-progress")  # while it runs: see the password test
        await wait_for(pilot, lambda: screen.report is not None or screen.error is not None, timeout=60,
                       what=lambda: f"the report (steps: {screen._steps})")
        assert screen.error is None, screen.error
        report = screen.report
        assert not progress.display and not screen.running
        steps = [label for label, done in screen._steps if done]
        assert len(steps) == len(screen._steps) and "IMAP: log in" in steps and "POP3: open one message" in steps
        await pilot.pause()

        columns = screen.query_one(SideBySide)
        drawn = rendered_lines(columns)
        assert "IMAP" in drawn[0] and "POP3" in drawn[0]
        bar = drawn[0].index("│")
        tls = next(row for row in drawn if row.startswith("TLS version"))
        assert tls[:bar].count("TLSv1.") == 1 and tls[bar:].count("TLSv1.") == 1, tls  # both columns
        mode = next(row for row in drawn if row.startswith("TLS mode"))
        assert mode[:bar].count("implicit TLS") == 1 and mode[bar:].count("implicit TLS") == 1, mode
        capabilities = "\n".join(row for row in drawn if row.startswith(("capabilities", " " * 19)))
        assert "IMAP4REV1" in capabilities and "UIDL" in capabilities and "TOP" in capabilities
        assert report.imap.capabilities and report.pop3.capabilities
        imap_column, pop3_column = columns.column_text("imap"), columns.column_text("pop3")
        assert "IMAP4REV1" in imap_column and "IMAP4REV1" not in pop3_column
        assert "UIDL" in pop3_column
        inbox = next(row for row in drawn if row.startswith("INBOX "))
        assert f"{len(delivered)} in the maildrop" in inbox[bar:], inbox  # the POP3 side: STAT's count
        assert f"{len(delivered)} (UIDVALIDITY {report.imap_view.uidvalidity}" in inbox[:bar], inbox
        assert report.pop3_view.count == len(delivered) == report.imap_view.inbox_exists
        for label in ("bytes in", "round trips", "time", "login time", "AUTH mechanisms", "certificate"):
            row = next(r for r in drawn if r.strip().startswith(label))
            assert row[bar] == "│" and row[bar + 1:].strip() and row[len(label) + 2:bar].strip(), row

        # the match table: every delivered message in both, the one without a Message-ID by size+date
        table = report.matches
        assert table.count(BOTH) == len(delivered) and table.count(BOTH, BY_SIZE_DATE) == 1
        heading = "\n".join(rendered_lines(screen.query_one("#compare-match-heading")))
        assert f"{len(delivered)} in both" in heading and "1 by size+date" in heading
        grid = screen.query_one("#compare-matches")
        assert grid.row_count == len(delivered)
        rows = "\n".join(rendered_lines(grid))
        undated = next(row for row in rows.splitlines() if "no id here" in row)
        assert "size+date" in undated and report.pop3_view.uidl and undated.split()[0] == "both", undated
        checks = "\n".join(rendered_lines(screen.query_one("#compare-checks")))
        assert checks.count("not run (needs --experiment)") == 3
        keep = "\n".join(rendered_lines(screen.query_one("#compare-keep")))
        assert f"{len(delivered)} on the server" in keep
        assert "Reading with POP3" not in screen.text  # not observed in a plain run, so not claimed
        assert any("POP3 shows only the INBOX" in line for line in report.summary)

        await pilot.press("e")
        await wait_for(pilot, lambda: screen.exported, what="the Markdown export")
        shown = str(screen.exported[0])
        assert shown in screen.status.message and any(shown in n.message for n in app._notifications)
        await pilot.press("E")
        await wait_for(pilot, lambda: len(screen.exported) == 2, what="the JSON export")
        markdown, exported_json = screen.exported
        assert markdown.parent == reports and markdown.suffix == ".md" and exported_json.suffix == ".json"
        for path in (markdown, exported_json):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = markdown.read_text()
        assert "| IMAP | POP3 |" in text and "## Connection" in text and "## Match table" in text
        data = json.loads(exported_json.read_text())
        assert data["pop3"]["sees"]["count"] == len(delivered) and data["account"] == USER
        everything = _screen_text(screen) + text + exported_json.read_text()
        assert password and password not in everything
    assert truth(bed, "INBOX") == before  # a plain run changed nothing: same UIDs, same flags


async def test_experiments_run_after_a_confirm_and_clean_up(clean_testbed, hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(n) for n in range(1, 4)])
    before, ids = truth(bed, "INBOX"), on_server(bed)
    app = _app(hermetic, bed.config_toml(USER))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _opened(pilot, app)
        await wait_for(pilot, lambda: screen.report is not None or screen.error, timeout=60, what="the report")
        assert screen.report.check(RETR_SETS_SEEN).status == NOT_RUN
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm dialog")
        await pilot.pause()
        assert "APPEND" in " ".join(rendered_lines(app.screen.query_one("#confirm-question")))
        await pilot.press("escape")  # no: nothing runs
        await wait_for(pilot, lambda: app.screen is screen, what="the compare screen again")
        assert not screen.running and not screen.report.experiment
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm dialog")
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: screen.running or (screen.report is not None and screen.report.experiment),
                       what="the experiment run")
        await wait_for(pilot, lambda: screen.report is not None or screen.error, timeout=90,
                       what=lambda: f"the experiment report (steps: {screen._steps})")
        assert screen.error is None, screen.error
        report = screen.report
        assert report.experiment
        assert {check.status for check in report.checks} == {OBSERVED}, report.checks
        checks = "\n".join(rendered_lines(screen.query_one("#compare-checks")))
        assert "not run" not in checks
        assert any("experiment:" in label for label, _ in screen._steps)  # the progress named them
    assert on_server(bed) == ids and truth(bed, "INBOX") == before  # the appended test message is gone again


async def test_an_account_without_pop3_is_an_error_on_the_screen(clean_testbed, hermetic: Path) -> None:
    app = _app(hermetic, clean_testbed.config_toml(USER, pop3=None))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _opened(pilot, app)
        await pilot.pause()
        assert screen.error is not None and not screen.running and screen.report is None
        box = "\n".join(rendered_lines(screen.query_one("#compare-error")))
        assert "Cannot compare this account" in box and "[accounts.bob.pop3]" in box
        assert not screen.query_one("#compare-report").display
        await pilot.press("e")  # nothing to export: no crash, no file
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen again")


async def test_no_stored_password_asks_and_a_wrong_one_is_an_error(clean_testbed, plaintext_keyring,
                                                                    hermetic: Path) -> None:
    bed = clean_testbed
    bed.deliver_files(USER, [message(n) for n in range(1, 3)])
    app = _app(hermetic, bed.config_toml(USER, password_command=None))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the main screen's prompt")
        await pilot.press("escape")  # the shell goes without; the compare asks for its own
        screen = await _opened(pilot, app)
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the compare's prompt")
        # the worker waits for the password: the progress is up, whatever the machine's speed
        progress = screen.query_one("#compare-progress")
        assert progress.display and screen.running
        assert "Comparing IMAP and POP3 on bob" in "\n".join(rendered_lines(progress))
        await pilot.press(*"wrong-password", "enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.error is not None, timeout=30,
                       what="the login failure")
        box = "\n".join(rendered_lines(screen.query_one("#compare-error")))
        assert "Login failed" in box and screen.report is None and screen.password is None
        assert "wrong-password" not in box
        await pilot.press("r")  # again: asked again
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen), what="the prompt again")
        await pilot.press(*bed.users[USER], "enter")
        await wait_for(pilot, lambda: screen.report is not None, timeout=60,
                       what=lambda: f"the report (error: {screen.error})")
        assert screen.report.pop3_view.count == 2 and not screen.query_one("#compare-error").display
        assert bed.users[USER] not in _screen_text(screen)
