"""The pieces of the Compare screen: the IMAP and POP3 columns as rows (label, IMAP, POP3), a
widget that draws them side by side with each row's cells wrapped within their column (so a row
lines up across both columns however long either cell is), the sections below them as lines,
and the report's export to a private file.

Every string from a report may have come from a server: it is made one line and free of
control characters (one_line) here, and drawn as Content, never as markup.
"""
from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from tuimail.model.compare import (BOTH, BY_MESSAGE_ID, BY_SIZE_DATE, IMAP_ONLY, NOT_RUN, OBSERVED, POP3_ONLY,
                                   CompareReport, ConnectionFacts, Cost, KeepDryRun, MatchRow, MatchTable)
from tuimail.model.mime import human_size
from tuimail.model.text import one_line
from tuimail.ui.render import line
from tuimail.ui.widgets.text_view import wrap_line

LABEL_WIDTH = 18
SECURITY = {"tls": "implicit TLS", "starttls": "STARTTLS", "plain": "none: plain text"}


@dataclass(frozen=True)
class SideRow:
    """label | IMAP | POP3; kind "heading" draws the label alone, "task" the label alone in
    bold, "note" the IMAP cell across, "blank" an empty line. Leading spaces of the label indent it."""
    label: str
    imap: str = ""
    pop3: str = ""
    kind: str = "row"


def safe(value: object, limit: int = 2000) -> str:
    return one_line("" if value is None else str(value), limit)


# The columns' rows ------------------------------------------------------------------------------

def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} s"


def _connection_column(facts: ConnectionFacts) -> dict[str, str]:
    host = f"[{facts.host}]" if ":" in facts.host else facts.host
    tls = facts.tls
    cells = {"server": f"{host}:{facts.port}",
             "TLS mode": SECURITY.get(facts.security, facts.security)}
    if tls is None:
        cells["TLS version"] = "none: not encrypted" if facts.error is None else "unknown"
    else:
        cells["TLS version"] = tls.version
        cells["cipher"] = tls.cipher + (f" ({tls.bits} bits)" if tls.bits else "")
        cells["certificate"] = tls.subject or "(pinned: not checked)"
        cells["issuer"] = tls.issuer
        if tls.not_after is not None:
            cells["expires"] = tls.not_after.strftime("%Y-%m-%d") + (
                f", {tls.days_left} days left" if tls.days_left is not None else "")
        cells["verified by"] = "the CA" if tls.verified_by == "ca" else "a pinned fingerprint"
        cells["sha256"] = tls.sha256
    cells["capabilities"] = " ".join(facts.capabilities) or "—"
    cells["AUTH mechanisms"] = " ".join(facts.auth_mechanisms) or "none advertised"
    cells["logged in with"] = facts.login_command or "—"
    cells["connect time"] = _seconds(facts.connect_seconds)
    cells["login time"] = _seconds(facts.login_seconds)
    return cells


def connection_rows(report: CompareReport) -> list[SideRow]:
    imap, pop3 = _connection_column(report.imap), _connection_column(report.pop3)
    labels = list(imap) + [label for label in pop3 if label not in imap]
    rows = [SideRow("Connection", kind="heading")]
    for label in labels:
        rows.append(SideRow(label, imap.get(label, "—"), pop3.get(label, "—")))
        if label == "capabilities":
            rows.append(SideRow("after login", " ".join(report.imap.capabilities_after_login) or "—",
                                " ".join(report.pop3.capabilities_after_login)
                                or "(POP3 reads CAPA once, before login)"))
    if report.imap.error or report.pop3.error:
        rows.append(SideRow("problems", report.imap.error or "", report.pop3.error or ""))
    return rows


def sees_rows(report: CompareReport) -> list[SideRow]:
    view, pop = report.imap_view, report.pop3_view
    counted = f"{len(view.folders)} folder(s)" + (f" (of {view.folders_total} listed)"
                                                  if view.folders_total > len(view.folders) else "")
    rows = [SideRow("What each sees", kind="heading"),
            SideRow("messages", f"{view.messages} in {counted}", f"{pop.count} ({human_size(pop.octets)}), INBOX only"),
            SideRow("INBOX", f"{view.inbox_exists} (UIDVALIDITY {view.uidvalidity}, UIDNEXT {view.uidnext})",
                    f"{pop.count} in the maildrop"),
            SideRow("message identity", "UID within UIDVALIDITY",
                    "UIDL" if pop.uidl else "none (no UIDL): numbers change every session"),
            SideRow("flags", "\\Seen \\Flagged \\Answered, keywords", "none"),
            SideRow("folders", f"{len(view.folders)}", "1 (the maildrop is the INBOX)")]
    for folder in view.folders:
        count = "?" if folder.messages is None else str(folder.messages)
        unseen = f", {folder.unseen} unseen" if folder.unseen else ""
        role = f" [{folder.role}]" if folder.role and folder.role != "inbox" else ""
        inbox = folder.name.upper() == "INBOX"
        rows.append(SideRow(f"  {folder.name}", f"{count}{unseen}{role}", f"{pop.count}" if inbox else "—"))
    rows += [SideRow("POP3 note", "", note) for note in pop.notes]
    return rows


