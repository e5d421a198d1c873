"""The Compare screen with a fixed report (no server): a snapshot (pytest-textual-snapshot, the
terminal size, clock and time zone fixed as in tests/test_snapshots.py), and the report's
server strings drawn inert. The live screen is tests/test_tui_compare.py."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.fixed_mail import ACCOUNT, fixed_app, fixed_mail, index_ready
from tests.test_inert_everywhere import CONTROLS, CONTROLS_SHOWN, FORBIDDEN, MARKUP
from tests.tui_support import rendered_lines, wait_for
from tuimail.model.compare import (BOTH, BY_MESSAGE_ID, BY_SIZE_DATE, DELE_REMOVES, FLAGS_VISIBLE, IMAP_ONLY,
                                   LIST_NEWEST, LOGIN, OBSERVED, OPEN_ONE, RETR_SETS_SEEN, UNMATCHED, CompareReport,
                                   ConnectionFacts, Cost, CostComparison, FolderCount, ImapView, KeepDryRun,
                                   MatchRow, MatchTable, Pop3View, QUESTIONS, SemanticsCheck, TlsFacts, summary_lines)
from tuimail.ui.screens.compare import CompareScreen
from tuimail.ui.widgets.compare_view import SideBySide

__all__ = ["fixed_mail"]  # a fixture, used by name
SIZE = (140, 60)
STARTED = datetime(2025, 3, 14, 16, 0, 5, tzinfo=timezone.utc)
UIDVALIDITY = 1741960000

TLS = TlsFacts(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", bits=256, subject="CN=mail.example.org",
               issuer="CN=R11, O=Let's Encrypt, C=US", not_after=datetime(2025, 5, 30, tzinfo=timezone.utc),
               sha256="3F:9A:11:C2:7B:5E:08:D4:AA:61:90:2C:FE:13:77:B0:4D:E2:95:6A:0C:83:1F:B9:52:EE:07:46:C8:3D:A1:F6",
               verified_by="ca", alt_names=("DNS:mail.example.org",), days_left=76)
IMAP = ConnectionFacts(
    "imap", "mail.example.org", 993, "tls", TLS,
    capabilities=("IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN"),
    capabilities_after_login=("IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "SPECIAL-USE",
                              "LIST-STATUS", "BINARY", "NAMESPACE"),
    auth_mechanisms=("PLAIN",), login_command="AUTH PLAIN", connect_seconds=0.042, login_seconds=0.018)
POP3 = ConnectionFacts(
    "pop3", "mail.example.org", 995, "tls", TLS,
    capabilities=("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL PLAIN"),
    auth_mechanisms=("PLAIN",), login_command="AUTH PLAIN", connect_seconds=0.039, login_seconds=0.011)


def _at(days: int, hour: int) -> datetime:
    return STARTED - timedelta(days=days, hours=hour)


def _row(n: int, subject: str, message_id: str, size: int, when: datetime, where: str = BOTH,
         by: str = BY_MESSAGE_ID) -> MatchRow:
    return MatchRow(where=where, matched_by=by, key=message_id, subject=subject, date=when,
                    imap_uid=100 + n, uidvalidity=UIDVALIDITY, imap_size=size,
                    pop3_number=None if where == IMAP_ONLY else n, uidl=None if where == IMAP_ONLY else f"0000{n:04x}5f1e",
                    pop3_size=None if where == IMAP_ONLY else size, order=n)


ROWS = (
    _row(6, "Re: Quarterly numbers, draft v3", "q1-v3@example.net", 48_211, _at(0, 1)),
    _row(5, "[ci] main: 214 passed, 0 failed", "ci-9921@build.example.org", 2_118, _at(0, 5)),
    _row(4, "Отчёт за март / March report", "otchet@example.ru", 36_904, _at(0, 7)),
    _row(3, "A note without a Message-ID", f"size+date 1422 {_at(1, 2):%Y-%m-%dT%H:%M:%SZ}", 1_422, _at(1, 2),
         by=BY_SIZE_DATE),
    _row(2, "Lunch on Friday?", "lunch@example.org", 1_904, _at(4, 3)),
    _row(1, "Draft saved on the phone", "phone-draft@example.org", 812, _at(5, 0), where=IMAP_ONLY, by=UNMATCHED),
)


def fixed_report() -> CompareReport:
    imap_view = ImapView(folders=(FolderCount("INBOX", "inbox", 6, 1), FolderCount("Sent", "sent", 310, 0),
                                  FolderCount("Drafts", "drafts", 2, 0), FolderCount("Archive", "archive", 5120, 0),
                                  FolderCount("Junk", "junk", 12, 12)),
                         folders_total=5, inbox_exists=6, uidvalidity=UIDVALIDITY, uidnext=107)
    costs = (
        CostComparison(LOGIN, "log in", Cost(544, 45, 1, 0.018, ("AUTH PLAIN ***",)),
                       Cost(134, 43, 2, 0.011, ("CAPA", "AUTH PLAIN ***")),
                       "greeting, capabilities and authentication after TLS (the handshake is not counted)"),
        CostComparison(LIST_NEWEST, "list the newest 50 headers",
                       Cost(5_092, 136, 3, 0.007, ("EXAMINE \"INBOX\"", "FETCH 1:6 (UID FLAGS ENVELOPE RFC822.SIZE)")),
                       Cost(4_410, 181, 2, 0.004, ("STAT", "UIDL n x5", "LIST n x5", "TOP n 0 x5")),
                       "what each index sends to show the newest 50 messages"),
        CostComparison(OPEN_ONE, "open one message", Cost(1_377, 35, 1, 0.002, ("UID FETCH 106 (BODY.PEEK[1])",)),
                       Cost(48_650, 8, 1, 0.006, ("RETR n",)),
                       "UID 106 = POP3 #6: IMAP fetched the text part only, POP3 RETR sent all of it"),
    )
    checks = (SemanticsCheck(RETR_SETS_SEEN, QUESTIONS[RETR_SETS_SEEN], OBSERVED, True,
                             "yes: \\Seen was set when the POP3 session ended",
                             ("IMAP flags before: (none)", "after RETR + QUIT: \\Seen")),
              SemanticsCheck.not_run(FLAGS_VISIBLE), SemanticsCheck.not_run(DELE_REMOVES))
    keep = KeepDryRun("keep on the server, delete after 30 days", "the local POP3 store (5 messages)", count=5,
                      would_download=1, notes=("messages are judged by UIDL",))
    report = CompareReport(
        account=ACCOUNT, email="alice@example.org", started=STARTED, seconds=0.41, imap=IMAP, pop3=POP3,
        imap_view=imap_view, pop3_view=Pop3View(5, 90_389, True),
        matches=MatchTable(ROWS, imap_total=6, pop3_total=5, imap_compared=6, pop3_compared=5, limit=500),
        costs=costs, checks=checks, keep=keep,
        notes=("checked: UID 106, opened over POP3 (RETR, then RSET), still has the flags it had before: (\\Seen)",))
    return replace(report, summary=summary_lines(report))


async def _compare(pilot, report: CompareReport) -> CompareScreen:
    await wait_for(pilot, lambda: index_ready(pilot.app), what="the cached INBOX and the folder list")
    app = pilot.app
    screen = CompareScreen(app.config.accounts[ACCOUNT], report=report, reports_dir=Path("/nonexistent"))
    await app.push_screen(screen)
    await wait_for(pilot, lambda: screen.query_one(SideBySide).size.height > 10, what="the columns")
    await pilot.pause()
    return screen


def test_compare_screen(snap_compare, fixed_mail: Path) -> None:
    async def run_before(pilot) -> None:
        await _compare(pilot, fixed_report())

    assert snap_compare(fixed_app(fixed_mail), terminal_size=SIZE, run_before=run_before)


def test_compare_screen_below_the_columns(snap_compare, fixed_mail: Path) -> None:
    """Scrolled to the end: the match table, the semantics checks, the keep policy, the summary."""
    async def run_before(pilot) -> None:
        screen = await _compare(pilot, fixed_report())
        scroll = screen.query_one("#compare-scroll")
        scroll.scroll_end(animate=False)
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y > 0, what="the end of the report")
        await pilot.pause()

    assert snap_compare(fixed_app(fixed_mail), terminal_size=SIZE, run_before=run_before)


async def test_the_columns_line_up_and_server_text_is_inert(fixed_mail: Path) -> None:
    hostile = f"{MARKUP} {CONTROLS}"
    report = fixed_report()
    report = replace(report, imap=replace(report.imap, capabilities=report.imap.capabilities + (hostile,)),
                     pop3_view=replace(report.pop3_view, notes=(f"note {hostile}",)),
                     matches=replace(report.matches, rows=(replace(ROWS[0], subject=f"S {hostile}"),) + ROWS[1:]),
                     summary=report.summary + (f"summary {hostile}",))
    app = fixed_app(fixed_mail)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _compare(pilot, report)
        columns = screen.query_one(SideBySide)
        drawn = rendered_lines(columns)
        assert "IMAP" in drawn[0] and "POP3" in drawn[0]
        bar = drawn[0].index("│")
        # every row's POP3 cell starts at the same column, whatever the length of its IMAP cell
        assert all(row[bar] == "│" for row in drawn if "│" in row and not row.startswith(("Connection", "What")))
        server = next(row for row in drawn if row.startswith("server"))
        assert server.index("mail.example.org:993") < bar < server.index("mail.example.org:995")
        everything = "\n".join(drawn + rendered_lines(screen.query_one("#compare-summary"))
                               + rendered_lines(screen.query_one("#compare-matches")))
        assert "[bold red]x[/]" in everything and "[@click=app.quit]click[/]" in everything
        assert everything.count(CONTROLS_SHOWN) >= 3  # capabilities, the POP3 note, the summary: text kept
        assert "[link=https://evil.example]y[/link]" in everything and "S [bold red]x[/]" in everything
        assert not FORBIDDEN & set(everything)
        for widget in (columns, screen.query_one("#compare-summary"), screen.query_one("#compare-matches")):
            for y in range(widget.size.height):
                for segment in widget.render_line(y):
                    style = segment.style
                    assert style is None or (not style.link and "@click" not in (style.meta or {})), segment
