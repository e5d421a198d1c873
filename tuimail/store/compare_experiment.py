"""`tuimail compare --experiment`: the semantics checks that change state, observed on the live
server with a message of their own.

The message is APPENDed to INBOX (no flags, a unique Message-ID <compare-HEX@tuimail.invalid>,
Subject "tuimail compare experiment HEX (safe to delete)") and found in POP3 by that
Message-ID (TOP n 0), never by number alone. Then, each in new POP3 sessions:
- flags: UIDL, size and header of the message in POP3, \\Flagged set over IMAP, the same
  again in a new POP3 session; POP3 has no command that shows a flag;
- RETR: its IMAP flags, RETR + QUIT over POP3, its IMAP flags again;
- DELE: DELE + QUIT over POP3, then whether IMAP still has the UID.
Whatever happens, the message is expunged over IMAP at the end (by its Message-ID: UID STORE
\\Deleted + UID EXPUNGE of exactly those UIDs), and the notes say whether it is gone.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timezone
from typing import Callable

from tuimail.model.compare import (DELE_REMOVES, FAILED, FLAGS_VISIBLE, OBSERVED, QUESTIONS, RETR_SETS_SEEN,
                                   SemanticsCheck, normalise_message_id)
from tuimail.model.config import Account
from tuimail.model.pop3 import header_message_id, show_key
from tuimail.model.secret import Secret
from tuimail.model.summary import FLAGGED, SEEN
from tuimail.protocols.errors import MailError
from tuimail.protocols.imap import ImapSession
from tuimail.protocols.pop3 import Pop3Session

LOOK_BACK = 20  # newest POP3 messages searched for the appended one


@dataclass(frozen=True)
class _Found:
    number: int
    uidl: str
    size: int
    header_sha: str

    def describe(self) -> str:
        return f"message {self.number}, UIDL {self.uidl}, {self.size} bytes, header SHA-256 {self.header_sha[:16]}"

    def same(self, other: "_Found") -> bool:
        return (self.uidl, self.size, self.header_sha) == (other.uidl, other.size, other.header_sha)


def experiment_message(token: str) -> tuple[str, bytes]:
    """(Message-ID, raw message) of the test message."""
    message_id = f"<compare-{token}@tuimail.invalid>"
    raw = (f"From: tuimail compare <compare@tuimail.invalid>\r\n"
           f"To: tuimail compare <compare@tuimail.invalid>\r\n"
           f"Subject: tuimail compare experiment {token} (safe to delete)\r\n"
           f"Date: {format_datetime(datetime.now(timezone.utc))}\r\n"
           f"Message-ID: {message_id}\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
           f"Appended by `tuimail compare --experiment` to see what POP3 does to IMAP state.\r\n"
           f"It removes this message again when it is done.\r\n").encode("ascii")
    return message_id, raw


class _Experiment:
    def __init__(self, account: Account, password: Secret, timeout: float | None,
                 on_step: Callable[[str, str], None] | None):
        from tuimail.store.compare_run import new_trace  # the same traces as the measured run

        self.account, self.password, self.timeout, self.on_step = account, password, timeout, on_step
        self.new_trace = new_trace
        self.token = uuid.uuid4().hex[:16]
        self.message_id, self.raw = experiment_message(self.token)
        self.imap: ImapSession | None = None
        self.uid: int | None = None
        self.notes: list[str] = []

    def _pop3(self) -> Pop3Session:
        return Pop3Session.connect(self.account, self.password, timeout=self.timeout,
                                   trace=self.new_trace("pop3", self.account, "compare experiment"))

    def _imap_session(self) -> ImapSession:
        return ImapSession.connect(self.account, self.password, timeout=self.timeout,
                                   trace=self.new_trace("imap", self.account, "compare experiment"))

    def _find(self, pop: Pop3Session) -> _Found:
        count, _ = pop.stat()
        numbers = list(range(count, max(0, count - LOOK_BACK), -1))
        entries = pop.window(numbers) if numbers else {}
        wanted = normalise_message_id(self.message_id)
        for n in numbers:
            entry = entries[n]
            if entry.header is not None and normalise_message_id(header_message_id(entry.header)) == wanted:
                uidl = show_key(entry.uidl.decode("latin-1")) if entry.uidl is not None else "(none)"
                return _Found(n, uidl, entry.size or 0, hashlib.sha256(entry.header).hexdigest())
        raise MailError(f"the test message {self.message_id} is not among the newest {len(numbers)} "
                        f"POP3 messages", pop.where)

    def _flags(self) -> frozenset[str] | None:
        """The test message's flags as IMAP sees them now; None when it is gone. SELECT again
        first: a session that has a folder open hears of another session's expunge only at
        its next NOOP-like command, and Dovecot answers a UID FETCH of the expunged message
        until then as if it were still there."""
        self.imap.select("INBOX")
        changes, _ = self.imap.uid_flags(str(self.uid))
        change = changes.get(self.uid)
        return None if change is None else frozenset(f for f in change.flags if f.lower() != "\\recent")

    def _check(self, check_id: str, body: Callable[[], SemanticsCheck]) -> SemanticsCheck:
        if self.on_step:
            self.on_step("start", f"experiment.{check_id}")
        try:
            result = body()
        except MailError as exc:
            result = SemanticsCheck(check_id, QUESTIONS[check_id], FAILED, None, f"failed: {exc}")
        if self.on_step:
            self.on_step("end", f"experiment.{check_id}")
        return result

    # The checks ------------------------------------------------------------------------------

    def flags_visible(self) -> SemanticsCheck:
        pop = self._pop3()
        try:
            before = self._find(pop)
        finally:
            pop.quit()
        now = self.imap.set_flags([self.uid], add=[FLAGGED]).get(self.uid, frozenset())
        pop = self._pop3()
        try:
            after = self._find(pop)
        finally:
            pop.quit()
        visible = not before.same(after)
        evidence = (f"POP3 before: {before.describe()}",
                    f"IMAP: UID STORE +FLAGS (\\Flagged) on UID {self.uid}; its flags now ({_flags(now)})",
                    f"POP3 after, in a new session: {after.describe()}",
                    "POP3 has no command that reports flags (RFC 1939): UIDL, size and content are all it shows")
        text = ("yes: what POP3 shows of the message changed after \\Flagged was set over IMAP" if visible
                else "no: POP3 has no flags (UIDL, size and headers unchanged after \\Flagged was set over IMAP)")
        return SemanticsCheck(FLAGS_VISIBLE, QUESTIONS[FLAGS_VISIBLE], OBSERVED, visible, text, evidence)

    def retr_sets_seen(self) -> SemanticsCheck:
        before = self._flags()
        if before is None:
            raise MailError(f"the test message (UID {self.uid}) is gone from IMAP")
        if SEEN in before:  # the question needs an unread message
            self.imap.set_flags([self.uid], remove=[SEEN])
            before = self._flags() or frozenset()
        pop = self._pop3()
        try:
            found = self._find(pop)
            size = pop.retr(found.number, lambda chunk: None)
        finally:
            quit_ok = pop.quit()
        after = self._flags()
        if after is None:
            raise MailError(f"the test message (UID {self.uid}) vanished from IMAP after RETR")
        seen = SEEN in after
        evidence = (f"IMAP before: UID {self.uid} flags ({_flags(before)})",
                    f"POP3: RETR {found.number} ({size} bytes), then QUIT "
                    f"({'+OK' if quit_ok else 'not answered +OK'})",
                    f"IMAP after: UID {self.uid} flags ({_flags(after)})")
        text = "yes: \\Seen was set by RETR + QUIT" if seen else "no: \\Seen was not set by RETR + QUIT"
        return SemanticsCheck(RETR_SETS_SEEN, QUESTIONS[RETR_SETS_SEEN], OBSERVED, seen, text, evidence)

    def dele_removes(self) -> SemanticsCheck:
        if self._flags() is None:
            raise MailError(f"the test message (UID {self.uid}) is gone from IMAP before DELE")
        pop = self._pop3()
        try:
            found = self._find(pop)
            accepted = pop.dele(found.number)
        finally:
            quit_ok = pop.quit()
        gone = self._flags() is None
        evidence = (f"IMAP before: UID {self.uid} present",
                    f"POP3: DELE {found.number} ({'+OK' if accepted else '-ERR'}), then QUIT "
                    f"({'+OK' if quit_ok else 'not answered +OK'})",
                    f"IMAP after: UID FETCH {self.uid} " + ("answered nothing: the message is expunged" if gone
                                                            else "still answers: the message is there"))
        text = ("yes: the message is gone from IMAP after DELE + QUIT" if gone
                else "no: the message is still in IMAP after DELE + QUIT")
        return SemanticsCheck(DELE_REMOVES, QUESTIONS[DELE_REMOVES], OBSERVED, gone, text, evidence)

    # Setting up and cleaning up -------------------------------------------------------------------

    def run(self) -> tuple[tuple[SemanticsCheck, ...], list[str]]:
        try:
            self.imap = self._imap_session()
            self.imap.select("INBOX")
            self.uid = self.imap.append("INBOX", self.raw, flags=())
            if self.uid is None:  # no UIDPLUS: look it up
                found = self.imap.find_message_id("INBOX", self.message_id)
                self.imap.select("INBOX")
                if len(found) != 1:
                    raise MailError(f"appended the test message but found {len(found)} copies of it")
                self.uid = found[0]
            self.notes.append(f"experiment: appended the test message {self.message_id} to INBOX as UID {self.uid}")
            flags = self._check(FLAGS_VISIBLE, self.flags_visible)
            retr = self._check(RETR_SETS_SEEN, self.retr_sets_seen)
            dele = self._check(DELE_REMOVES, self.dele_removes)
            return (retr, flags, dele), self.notes
        except MailError as exc:
            failed = SemanticsCheck
            checks = tuple(failed(c, QUESTIONS[c], FAILED, None, f"failed: {exc}") for c in QUESTIONS)
            return checks, self.notes
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Expunge every copy of the test message; say whether it is gone."""
        try:
            if self.imap is None or self.imap.broken is not None:
                if self.imap is not None:
                    self.imap.close()
                self.imap = self._imap_session()
            left = self.imap.find_message_id("INBOX", self.message_id)
            if left:
                self.imap.select("INBOX")
                self.imap.expunge(left)
                left = self.imap.find_message_id("INBOX", self.message_id)
            if left:
                self.notes.append(f"warning: the test message {self.message_id} is still in INBOX (UID "
                                  f"{', '.join(map(str, left))}); delete it by hand")
            else:
                self.notes.append(f"experiment: the test message {self.message_id} is gone from INBOX")
        except MailError as exc:
            self.notes.append(f"warning: could not remove the test message {self.message_id} "
                              f"(Subject: tuimail compare experiment {self.token}): {exc}")
        finally:
            if self.imap is not None:
                self.imap.close()


def run_experiments(account: Account, password: Secret, timeout: float | None,
                    on_step: Callable[[str, str], None] | None = None
                    ) -> tuple[tuple[SemanticsCheck, ...], list[str]]:
    """The three checks (in report order: RETR, flags, DELE) and notes about the test message."""
    return _Experiment(account, password, timeout, on_step).run()


def _flags(flags) -> str:
    return " ".join(sorted(flags)) if flags else ""