def _cost_cells(cost: Cost | None) -> list[str]:
    if cost is None:
        return ["—"] * 5
    return [human_size(cost.bytes_in), human_size(cost.bytes_out), str(cost.round_trips),
            f"{cost.seconds:.3f} s", ", ".join(cost.commands) or "—"]


def cost_rows(report: CompareReport) -> list[SideRow]:
    rows = [SideRow("Cost (measured in this run, bytes after TLS)", kind="heading")]
    for cost in report.costs:
        rows.append(SideRow(cost.title, kind="task"))
        imap, pop3 = _cost_cells(cost.imap), _cost_cells(cost.pop3)
        for n, label in enumerate(("  bytes in", "  bytes out", "  round trips", "  time", "  commands")):
            rows.append(SideRow(label, imap[n], pop3[n]))
        if cost.note:
            rows.append(SideRow("", cost.note, kind="note"))
    return rows


def column_rows(report: CompareReport) -> list[SideRow]:
    blank = [SideRow("", kind="blank")]
    return connection_rows(report) + blank + sees_rows(report) + blank + cost_rows(report)


# Side by side -------------------------------------------------------------------------------------

def wrap_cell(text: str, width: int) -> list[str]:
    """text as rows of at most width cells: at spaces where it can, else mid-word."""
    width = max(width, 1)
    if not text:
        return [""]
    if text.isascii():
        return textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    rows: list[str] = []
    for word_row in textwrap.wrap(text, max(width, 1), break_long_words=False, break_on_hyphens=False) or [""]:
        rows += wrap_line(word_row, width) if cell_len(word_row) > width else [word_row]
    return rows


