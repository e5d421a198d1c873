"""`tuimail compare`: one account through IMAP and POP3 side by side, measured on the live server.

Blocking (the TUI runs it in a worker thread). Every number comes from the sessions' protocol
traces (plaintext bytes after TLS, round trips) and time.monotonic() around the step.

A plain run changes nothing on the server:
- IMAP opens the INBOX with EXAMINE and fetches bodies with BODY.PEEK; it never STOREs.
- POP3 never sends DELE. Dovecot marks a message RETRieved in a POP3 session \\Seen when that
  session ends, with QUIT and also when the connection just drops; RSET forgets those marks
  (checked by tests/test_compare.py). So the "open one message" RETR is followed at once by
  RSET, and it goes to the newest message already marked \\Seen when one of the newest is
  (then even a connection lost between RETR and RSET changes nothing); otherwise to the
  newest, protected by the RSET alone. After the run the message's IMAP flags are read
  again and the report says whether they are unchanged.
- The keep-on-server dry run is `pop3 sync --dry-run`: no DELE.
The state-changing semantics checks run only with --experiment, on a message they APPEND
themselves (compare_experiment.py).

on_step(phase, name) is called with "start" and "end" around each measured step ("imap.login",
"pop3.list_newest", ...), so a caller (the tests' byte-counting proxy) can take its own
figures over exactly the same span.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, Iterator

from tuimail.model.compare import (BOTH, LIST_NEWEST, LOGIN, OPEN_ONE, CompareOptions, CompareReport, Cost,
                                   CostComparison, FolderCount, ImapItem, ImapView, KeepDryRun, MatchTable,
                                   Pop3Item, Pop3View, SemanticsCheck, QUESTIONS, keep_within, match_messages,
                                   summary_lines)
from tuimail.model.config import Account, Protocol
from tuimail.model.index import Window
from tuimail.model.mime import human_size
from tuimail.model.pop3 import show_key, summary_from_header
from tuimail.model.secret import Secret
from tuimail.model.summary import MessageSummary
from tuimail.model.text import one_line
from tuimail.protocols.errors import MailError
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.pop3 import Pop3Session, WindowEntry
from tuimail.protocols.trace import ProtocolTrace, connection_trace
from tuimail.store.compare_facts import (CommandRecorder, connection_facts, doctor_reports, keep_dry_run,
                                         login_command)
from tuimail.store.message_view import read_message
from tuimail.store.pop3_sync import retr_cap

StepHook = Callable[[str, str], None]
CHUNK = 1_000  # messages per FETCH / pipelined window when gathering
MAX_FOLDERS = 500  # folders counted with STATUS


def new_trace(protocol: str, account: Account, purpose: str) -> ProtocolTrace:
    """The connection's trace: the run's trace book's (--trace) when one records, else our own."""
    return connection_trace(protocol, account.name, purpose) or ProtocolTrace(protocol, capacity=2_000)


class _Side:
    """One protocol's session: its trace (made when the connection opens) and the recorder of
    its commands, and the seconds of each phase of its opening."""

    def __init__(self, protocol: str, account: Account, purpose: str):
        self.protocol, self.account, self.purpose = protocol, account, purpose
        self.trace: ProtocolTrace | None = None
        self.recorder: CommandRecorder | None = None
        self.phases: dict[str, float] = {}

    def open_trace(self) -> ProtocolTrace:
        self.trace = new_trace(self.protocol, self.account, self.purpose)
        self.recorder = CommandRecorder(self.trace)
        return self.trace

    def phase(self, name: str, seconds: float, error) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds


