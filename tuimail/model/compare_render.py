"""The compare report as JSON (a dict of JSON-safe values), Markdown and plain text lines.

Every string that came from a server (subjects, Message-IDs, UIDLs, capabilities, certificate
names) goes through one_line/strip_controls before it is put in Markdown or text; in JSON it
stays data (json.dumps escapes control characters). The text lines are what the CLI prints and
what a TUI can show as plain Text (never markup).
"""
from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any

from tuimail.model.compare import (BOTH, BY_MESSAGE_ID, BY_SIZE_DATE, IMAP_ONLY, NOT_RUN, POP3_ONLY,
                                   CompareReport, ConnectionFacts, Cost, KeepDryRun,
                                   KeepItem, MatchRow, SemanticsCheck, TlsFacts)
from tuimail.model.mime import human_size
from tuimail.model.text import one_line

TEXT_ROWS = 20  # match table rows the text output shows


# JSON ----------------------------------------------------------------------------------------

def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tls_json(tls: TlsFacts | None) -> dict | None:
    if tls is None:
        return None
    return {"version": tls.version, "cipher": tls.cipher, "bits": tls.bits, "subject": tls.subject,
            "issuer": tls.issuer, "not_after": _when(tls.not_after), "days_left": tls.days_left,
            "sha256": tls.sha256, "verified_by": tls.verified_by, "alt_names": list(tls.alt_names)}


def _connection_json(facts: ConnectionFacts) -> dict:
    return {"host": facts.host, "port": facts.port, "security": facts.security, "tls": _tls_json(facts.tls),
            "capabilities": list(facts.capabilities),
            "capabilities_after_login": list(facts.capabilities_after_login),
            "auth_mechanisms": list(facts.auth_mechanisms), "login_command": facts.login_command,
            "connect_seconds": facts.connect_seconds, "login_seconds": facts.login_seconds,
            "error": facts.error}


def _row_json(row: MatchRow) -> dict:
    return {"where": row.where, "matched_by": row.matched_by, "key": row.key, "subject": row.subject,
            "date": _when(row.date), "size": row.size, "sizes_agree": row.sizes_agree,
            "imap": None if row.imap_uid is None else
            {"uid": row.imap_uid, "uidvalidity": row.uidvalidity, "size": row.imap_size},
            "pop3": None if row.pop3_number is None else
            {"number": row.pop3_number, "uidl": row.uidl, "size": row.pop3_size}}


def _cost_json(cost: Cost | None) -> dict | None:
    if cost is None:
        return None
    return {"bytes_in": cost.bytes_in, "bytes_out": cost.bytes_out, "round_trips": cost.round_trips,
            "seconds": round(cost.seconds, 6), "commands": list(cost.commands)}


def _check_json(check: SemanticsCheck) -> dict:
    return {"id": check.id, "question": check.question, "status": check.status,
            "run": check.status != NOT_RUN, "answer": check.answer, "answer_text": check.answer_text,
            "evidence": list(check.evidence)}


def _keep_item_json(item: KeepItem) -> dict:
    return {"number": item.number, "key": item.key, "size": item.size, "subject": item.subject,
            "reason": item.reason}


def _keep_json(keep: KeepDryRun | None) -> dict | None:
    if keep is None:
        return None
    return {"policy": keep.policy, "store": keep.store, "count": keep.count,
            "would_download": keep.would_download,
            "would_delete": [_keep_item_json(i) for i in keep.would_delete],
            "delete_after_download": keep.delete_after_download,
            "skipped": [_keep_item_json(i) for i in keep.skipped], "notes": list(keep.notes),
            "error": keep.error}


def report_json(report: CompareReport) -> dict[str, Any]:
    """The whole report; `schema` is 1: keys may be added, existing ones keep their meaning."""
    view, pop, table = report.imap_view, report.pop3_view, report.matches
    return {
        "schema": report.schema, "account": report.account, "email": report.email,
        "started": _when(report.started), "seconds": round(report.seconds, 6),
        "experiment": report.experiment,
        "imap": {"connection": _connection_json(report.imap), "sees": {
            "folders": [{"name": f.name, "role": f.role, "messages": f.messages, "unseen": f.unseen}
                        for f in view.folders],
            "folders_total": view.folders_total, "messages": view.messages,
            "inbox": {"exists": view.inbox_exists, "uidvalidity": view.uidvalidity, "uidnext": view.uidnext}}},
        "pop3": {"connection": _connection_json(report.pop3), "sees": {
            "folders": ["INBOX"], "count": pop.count, "octets": pop.octets, "uidl": pop.uidl,
            "notes": list(pop.notes)}},
        "matches": {
            "limit": table.limit, "capped": table.capped, "imap_total": table.imap_total,
            "pop3_total": table.pop3_total, "imap_compared": table.imap_compared,
            "pop3_compared": table.pop3_compared,
            "counts": {"both": table.count(BOTH), "imap_only": table.count(IMAP_ONLY),
                       "pop3_only": table.count(POP3_ONLY),
                       "by_message_id": table.count(BOTH, BY_MESSAGE_ID),
                       "by_size_date": table.count(BOTH, BY_SIZE_DATE),
                       "size_mismatches": table.size_mismatches},
            "rows": [_row_json(r) for r in table.rows]},
        "costs": [{"task": c.task, "title": c.title, "note": c.note, "imap": _cost_json(c.imap),
                   "pop3": _cost_json(c.pop3)} for c in report.costs],
        "checks": [_check_json(c) for c in report.checks],
        "keep_policy": _keep_json(report.keep),
        "summary": list(report.summary),
        "notes": list(report.notes),
    }