class SideBySide(Widget):
    """The rows as three columns (label, IMAP, POP3), each row as tall as its tallest cell."""

    DEFAULT_CSS = "SideBySide { height: auto; }"
    HEADING, LABEL, RULE, NOTE = "bold $text-accent", "bold", "dim", "dim italic"

    def __init__(self, rows: list[SideRow] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[SideRow] = []
        self._cache: tuple[int, list[tuple[str, str, str, str]]] = (-1, [])
        self.set_rows(rows or [])

    def set_rows(self, rows: list[SideRow]) -> None:
        self.rows = [SideRow(" " * min(len(r.label) - len(r.label.lstrip(" ")), 8) + safe(r.label, 200),
                             safe(r.imap), safe(r.pop3), r.kind) for r in rows]
        self._cache = (-1, [])
        self.refresh(layout=True)

    @staticmethod
    def column_width(width: int) -> int:
        return max(8, (width - LABEL_WIDTH - 3) // 2)

    def layout_rows(self, width: int) -> list[tuple[str, str, str, str]]:
        """(kind, label, IMAP, POP3) per drawn line, for width cells."""
        if self._cache[0] == width:
            return self._cache[1]
        column = self.column_width(width)
        out = [("columns", "", "IMAP", "POP3")]
        for row in self.rows:
            if row.kind in ("heading", "task", "blank"):
                out.append((row.kind, row.label, "", ""))
                continue
            if row.kind == "note":
                for n, piece in enumerate(wrap_cell(row.imap, max(width - LABEL_WIDTH - 1, 8))):
                    out.append(("note", row.label if n == 0 else "", piece, ""))
                continue
            labels = wrap_cell(row.label, LABEL_WIDTH) if cell_len(row.label) > LABEL_WIDTH else [row.label]
            left, right = wrap_cell(row.imap, column), wrap_cell(row.pop3, column)
            for n in range(max(len(labels), len(left), len(right))):
                out.append(("row", labels[n] if n < len(labels) else "", left[n] if n < len(left) else "",
                            right[n] if n < len(right) else ""))
        self._cache = (width, out)
        return out

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.layout_rows(width))

    def render(self) -> Content:
        width = self.size.width
        column = self.column_width(width)
        heading, label_style, rule, note = self.HEADING, self.LABEL, self.RULE, self.NOTE
        lines = []
        for kind, label, left, right in self.layout_rows(width):
            if kind == "blank":
                lines.append(Content(""))
            elif kind == "note":
                lines.append(line(" " * (LABEL_WIDTH + 1), (left, note)))
            elif kind == "columns":
                lines.append(line(" " * (LABEL_WIDTH + 1), (set_cell_size(left, column), heading),
                                  (" │ ", rule), (right, heading)))
            elif kind in ("heading", "task"):
                lines.append(line((label, heading if kind == "heading" else label_style)))
            else:
                lines.append(line((set_cell_size(label, LABEL_WIDTH), label_style), " ",
                                  set_cell_size(left, column), (" │ ", rule), right))
        return Content("\n").join(lines)

    def column_text(self, side: str) -> str:
        """One column's cells, label: value per row (side "imap" or "pop3"), for tests and copying."""
        return "\n".join(f"{r.label}: {r.imap if side == 'imap' else r.pop3}" for r in self.rows
                         if r.kind == "row")


# Below the columns ----------------------------------------------------------------------------------

def match_heading(table: MatchTable) -> str:
    head = (f"{table.count(BOTH)} in both ({table.count(BOTH, BY_MESSAGE_ID)} by Message-ID, "
            f"{table.count(BOTH, BY_SIZE_DATE)} by size+date), {table.count(IMAP_ONLY)} only in IMAP INBOX, "
            f"{table.count(POP3_ONLY)} only in POP3")
    if table.size_mismatches:
        head += f"; {table.size_mismatches} with different sizes"
    if table.capped:
        head += (f"; the newest {table.limit} compared: {table.imap_compared} of {table.imap_total} (IMAP), "
                 f"{table.pop3_compared} of {table.pop3_total} (POP3)")
    return head


MATCH_COLUMNS = ("where", "matched by", "IMAP UID", "POP3 #", "UIDL", "size", "date", "subject", "Message-ID / key")


def match_cells(row: MatchRow) -> tuple[Text, ...]:
    """A match table row as DataTable cells: rich Text, which DataTable never parses as markup."""
    size = human_size(row.size) if row.sizes_agree is not False else f"{row.imap_size} / {row.pop3_size}"
    date = row.date.strftime("%Y-%m-%d %H:%M") if row.date is not None else ""
    cells = (row.where, row.matched_by, "" if row.imap_uid is None else str(row.imap_uid),
             "" if row.pop3_number is None else str(row.pop3_number), safe(row.uidl or "", 70), size, date,
             safe(row.subject, 80), safe(row.key, 120))
    return tuple(Text(cell, no_wrap=True) for cell in cells)


def check_lines(report: CompareReport) -> list[Content]:
    out = []
    for check in report.checks:
        style = "dim" if check.status == NOT_RUN else "bold" if check.status == OBSERVED else "$error"
        out.append(line(("• ", "bold"), safe(check.question), "  ", (safe(check.answer_text, 500), style)))
        out += [line("    ", (safe(e, 500), "dim")) for e in check.evidence]
    return out or [line(("no checks in this report", "dim"))]


def keep_lines(keep: KeepDryRun | None) -> list[Content]:
    if keep is None:
        return [line(("not run", "dim"))]
    out = [line("policy: ", (safe(keep.policy), "bold"), f"; judged against {safe(keep.store)}")]
    if keep.error:
        return out + [line(("failed: ", "$error"), safe(keep.error, 500))]
    later = f" and {keep.delete_after_download} more once downloaded" if keep.delete_after_download else ""
    out.append(line(f"{keep.count} on the server; a sync would download {keep.would_download}, "
                    f"delete {len(keep.would_delete)} now{later}"))
    for item in keep.would_delete:
        out.append(line(("  would delete ", "$warning"), f"#{item.number} {safe(item.key, 80)} "
                        f"{human_size(item.size)} {safe(item.subject, 60)} ({safe(item.reason, 120)})"))
    for item in keep.skipped:
        out.append(line("  skipped ", f"#{item.number} {safe(item.key, 80)} ({safe(item.reason, 160)})"))
    return out + [line(("  note: ", "dim"), (safe(n, 500), "dim")) for n in keep.notes]


def summary_lines(report: CompareReport) -> list[Content]:
    out = [line(("• ", "bold"), safe(s, 1000)) for s in report.summary]
    out += [line(("note: ", "dim"), (safe(n, 1000), "dim")) for n in report.notes]
    return out or [line(("nothing to summarise", "dim"))]


def run_line(report: CompareReport) -> str:
    started = report.started.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    what = ("experiments run: a test message was appended and removed again" if report.experiment
            else "experiments not run (x): nothing on the server was changed")
    return f"run {started}, {report.seconds:.2f} s; {what}"


# Export --------------------------------------------------------------------------------------------

def reports_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tuimail" / "reports"


def export_report(report: CompareReport, kind: str, directory: Path | None = None) -> Path:
    """Write the report as Markdown ("md") or JSON ("json") into directory (0700), as a new
    0600 file named after the account and the run's time; the path written. Blocking."""
    import json

    text = (report.to_markdown() if kind == "md"
            else json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    folder = directory if directory is not None else reports_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", report.account).strip("._") or "account"
    stamp = report.started.strftime("%Y%m%d-%H%M%S") if isinstance(report.started, datetime) else "report"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for n in range(1, 1000):
        path = folder / f"compare-{name}-{stamp}{'' if n == 1 else f'-{n}'}.{kind}"
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    raise FileExistsError(f"too many compare reports named compare-{name}-{stamp}.* in {folder}")
