"""The `tuimail compare` report: one account seen through IMAP and POP3 side by side.

Pure data (frozen dataclasses, no I/O): the engine (store/compare_run.py) fills it from what it
measured, the CLI and the TUI render it (compare_render.py: text, JSON, Markdown). Strings in it
came from the network and are not yet safe to show: renderers pass them through
model.text.one_line / strip_controls.

Matching (match_messages) is pure too. Messages are paired:
1. by Message-ID, normalised: all whitespace removed (a folded header) and one pair of
   enclosing angle brackets stripped, case kept ("<A@x> " and "A@x" are the same id, "a@x" is
   not: the local part is case-sensitive). Duplicates pair up in mailbox order.
2. what is left, by size and Date header: the POP3 LIST size against IMAP RFC822.SIZE (both
   count CRLF line ends on Dovecot; checked by the tests, not assumed), and the Date header
   compared as an instant (UTC). A message without a Date header cannot be matched this way,
   and neither can two messages that both have a Message-ID (they differ, or step 1 had
   paired them).
3. the rest is one-sided: only in IMAP INBOX, or only in the POP3 maildrop.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from tuimail.model.mime import human_size

SCHEMA = 1

BOTH, IMAP_ONLY, POP3_ONLY = "both", "imap-only", "pop3-only"
BY_MESSAGE_ID, BY_SIZE_DATE, UNMATCHED = "message-id", "size+date", "none"

NO_MESSAGE_ID, NO_HEADERS = "(no Message-ID)", "(no headers: the server refused TOP)"

OBSERVED, NOT_RUN, FAILED = "observed", "not run", "failed"
NOT_RUN_TEXT = "not run (needs --experiment)"

# The semantics checks, in report order.
RETR_SETS_SEEN = "pop3_retr_sets_seen"
FLAGS_VISIBLE = "imap_flags_visible_to_pop3"
DELE_REMOVES = "pop3_dele_removes_from_imap"
QUESTIONS = {
    RETR_SETS_SEEN: "Does a POP3 RETR (then QUIT) set \\Seen in IMAP?",
    FLAGS_VISIBLE: "Are IMAP flags visible to POP3?",
    DELE_REMOVES: "Does a POP3 DELE (then QUIT) remove the message from IMAP?",
}

LOGIN, LIST_NEWEST, OPEN_ONE = "login", "list_newest", "open_one"


# Connection --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TlsFacts:
    version: str  # "TLSv1.3"
    cipher: str
    bits: int | None
    subject: str  # "CN=mail.example.org"; "" when pinned
    issuer: str
    not_after: datetime | None
    sha256: str  # "AB:CD:..."
    verified_by: str  # "ca" or "pin"
    alt_names: tuple[str, ...] = ()
    days_left: int | None = None  # at the time of the run


@dataclass(frozen=True)
class ConnectionFacts:
    protocol: str  # "imap" | "pop3"
    host: str
    port: int
    security: str  # "tls" | "starttls" | "plain"
    tls: TlsFacts | None = None
    capabilities: tuple[str, ...] = ()  # as offered before login, over TLS (the doctor's view)
    capabilities_after_login: tuple[str, ...] = ()  # IMAP's CAPABILITY after login; () for POP3
    auth_mechanisms: tuple[str, ...] = ()
    login_command: str = ""  # how this run logged in: "LOGIN", "AUTH PLAIN", "USER/PASS"
    connect_seconds: float | None = None  # TCP, TLS and greeting, in the measured session
    login_seconds: float | None = None
    error: str | None = None  # the doctor's failure line, if a check failed


# What each sees ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FolderCount:
    name: str  # for display (decoded), not yet made safe
    role: str | None = None
    messages: int | None = None
    unseen: int | None = None


@dataclass(frozen=True)
class ImapView:
    folders: tuple[FolderCount, ...] = ()
    folders_total: int = 0  # listed, including those not counted (over the cap, \Noselect)
    inbox_exists: int = 0
    uidvalidity: int = 0
    uidnext: int = 0

    @property
    def messages(self) -> int:
        return sum(f.messages or 0 for f in self.folders)


@dataclass(frozen=True)
class Pop3View:
    count: int = 0  # STAT
    octets: int = 0
    uidl: bool = True  # the server offers UIDL
    notes: tuple[str, ...] = ()


# The match table -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ImapItem:
    uid: int
    message_id: str = ""
    size: int = 0  # RFC822.SIZE
    date: datetime | None = None  # the Date header (ENVELOPE)
    internal_date: datetime | None = None
    subject: str = ""
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Pop3Item:
    number: int
    uidl: str | None = None  # shown safely (show_key); None: no UIDL
    message_id: str = ""
    size: int = 0  # LIST
    date: datetime | None = None  # the Date header (TOP n 0)
    subject: str = ""
    headers: bool = True  # False: the server refused TOP n 0 (Dovecot: expunged since login)


@dataclass(frozen=True)
class MatchRow:
    where: str  # BOTH | IMAP_ONLY | POP3_ONLY
    matched_by: str  # BY_MESSAGE_ID | BY_SIZE_DATE | UNMATCHED
    key: str  # the normalised Message-ID, "size+date <size> <date>", NO_MESSAGE_ID or NO_HEADERS
    subject: str = ""
    date: datetime | None = None
    imap_uid: int | None = None
    uidvalidity: int | None = None
    imap_size: int | None = None
    pop3_number: int | None = None
    uidl: str | None = None
    pop3_size: int | None = None
    order: int = 0  # position in the mailbox (higher is newer); for sorting only

    @property
    def size(self) -> int:
        return self.imap_size if self.imap_size is not None else (self.pop3_size or 0)

    @property
    def sizes_agree(self) -> bool | None:
        if self.imap_size is None or self.pop3_size is None:
            return None
        return self.imap_size == self.pop3_size


@dataclass(frozen=True)
class MatchTable:
    rows: tuple[MatchRow, ...] = ()  # newest first
    imap_total: int = 0  # messages in IMAP INBOX
    pop3_total: int = 0  # messages in the POP3 maildrop
    imap_compared: int = 0
    pop3_compared: int = 0
    limit: int = 0

    @property
    def capped(self) -> bool:
        return self.imap_compared < self.imap_total or self.pop3_compared < self.pop3_total

    def count(self, where: str | None = None, matched_by: str | None = None) -> int:
        return sum(1 for r in self.rows if (where is None or r.where == where)
                   and (matched_by is None or r.matched_by == matched_by))

    @property
    def size_mismatches(self) -> int:
        return sum(1 for r in self.rows if r.sizes_agree is False)


# Costs, semantics, the keep policy ------------------------------------------------------------

@dataclass(frozen=True)
class Cost:
    bytes_in: int
    bytes_out: int
    round_trips: int
    seconds: float
    commands: tuple[str, ...] = ()  # what was sent, condensed ("TOP n 0 x50")


@dataclass(frozen=True)
class CostComparison:
    task: str  # LOGIN | LIST_NEWEST | OPEN_ONE
    title: str  # "list the newest 50 headers"
    imap: Cost | None = None
    pop3: Cost | None = None
    note: str = ""  # what was measured, or why it was not


@dataclass(frozen=True)
class SemanticsCheck:
    id: str
    question: str
    status: str  # OBSERVED | NOT_RUN | FAILED
    answer: bool | None = None  # None unless observed
    answer_text: str = NOT_RUN_TEXT
    evidence: tuple[str, ...] = ()

    @classmethod
    def not_run(cls, check_id: str) -> "SemanticsCheck":
        return cls(check_id, QUESTIONS[check_id], NOT_RUN)


@dataclass(frozen=True)
class KeepItem:
    number: int
    key: str  # the UIDL (or fallback key), shown safely
    size: int
    subject: str = ""
    reason: str = ""


@dataclass(frozen=True)
class KeepDryRun:
    policy: str  # KeepPolicy.describe()
    store: str  # which local state the dry run judged against
    count: int = 0
    would_download: int = 0
    would_delete: tuple[KeepItem, ...] = ()  # now, with the local copies as they are
    delete_after_download: int = 0  # more that a real sync would delete once it has them
    skipped: tuple[KeepItem, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class CompareReport:
    account: str
    email: str
    started: datetime
    seconds: float
    imap: ConnectionFacts
    pop3: ConnectionFacts
    imap_view: ImapView
    pop3_view: Pop3View
    matches: MatchTable
    costs: tuple[CostComparison, ...] = ()
    checks: tuple[SemanticsCheck, ...] = ()
    keep: KeepDryRun | None = None
    experiment: bool = False
    summary: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    schema: int = SCHEMA

    def cost(self, task: str) -> CostComparison | None:
        return next((c for c in self.costs if c.task == task), None)

    def check(self, check_id: str) -> SemanticsCheck | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_json(self) -> dict:
        from tuimail.model.compare_render import report_json

        return report_json(self)

    def to_markdown(self) -> str:
        from tuimail.model.compare_render import report_markdown

        return report_markdown(self)


# Matching ------------------------------------------------------------------------------------

def normalise_message_id(value: str | None) -> str:
    """A Message-ID for comparing: whitespace removed, one pair of enclosing <> stripped."""
    text = "".join((value or "").split())
    if len(text) >= 2 and text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def size_date_key(size: int, date: datetime | None) -> str | None:
    """The fallback key, or None without a Date header (then size alone would be a guess)."""
    instant = _instant(date)
    return None if instant is None else f"size+date {size} {instant}"


def match_messages(imap: Iterable[ImapItem], pop3: Iterable[Pop3Item],
                   uidvalidity: int | None = None) -> tuple[MatchRow, ...]:
    """Pair IMAP INBOX items with POP3 items (see the module's docstring); newest first.
    IMAP items are taken in UID order, POP3 items in number order: both the mailbox's order."""
    imap_items = sorted(imap, key=lambda i: i.uid)
    pop3_items = sorted(pop3, key=lambda p: p.number)
    imap_pos = {item.uid: n for n, item in enumerate(imap_items, 1)}
    pop3_pos = {item.number: n for n, item in enumerate(pop3_items, 1)}
    rows: list[MatchRow] = []
    imap_left, pop3_left = _pair(imap_items, pop3_items, lambda i: normalise_message_id(i.message_id) or None,
                                 BY_MESSAGE_ID, rows, uidvalidity, imap_pos)
    # Two messages whose Message-IDs differ are different messages, whatever their size and Date.
    imap_left, pop3_left = _pair(imap_left, pop3_left, lambda i: size_date_key(i.size, i.date),
                                 BY_SIZE_DATE, rows, uidvalidity, imap_pos,
                                 lambda a, b: not (normalise_message_id(a.message_id)
                                                   and normalise_message_id(b.message_id)))
    for item in imap_left:
        rows.append(_row(IMAP_ONLY, UNMATCHED, item, None, uidvalidity, imap_pos[item.uid]))
    for item in pop3_left:
        rows.append(_row(POP3_ONLY, UNMATCHED, None, item, uidvalidity, pop3_pos[item.number]))
    rows.sort(key=lambda r: (r.order, r.imap_uid or 0, r.pop3_number or 0), reverse=True)
    return tuple(rows)


def _pair(imap_items: list[ImapItem], pop3_items: list[Pop3Item], key_of, method: str,
          rows: list[MatchRow], uidvalidity: int | None, imap_pos: dict[int, int],
          compatible=lambda imap, pop3: True):
    waiting: dict[str, list[Pop3Item]] = defaultdict(list)
    for item in pop3_items:
        key = key_of(item)
        if key is not None:
            waiting[key].append(item)
    paired: set[int] = set()
    imap_left: list[ImapItem] = []
    for item in imap_items:
        key = key_of(item)
        candidates = waiting.get(key, []) if key is not None else []
        other = next((c for c in candidates if compatible(item, c)), None)
        if other is not None:
            candidates.remove(other)
            paired.add(other.number)
            rows.append(_row(BOTH, method, item, other, uidvalidity, imap_pos[item.uid]))
        else:
            imap_left.append(item)
    return imap_left, [p for p in pop3_items if p.number not in paired]


def _row(where: str, method: str, imap: ImapItem | None, pop3: Pop3Item | None,
         uidvalidity: int | None, order: int) -> MatchRow:
    source = imap if imap is not None else pop3
    message_id = normalise_message_id(source.message_id)
    if method == BY_SIZE_DATE:
        key = size_date_key(source.size, source.date) or ""
    elif imap is None and not pop3.headers:
        key = NO_HEADERS
    else:
        key = message_id or NO_MESSAGE_ID
    return MatchRow(
        where=where, matched_by=method, key=key, subject=source.subject, date=source.date,
        imap_uid=imap.uid if imap else None, uidvalidity=uidvalidity if imap else None,
        imap_size=imap.size if imap else None, pop3_number=pop3.number if pop3 else None,
        uidl=pop3.uidl if pop3 else None, pop3_size=pop3.size if pop3 else None, order=order)


def keep_within(rows: Iterable[MatchRow], imap_uids: set[int], pop3_numbers: set[int]) -> tuple[MatchRow, ...]:
    """Rows with a side among the messages meant to be compared. The engine fetches a few
    older messages past --limit on each side so that a message at the edge finds its partner;
    rows made only of those extra messages are dropped here."""
    return tuple(r for r in rows if (r.imap_uid is not None and r.imap_uid in imap_uids)
                 or (r.pop3_number is not None and r.pop3_number in pop3_numbers))


# The plain-language summary ---------------------------------------------------------------

def summary_lines(report: CompareReport) -> tuple[str, ...]:
    """What the observations mean for this account, one sentence each. Nothing is claimed that
    this run did not observe: a check not run says nothing here."""
    lines: list[str] = []
    view, table = report.imap_view, report.matches
    lines.append(f"IMAP shows {len(view.folders)} folder(s) with {view.messages} message(s); POP3 shows "
                 f"only the INBOX: {report.pop3_view.count} message(s), with no folders.")
    both, imap_only, pop3_only = table.count(BOTH), table.count(where=IMAP_ONLY), table.count(where=POP3_ONLY)
    compared = f"of the newest {table.limit} " if table.capped else ""
    if imap_only == 0 and pop3_only == 0:
        lines.append(f"All {both} INBOX message(s) compared {compared}are the same messages on both "
                     f"sides; IMAP calls them UID n within UIDVALIDITY {view.uidvalidity}, POP3 by UIDL.")
    else:
        lines.append(f"{both} message(s) {compared}are on both sides; {imap_only} only in IMAP INBOX, "
                     f"{pop3_only} only in POP3.")
    by_date = table.count(BOTH, BY_SIZE_DATE)
    if by_date:
        lines.append(f"{by_date} message(s) without a usable Message-ID were matched by size and Date.")
    if table.size_mismatches:
        lines.append(f"{table.size_mismatches} matched message(s) have a different size in IMAP and POP3.")
    listing = report.cost(LIST_NEWEST)
    if listing and listing.imap and listing.pop3:
        lines.append(f"Listing the newest headers cost {_kb(listing.imap.bytes_in)} and "
                     f"{listing.imap.round_trips} round trip(s) over IMAP, {_kb(listing.pop3.bytes_in)} and "
                     f"{listing.pop3.round_trips} over POP3.")
    opening = report.cost(OPEN_ONE)
    if opening and opening.imap and opening.pop3:
        lines.append(f"Opening one message downloaded {_kb(opening.imap.bytes_in)} over IMAP (the part "
                     f"shown) against {_kb(opening.pop3.bytes_in)} over POP3 (the whole message).")
    lines += _check_lines(report)
    keep = report.keep
    if keep is not None and keep.error is None:
        now = len(keep.would_delete)
        later = keep.delete_after_download
        if now == 0 and later == 0:
            lines.append(f"With this account's POP3 policy ({keep.policy}), a sync would delete nothing "
                         f"on the server.")
        else:
            lines.append(f"With this account's POP3 policy ({keep.policy}), a sync would delete {now} "
                         f"message(s) on the server now" + (f" and {later} more once downloaded" if later else "")
                         + "; IMAP would no longer see them.")
    return tuple(lines)


def _check_lines(report: CompareReport) -> list[str]:
    lines = []
    seen = report.check(RETR_SETS_SEEN)
    if seen is not None and seen.status == OBSERVED:
        lines.append("Reading with POP3 on another device will mark messages read here." if seen.answer
                     else "Reading with POP3 on another device will not mark messages read here.")
    flags = report.check(FLAGS_VISIBLE)
    if flags is not None and flags.status == OBSERVED:
        lines.append("Flags set here (read, flagged, answered) were visible to POP3." if flags.answer
                     else "Flags set here (read, flagged, answered) are invisible to a POP3 client: "
                          "POP3 has no flags.")
    dele = report.check(DELE_REMOVES)
    if dele is not None and dele.status == OBSERVED:
        lines.append("A POP3 client that deletes from the server removes the message here too."
                     if dele.answer else "A POP3 client that deletes from the server does not remove the "
                                         "message here.")
    return lines


def _kb(octets: int) -> str:
    return human_size(octets)


@dataclass(frozen=True)
class CompareOptions:
    limit: int = 500  # newest INBOX messages compared on each side
    list_count: int = 50  # "list the newest N headers"
    experiment: bool = False
    timeout: float | None = None
    margin: int = 10  # extra older messages fetched past limit, to pair the edge