# Shared wording --------------------------------------------------------------------------------

def _safe(value: object, limit: int = 300) -> str:
    return one_line("" if value is None else str(value), limit)


def _server(facts: ConnectionFacts) -> str:
    host = f"[{facts.host}]" if ":" in facts.host else facts.host
    return f"{host}:{facts.port} (security = {facts.security})"


def _tls_text(facts: ConnectionFacts) -> str:
    if facts.tls is None:
        return "none: not encrypted" if facts.error is None else "unknown"
    bits = f" ({facts.tls.bits} bits)" if facts.tls.bits else ""
    return f"{facts.tls.version} {facts.tls.cipher}{bits}"


def _expiry(tls: TlsFacts | None) -> str:
    if tls is None or tls.not_after is None:
        return ""
    left = f", {tls.days_left} days left" if tls.days_left is not None else ""
    return tls.not_after.strftime("%Y-%m-%d") + left


def _login(facts: ConnectionFacts) -> str:
    if facts.login_seconds is None:
        return facts.login_command or ""
    return f"{facts.login_command or 'login'} in {facts.login_seconds:.3f} s"


def connection_rows(report: CompareReport) -> list[tuple[str, str, str]]:
    """(label, IMAP, POP3) rows about the connections; every cell already safe to show."""
    imap, pop = report.imap, report.pop3
    rows = [("server", _server(imap), _server(pop)), ("TLS", _tls_text(imap), _tls_text(pop))]
    for label, get in (("certificate", lambda t: t.subject or "(pinned: not checked)"),
                       ("issuer", lambda t: t.issuer), ("expires", _expiry),
                       ("sha256", lambda t: t.sha256)):
        rows.append((label, get(imap.tls) if imap.tls else "", get(pop.tls) if pop.tls else ""))
    rows += [("capabilities", " ".join(imap.capabilities), " ".join(pop.capabilities)),
             ("after login", " ".join(imap.capabilities_after_login) or "-",
              " ".join(pop.capabilities_after_login) or "(CAPA is read once, before login)"),
             ("AUTH mechanisms", " ".join(imap.auth_mechanisms) or "none advertised",
              " ".join(pop.auth_mechanisms) or "none advertised"),
             ("login", _login(imap), _login(pop))]
    if imap.error or pop.error:
        rows.append(("problems", imap.error or "", pop.error or ""))
    return [(label, _safe(a, 2000), _safe(b, 2000)) for label, a, b in rows]


def sees_rows(report: CompareReport) -> list[tuple[str, str, str]]:
    """(label, IMAP, POP3) rows: what each protocol shows of the account, folder by folder."""
    view, pop = report.imap_view, report.pop3_view
    counted = f"{len(view.folders)} folders" + (f" (of {view.folders_total} listed)"
                                               if view.folders_total > len(view.folders) else "")
    rows = [("messages", f"{view.messages} in {counted}", f"{pop.count} ({human_size(pop.octets)}), INBOX only"),
            ("INBOX", f"{view.inbox_exists} (UIDVALIDITY {view.uidvalidity}, UIDNEXT {view.uidnext})",
             f"{pop.count} in the maildrop"),
            ("message identity", "UID, valid while UIDVALIDITY stays the same",
             "UIDL" if pop.uidl else "none (no UIDL): message numbers change every session"),
            ("flags", "yes (\\Seen, \\Flagged, \\Answered, keywords...)", "none")]
    for folder in view.folders:
        unseen = f", {folder.unseen} unseen" if folder.unseen else ""
        role = f" [{folder.role}]" if folder.role and folder.role != "inbox" else ""
        rows.append((f"  {_safe(folder.name, 40)}", f"{folder.messages if folder.messages is not None else '?'}"
                     f"{unseen}{role}", "-" if folder.name.upper() != "INBOX" else f"{pop.count}"))
    return rows + [("note", "", _safe(n, 500)) for n in pop.notes]