class CompareRun:
    """The steps of a compare, callable one by one (the tests do) or all at once (run())."""

    def __init__(self, account: Account, password: Secret, options: CompareOptions = CompareOptions(),
                 on_step: StepHook | None = None, clock: Callable[[], float] = time.time):
        for protocol in (Protocol.IMAP, Protocol.POP3):
            if account.server(protocol) is None:
                raise MailError(f"account '{account.name}' has no [accounts.{account.name}.{protocol.value}] "
                                f"server; compare needs both IMAP and POP3")
        self.account, self.password, self.options = account, password, options
        self.on_step, self.clock = on_step, clock
        self.started = datetime.now(timezone.utc)
        self._t0 = time.monotonic()
        self.imap_side = _Side("imap", account, "compare")
        self.pop3_side = _Side("pop3", account, "compare")
        self.imap: ImapSession | None = None
        self.pop3: Pop3Session | None = None
        self.imap_tls = self.pop3_tls = None  # as the sessions saw it (read before they close)
        self.imap_caps: tuple[str, ...] = ()
        self.costs: dict[str, dict[str, Cost]] = {}
        self.notes: list[str] = []
        self.doctor: dict = {}
        self.imap_view = ImapView()
        self.pop3_view = Pop3View()
        self.newest_imap: dict[int, MessageSummary] = {}  # seq -> row, from the listing step
        self.newest_pop3: dict[int, WindowEntry] = {}
        self.opened: tuple[MessageSummary, int, int] | None = None  # summary, POP3 number, POP3 size
        self.open_note = ""
        self.matches = MatchTable(limit=options.limit)
        self.keep: KeepDryRun | None = None
        self.checks: tuple[SemanticsCheck, ...] = tuple(SemanticsCheck.not_run(c) for c in QUESTIONS)

    # Measuring ---------------------------------------------------------------------------------

    def _measure(self, side: _Side, task: str, action: Callable[[], object]) -> object:
        name = f"{side.protocol}.{task}"
        if self.on_step:
            self.on_step("start", name)
        side.recorder.start()
        before, start = side.trace.counters(), time.monotonic()
        try:
            result = action()
        finally:
            seconds, spent = time.monotonic() - start, side.trace.counters() - before
            commands = side.recorder.stop()
        self.costs.setdefault(task, {})[side.protocol] = Cost(spent.bytes_in, spent.bytes_out,
                                                              spent.round_trips, seconds, commands)
        if self.on_step:
            self.on_step("end", name)
        return result

    # Steps --------------------------------------------------------------------------------------

    def connect(self) -> None:
        """The doctor's look at both servers, then one logged-in session each (measured)."""
        self.doctor = doctor_reports(self.account, self.password, self.options.timeout)
        imap, pop3 = self.imap_side, self.pop3_side
        imap.open_trace()
        self.imap = self._measure(imap, LOGIN, lambda: ImapSession.connect(
            self.account, self.password, timeout=self.options.timeout, on_step=imap.phase, trace=imap.trace))
        self.imap_tls, self.imap_caps = self.imap.tls, self.imap.capabilities()
        pop3.open_trace()
        self.pop3 = self._measure(pop3, LOGIN, lambda: Pop3Session.connect(
            self.account, self.password, trace=pop3.trace, timeout=self.options.timeout, on_step=pop3.phase))
        self.pop3_tls = self.pop3.tls

    def folders(self) -> None:
        """IMAP LIST, and STATUS of every selectable folder (up to MAX_FOLDERS)."""
        listed = self.imap.list_folders()
        counts = []
        for folder in [f for f in listed if f.selectable][:MAX_FOLDERS]:
            try:
                status = self.imap.status(folder.name)
            except MailError as exc:
                if self.imap.broken is not None:
                    raise
                self.notes.append(f"STATUS {folder.display}: {exc.reason}")
                continue
            counts.append(FolderCount(folder.display, folder.role, status.messages, status.unseen))
        counts.sort(key=lambda f: f.name.upper() != "INBOX")  # INBOX first, the rest as listed
        self.imap_view = replace(self.imap_view, folders=tuple(counts), folders_total=len(listed))

    def list_newest(self) -> None:
        """What each index does to show the newest headers: EXAMINE + one FETCH of ENVELOPE and
        the rest; STAT + UIDL n, LIST n, TOP n 0 for each (pipelined)."""
        n = self.options.list_count

        def imap() -> None:
            selected = self.imap.select("INBOX", readonly=True)
            self.imap_view = replace(self.imap_view, inbox_exists=selected.exists,
                                     uidvalidity=selected.uidvalidity, uidnext=selected.uidnext)
            if selected.exists:
                self.newest_imap = self.imap.fetch_window(Window(max(1, selected.exists - n + 1), selected.exists))

        def pop3() -> None:
            count, octets = self.pop3.stat()
            self.pop3_view = Pop3View(count, octets, self.pop3.has_uidl)
            if count:
                self.newest_pop3 = self.pop3.window(range(max(1, count - n + 1), count + 1))

        self._measure(self.imap_side, LIST_NEWEST, imap)
        self._measure(self.pop3_side, LIST_NEWEST, pop3)

    def open_one(self) -> None:
        """Open one message that both sides list: IMAP the way the reader does (the shown part,
        BODY.PEEK), POP3 with RETR of the whole message, then RSET (see the module docstring)."""
        chosen = self._choose()
        if chosen is None:
            self.open_note = "no message is listed by both protocols among the newest; nothing opened"
            return
        summary, number, size = chosen
        view = self._measure(self.imap_side, OPEN_ONE, lambda: read_message(self.imap, summary))
        try:
            self._measure(self.pop3_side, OPEN_ONE, lambda: self.pop3.retr(
                number, lambda chunk: None, retr_cap(size, self.pop3.limits.max_message)))
        finally:
            if self.pop3.broken is None:
                self.pop3.rset()  # Dovecot forgets the \Seen this RETR would set at the end of the session
        self.opened = chosen
        part = view.part
        shown = (f"IMAP fetched part {part.part_id} ({part.content_type}, {human_size(part.size)})"
                 if part is not None else "IMAP fetched no part (nothing to display)")
        self.open_note = (f"UID {summary.uid} = POP3 #{number}, a {human_size(size)} message "
                          f"{'already read' if summary.seen else 'not read'}: {shown}; POP3 RETR sent all of it, "
                          f"then RSET so the server does not mark it read")

    def _choose(self) -> tuple[MessageSummary, int, int] | None:
        uidvalidity = self.imap_view.uidvalidity
        by_uid = {s.uid: s for s in self.newest_imap.values()}
        rows = match_messages(_imap_items(self.newest_imap.values()), _pop3_items(self.newest_pop3.values()),
                              uidvalidity)
        both = [(by_uid[r.imap_uid], r.pop3_number, r.pop3_size) for r in rows if r.where == BOTH]
        seen = [c for c in both if c[0].seen]
        return (seen or both or [None])[0]

    def gather(self) -> None:
        """The Message-ID, size and date of the newest --limit INBOX messages on each side (and
        a few older ones, so the edge pairs up), then the match table."""
        limit, margin = self.options.limit, self.options.margin
        exists, count = self.imap_view.inbox_exists, self.pop3_view.count
        imap_rows = dict(self.newest_imap)
        low = max(1, exists - limit - margin + 1)
        for hi in range(max(0, exists - self.options.list_count), low - 1, -CHUNK):
            imap_rows.update(self.imap.fetch_window(Window(max(low, hi - CHUNK + 1), hi)))
        pop3_rows = dict(self.newest_pop3)  # POP3 numbers: the same order as IMAP's sequence
        first = max(1, count - limit - margin + 1)
        missing = [n for n in range(first, count + 1) if n not in pop3_rows]
        for start in range(0, len(missing), CHUNK):
            pop3_rows.update(self.pop3.window(missing[start:start + CHUNK]))
        imap_keep = {s.uid for seq, s in imap_rows.items() if seq > exists - limit}
        pop3_keep = {n for n in pop3_rows if n > count - limit}
        rows = match_messages(_imap_items(imap_rows.values()), _pop3_items(pop3_rows.values()),
                              self.imap_view.uidvalidity)
        self.matches = MatchTable(keep_within(rows, imap_keep, pop3_keep), exists, count,
                                  min(exists, limit), min(count, limit), limit)
        if self.matches.capped:
            self.notes.append(f"compared the newest {limit} messages of each side (--limit): "
                              f"{self.matches.imap_compared} of {exists} in IMAP INBOX, "
                              f"{self.matches.pop3_compared} of {count} in POP3")

    def keep_policy(self) -> None:
        """The POP3 sync's dry run; it ends the POP3 session with QUIT (after the RSET above)."""
        self.keep = keep_dry_run(self.account, self.pop3, self.clock)

    def verify_untouched(self) -> None:
        """Read the opened message's IMAP flags again: a plain run must not have changed them."""
        if self.opened is None or self.imap is None or self.imap.broken is not None:
            return
        summary = self.opened[0]
        try:
            changes, _ = self.imap.uid_flags(str(summary.uid))
        except MailError as exc:
            self.notes.append(f"could not read UID {summary.uid}'s flags again after the run: {exc}")
            return
        now = changes.get(summary.uid)
        before, after = _shown_flags(summary.flags), _shown_flags(now.flags) if now else None
        if after is None:
            self.notes.append(f"UID {summary.uid}, opened over POP3, was gone from IMAP after the run "
                              f"(deleted by someone else meanwhile?)")
        elif after == before:
            self.notes.append(f"checked: UID {summary.uid}, opened over POP3 (RETR, then RSET), still has "
                              f"the flags it had before: ({before})")
        else:
            self.notes.append(f"warning: UID {summary.uid} had flags ({before}) before the run and ({after}) "
                              f"after it: changed by another client meanwhile, or the server ignored RSET")

    def experiments(self) -> None:
        from tuimail.store.compare_experiment import run_experiments  # only with --experiment

        checks, notes = run_experiments(self.account, self.password, self.options.timeout, self.on_step)
        self.checks = checks
        self.notes += notes

    def close(self) -> None:
        if self.pop3 is not None:
            self.pop3.close()  # no QUIT: after a failure, nothing of this session is committed
        if self.imap is not None:
            self.imap.close()

    # The report ---------------------------------------------------------------------------------

    def run(self) -> CompareReport:
        try:
            self.connect()
            self.folders()
            self.list_newest()
            self.open_one()
            self.gather()
            self.keep_policy()
            self.verify_untouched()
        finally:
            self.close()
        if self.options.experiment:
            self.experiments()
        return self.report()

    def report(self) -> CompareReport:
        imap_login = self.costs.get(LOGIN, {}).get("imap")
        pop3_login = self.costs.get(LOGIN, {}).get("pop3")
        doctor = self.doctor
        imap = connection_facts("imap", self.account, doctor.get("imap"), self.imap_tls, self.imap_side.phases,
                                login_command(imap_login.commands) if imap_login else "", self.imap_caps)
        pop3 = connection_facts("pop3", self.account, doctor.get("pop3"), self.pop3_tls, self.pop3_side.phases,
                                login_command(pop3_login.commands) if pop3_login else "")
        n = self.options.list_count
        costs = (
            CostComparison(LOGIN, "log in", imap_login, pop3_login,
                           "greeting, capabilities and authentication after TLS (the handshake is not counted)"),
            CostComparison(LIST_NEWEST, f"list the newest {n} headers", *self._pair(LIST_NEWEST),
                           f"what each index sends to show the newest {n} messages"),
            CostComparison(OPEN_ONE, "open one message", *self._pair(OPEN_ONE), self.open_note),
        )
        report = CompareReport(
            account=self.account.name, email=self.account.email, started=self.started,
            seconds=time.monotonic() - self._t0, imap=imap, pop3=pop3, imap_view=self.imap_view,
            pop3_view=replace(self.pop3_view, notes=tuple(self.pop3.problems) if self.pop3 else ()),
            matches=self.matches, costs=costs, checks=self.checks, keep=self.keep,
            experiment=self.options.experiment, notes=tuple(self.notes))
        return replace(report, summary=summary_lines(report))

    def _pair(self, task: str) -> tuple[Cost | None, Cost | None]:
        found = self.costs.get(task, {})
        return found.get("imap"), found.get("pop3")


def run_compare(account: Account, password: Secret, options: CompareOptions = CompareOptions(),
                on_step: StepHook | None = None) -> CompareReport:
    return CompareRun(account, password, options, on_step).run()


# Items for the matcher ------------------------------------------------------------------------

def _imap_items(rows) -> list[ImapItem]:
    return [ImapItem(s.uid, s.message_id, s.size, s.date, s.internal_date, one_line(s.subject, 200), s.flags)
            for s in rows]


def _pop3_items(entries: Iterator[WindowEntry]) -> list[Pop3Item]:
    items = []
    for entry in entries:
        uidl = show_key(entry.uidl.decode("latin-1")) if entry.uidl is not None else None
        if entry.header is not None:
            parsed = summary_from_header(0, entry.header, entry.size or 0)
            items.append(Pop3Item(entry.number, uidl, parsed.message_id, entry.size or 0, parsed.date,
                                  one_line(parsed.subject, 200)))
        else:
            items.append(Pop3Item(entry.number, uidl, "", entry.size or 0, headers=False))
    return items


def _shown_flags(flags) -> str:
    return " ".join(sorted(f for f in flags if f.lower() != "\\recent"))