def cost_text(cost: Cost | None) -> str:
    if cost is None:
        return "-"
    return (f"{human_size(cost.bytes_in)} in, {human_size(cost.bytes_out)} out, "
            f"{cost.round_trips} round trip(s), {cost.seconds:.3f} s")


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def table_heading(report: CompareReport) -> str:
    """One line counting the match table's rows, and saying when --limit capped it."""
    t = report.matches
    head = (f"{t.count(BOTH)} in both ({t.count(BOTH, BY_MESSAGE_ID)} by Message-ID, "
            f"{t.count(BOTH, BY_SIZE_DATE)} by size+date), {t.count(IMAP_ONLY)} only in IMAP INBOX, "
            f"{t.count(POP3_ONLY)} only in POP3")
    if t.capped:
        head += (f"; capped at the newest {t.limit}: compared {t.imap_compared} of {t.imap_total} "
                 f"(IMAP) and {t.pop3_compared} of {t.pop3_total} (POP3)")
    return head


def keep_lines(keep: KeepDryRun | None) -> list[str]:
    """The keep-on-server dry run as plain lines (indented lines belong to the one above)."""
    if keep is None:
        return ["not run"]
    lines = [f"policy: {_safe(keep.policy)}; judged against {_safe(keep.store)}"]
    if keep.error:
        return lines + [f"failed: {_safe(keep.error, 500)}"]
    lines.append(f"{keep.count} on the server; a sync would download {keep.would_download}, delete "
                 f"{len(keep.would_delete)} now" + (f" and {keep.delete_after_download} more once downloaded"
                                                   if keep.delete_after_download else ""))
    for item in keep.would_delete:
        lines.append(f"  would delete #{item.number} {_safe(item.key, 80)} {human_size(item.size)} "
                     f"{_safe(item.subject, 60)} ({_safe(item.reason, 120)})")
    for item in keep.skipped:
        lines.append(f"  skipped #{item.number} {_safe(item.key, 80)} ({_safe(item.reason, 160)})")
    return lines + [f"  note: {_safe(n, 500)}" for n in keep.notes]


# Markdown ------------------------------------------------------------------------------------

_MD_SPECIAL = set("\\`*_[]<>|&~")  # emphasis, code, links, HTML, entities, cells, strikethrough


def md(value: object, limit: int = 2000) -> str:
    """Text as one Markdown table cell: one line, controls gone, punctuation escaped."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in _safe(value, limit))


def _md_row(cells: list[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [_md_row(head), "|" + "---|" * len(head)] + [_md_row(row) for row in rows]


def report_markdown(report: CompareReport) -> str:
    out = [f"# tuimail compare: {md(report.account)} {md('<' + report.email + '>') if report.email else ''}".rstrip(),
           "",
           f"Run {report.started.strftime('%Y-%m-%d %H:%M:%S %Z').strip()}, {report.seconds:.2f} s. "
           + ("Experiments run (`--experiment`)." if report.experiment
              else "Experiments not run (they need `--experiment`); nothing on the server was changed."),
           "", "## Summary", ""]
    out += [f"- {md(line)}" for line in report.summary] + [""]
    out += ["## Connection", ""]
    out += _md_table(["", "IMAP", "POP3"], [[md(a), md(b), md(c)] for a, b, c in connection_rows(report)])
    out += ["", "## What each sees", ""]
    out += _md_table(["", "IMAP", "POP3"], [[md(a.strip()), md(b), md(c)] for a, b, c in sees_rows(report)])
    out += ["", "## Match table", "", md(table_heading(report)), ""]
    out += _md_table(["where", "matched by", "Message-ID or key", "subject", "date", "size", "IMAP UID",
                      "POP3 #", "UIDL"],
                     [[r.where, r.matched_by, md(r.key, 200), md(r.subject, 120), _date(r.date),
                       str(r.size) if r.sizes_agree is not False else f"{r.imap_size} / {r.pop3_size}",
                       "" if r.imap_uid is None else f"{r.imap_uid} (UIDVALIDITY {r.uidvalidity})",
                       "" if r.pop3_number is None else str(r.pop3_number), md(r.uidl or "", 80)]
                      for r in report.matches.rows])
    out += ["", "## Costs (measured in this run)", ""]
    rows = []
    for cost in report.costs:
        rows.append([md(cost.title), md(cost_text(cost.imap)), md(cost_text(cost.pop3)), md(cost.note, 500)])
        rows.append(["  commands", md(_commands(cost.imap), 1000), md(_commands(cost.pop3), 1000), ""])
    out += _md_table(["task", "IMAP", "POP3", "what"], rows)
    out += ["", "## Semantics (observed on this server)", ""]
    out += _md_table(["question", "answer", "evidence"],
                     [[md(c.question), md(c.answer_text), md("; ".join(c.evidence), 2000)] for c in report.checks])
    out += ["", "## Keep-on-server policy (dry run)", ""]
    out += [f"- {md(line.strip())}" for line in keep_lines(report.keep)]
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {md(n, 1000)}" for n in report.notes]
    return "\n".join(out) + "\n"


def _commands(cost: Cost | None) -> str:
    return ", ".join(cost.commands) if cost is not None else ""


# Plain text ------------------------------------------------------------------------------------

def side_by_side(rows: list[tuple[str, str, str]], width: int = 120, label: int = 18) -> list[str]:
    """Label, IMAP and POP3 columns; long cells wrap within their column."""
    column = max(20, (width - label - 3) // 2)
    lines = []
    for name, left, right in rows:
        a = textwrap.wrap(left, column) or [""]
        b = textwrap.wrap(right, column) or [""]
        for i in range(max(len(a), len(b))):
            first = name if i == 0 else ""
            lines.append(f"{first:<{label}.{label}} {a[i] if i < len(a) else '':<{column}} | "
                         f"{b[i] if i < len(b) else ''}".rstrip())
    return lines


def text_lines(report: CompareReport, rows: int = TEXT_ROWS, width: int = 120) -> list[str]:
    """The report for a terminal: plain lines, every server string made safe."""
    label = 18
    lines = [one_line(f"tuimail compare: account {report.account}" + (f" <{report.email}>" if report.email else ""), 500),
             f"run {report.started.strftime('%Y-%m-%d %H:%M:%S %Z').strip()}, {report.seconds:.2f} s; "
             + ("experiments run (--experiment)" if report.experiment
                else "experiments not run: nothing on the server was changed"),
             ""]
    lines += side_by_side([("", "IMAP", "POP3")], width, label)
    lines += side_by_side([(a, b, c) for a, b, c in connection_rows(report)], width, label)
    lines += [""] + side_by_side([(a, b, c) for a, b, c in sees_rows(report)], width, label)
    lines += ["", "match table: " + table_heading(report)]
    lines += match_lines(report.matches.rows, rows)
    lines += ["", "costs (measured in this run; bytes after TLS)"]
    for cost in report.costs:
        lines += side_by_side([(cost.title, cost_text(cost.imap), cost_text(cost.pop3)),
                               ("  commands", _commands(cost.imap), _commands(cost.pop3))]
                              + ([("  what", _safe(cost.note, 500), "")] if cost.note else []), width, label)
    lines += ["", "semantics (observed on this server)"]
    for check in report.checks:
        lines.append(f"  {check.question}  {_safe(check.answer_text, 300)}")
        lines += [f"      {_safe(e, 500)}" for e in check.evidence]
    lines += ["", "keep-on-server policy (dry run)"] + [f"  {line}" for line in keep_lines(report.keep)]
    lines += ["", "summary"] + [f"  - {_safe(s, 1000)}" for s in report.summary]
    if report.notes:
        lines += ["", "notes"] + [f"  - {_safe(n, 1000)}" for n in report.notes]
    return lines


def _key_text(row: MatchRow) -> str:
    if row.matched_by == BY_SIZE_DATE or not row.key or row.key.startswith("("):
        return row.key
    return f"<{row.key}>"


def match_lines(all_rows: tuple[MatchRow, ...], limit: int) -> list[str]:
    """One-sided rows first (the interesting ones), then the newest matched ones."""
    odd = [r for r in all_rows if r.where != BOTH]
    shown = (odd + [r for r in all_rows if r.where == BOTH])[:max(limit, 0)]
    lines = [f"  {'where':<9} {'by':<10} {'UID':>7} {'POP3 #':>6} {'size':>9}  {'date':<16}  "
             f"{'UIDL':<18} subject / Message-ID"]
    for r in shown:
        uid = "" if r.imap_uid is None else str(r.imap_uid)
        number = "" if r.pop3_number is None else str(r.pop3_number)
        size = human_size(r.size) if r.sizes_agree is not False else f"{r.imap_size}/{r.pop3_size}"
        lines.append(f"  {r.where:<9} {r.matched_by:<10} {uid:>7} {number:>6} {size:>9}  {_date(r.date):<16}  "
                     f"{_safe(r.uidl or '', 18):<18} {_safe(r.subject, 50)} {_safe(_key_text(r), 80)}")
    if len(all_rows) > len(shown):
        lines.append(f"  ... {len(all_rows) - len(shown)} more row(s) not shown "
                     f"(--json or --markdown FILE lists all {len(all_rows)})")
    return lines
