"""Folder operations of ImapSession: SELECT with CONDSTORE/QRESYNC, windowed FETCH, resync,
search, flags, copy, move, delete. A mixin: it relies on ImapSession's _run/_absorb plumbing.

Every operation on UIDs may be given the UIDVALIDITY the caller's UIDs belong to; when the
selected folder's differs (or the folder was reset under us) it refuses rather than act on
other messages (SECURITY-CASES B17).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from imapclient import imap_utf7

from tuimail.model.index import Window
from tuimail.model.mailbox import FlagChange, FolderStatus, Resync, SelectedFolder
from tuimail.model.query import Query
from tuimail.model.summary import DELETED, MessageSummary
from tuimail.model.uidset import MAX_NUMBER, UidSet, imap_set, number
from tuimail.protocols import imap_responses as R
from tuimail.protocols.errors import ProtocolError
from tuimail.protocols.imap_parse import FETCH_ITEMS, summary

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession

ITEMS = "(" + " ".join(FETCH_ITEMS) + ")"
MAX_SEARCH_RESULTS = 1_000_000
_FLAG_CHARS = frozenset("\\$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:+!&'")


class StaleUids(ProtocolError):
    """The UIDs given belong to another UIDVALIDITY (or folder) than the one selected."""


def mailbox_arg(name: str) -> bytes:
    """A mailbox name as a command argument: quoted, modified UTF-7 when not ASCII."""
    if any(c in name for c in "\r\n\0"):
        raise ValueError("mailbox name with a line break or NUL")
    if not name.isascii():
        name = imap_utf7.encode(name).decode("ascii")
    return b'"' + name.replace("\\", "\\\\").replace('"', '\\"').encode("ascii") + b'"'


def flag_list(flags: Iterable[str]) -> str:
    checked = []
    for flag in flags:
        if not flag or len(flag) > 100 or not set(flag) <= _FLAG_CHARS or "\\" in flag[1:]:
            raise ValueError(f"not a storable flag: {flag!r}")
        if flag.lower() == "\\recent":
            raise ValueError("\\Recent cannot be stored")
        checked.append(flag)
    return "(" + " ".join(checked) + ")"


class FolderOps:
    # Selecting ------------------------------------------------------------------------

    @property
    def qresync(self: "ImapSession") -> bool:
        return self._qresync

    def _enable_qresync(self: "ImapSession") -> None:
        if self._qresync or self._client._imap.state != "AUTH":
            return
        if self.has_capability("QRESYNC") and self.has_capability("ENABLE"):
            _, _, responses = self._run("ENABLE", "QRESYNC")
            self._qresync = b"QRESYNC" in (R.last(responses, "ENABLED") or b"").upper().split()

    def select(self: "ImapSession", folder: str, readonly: bool = False) -> SelectedFolder:
        """SELECT (EXAMINE when readonly) with CONDSTORE when offered; the folder's state."""
        selected, _ = self._select(folder, readonly, None)
        return selected

    def select_qresync(self: "ImapSession", folder: str, uidvalidity: int, modseq: int,
                       known_uids: str | None = None, readonly: bool = False) -> Resync:
        """SELECT ... (QRESYNC (uidvalidity modseq [known])): state, VANISHED and changed flags.
        Without QRESYNC (or with a changed UIDVALIDITY) nothing is reported as changed."""
        self._enable_qresync()
        if not self._qresync or not uidvalidity or not modseq:
            return Resync(self.select(folder, readonly), UidSet(), {}, False)
        known = f" {known_uids}" if known_uids else ""
        selected, responses = self._select(folder, readonly, f"(QRESYNC ({uidvalidity} {modseq}{known}))")
        if selected.uidvalidity != uidvalidity:
            return Resync(selected, UidSet(), {}, True)
        try:
            vanished = R.vanished_earlier(responses)
            changed = _changes(R.fetches(responses))
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad QRESYNC answer: {exc}", self._where) from None
        return Resync(selected, vanished, changed, False)

    def _select(self: "ImapSession", folder: str, readonly: bool, param: str | None):
        self._enable_qresync()
        args: list = [mailbox_arg(folder)]
        if param:
            args.append(param)
        elif self.has_capability("CONDSTORE"):
            args.append("(CONDSTORE)")
        self.selected, self._exists = None, 0
        imap = self._client._imap
        imap.state = "AUTH"
        _, _, responses = self._run("EXAMINE" if readonly else "SELECT", *args, absorb=False)
        imap.state = "SELECTED"
        try:
            uidvalidity = R.last(responses, "UIDVALIDITY")
            if uidvalidity is None:
                raise ProtocolError(f"SELECT {folder!r}: the server gave no UIDVALIDITY", self._where)
            exists = R.last(responses, "EXISTS")
            uidnext = R.last(responses, "UIDNEXT")
            modseq = R.last(responses, "HIGHESTMODSEQ")
            unseen = R.last(responses, "UNSEEN")
            permanent = R.last(responses, "PERMANENTFLAGS") or b""
            selected = SelectedFolder(
                name=folder, exists=R.count(exists or b"0", "EXISTS"),
                uidvalidity=number(uidvalidity.strip(), "UIDVALIDITY"),
                uidnext=number(uidnext.strip(), "UIDNEXT") if uidnext else 0,
                highestmodseq=R.modseq(modseq.strip()) if modseq and not R.has(responses, "NOMODSEQ")
                and self.has_capability("CONDSTORE") else 0,
                readonly=readonly or R.has(responses, "READ-ONLY"),
                unseen=number(unseen.strip(), "UNSEEN") if unseen else None,
                permanent_flags=tuple(R.text(f, 100) for f in permanent.strip(b"()").split()[:100]))
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad SELECT answer: {exc}", self._where) from None
        self.selected, self._exists = selected, selected.exists
        self.take_events()
        return selected, responses

    def status(self: "ImapSession", folder: str) -> FolderStatus:
        items = "MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY"
        if self.has_capability("CONDSTORE"):
            items += " HIGHESTMODSEQ"
        _, _, responses = self._run("STATUS", mailbox_arg(folder), f"({items})")
        try:
            return R.status(folder, responses)
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad STATUS answer: {exc}", self._where) from None

    # Fetching headers -------------------------------------------------------------------

    def fetch_window(self: "ImapSession", window: Window) -> dict[int, MessageSummary]:
        """One FETCH lo:hi of the index items; seq -> summary (rows outside the folder dropped)."""
        lo, hi = max(window.seq_lo, 1), min(window.seq_hi, self._exists)
        if lo > hi:
            return {}
        _, _, responses = self._run("FETCH", f"{lo}:{hi}", ITEMS, absorb=False)
        return self._summaries(responses, lambda seq, uid: lo <= seq <= hi)

    def fetch_uids(self: "ImapSession", uids: Iterable[int], by_seq: bool = False) -> dict[int, MessageSummary]:
        """UID FETCH of the index items; uid -> summary (seq -> summary when by_seq)."""
        wanted = set(uids)
        if not wanted:
            return {}
        _, _, responses = self._run("UID", "FETCH", imap_set(wanted), ITEMS, absorb=False)
        rows = self._summaries(responses, lambda seq, uid: uid in wanted)
        return rows if by_seq else {s.uid: s for s in rows.values()}

    def fetch_seq_flags(self: "ImapSession", window: Window) -> dict[int, tuple[int, frozenset[str]]]:
        """FETCH lo:hi (UID FLAGS): seq -> (uid, flags); cheap, to map cached rows to a window."""
        lo, hi = max(window.seq_lo, 1), min(window.seq_hi, self._exists)
        if lo > hi:
            return {}
        _, _, responses = self._run("FETCH", f"{lo}:{hi}", "(UID FLAGS)", absorb=False)
        found: dict[int, tuple[int, frozenset[str]]] = {}
        for seq, data in self._fetches(responses).items():
            flags = R.flags_of(data)
            if lo <= seq <= hi and data.get(b"UID") and flags is not None:
                found[seq] = (data[b"UID"], flags)
        self._absorb(responses, found.keys())
        return found

    def changed_since(self: "ImapSession", modseq: int, uid_range: str = "1:*",
                      vanished: bool = False) -> tuple[dict[int, FlagChange], UidSet]:
        """UID FETCH uid_range (FLAGS) (CHANGEDSINCE modseq [VANISHED]): uid -> FlagChange for
        flags changed since modseq, and (with QRESYNC and vanished) the UIDs expunged since."""
        return self.uid_flags(uid_range, modseq, vanished)

    def uid_flags(self: "ImapSession", uid_range: str, changed_since: int | None = None,
                  vanished: bool = False) -> tuple[dict[int, FlagChange], UidSet]:
        """UID FETCH uid_range (UID FLAGS), optionally CHANGEDSINCE; see changed_since()."""
        UidSet.parse(uid_range, star=MAX_NUMBER)  # ours, but checked all the same
        modifier = []
        if changed_since:
            modifier = [f"(CHANGEDSINCE {changed_since}{' VANISHED' if vanished and self._qresync else ''})"]
        _, _, responses = self._run("UID", "FETCH", uid_range, "(UID FLAGS)", *modifier, absorb=False)
        try:
            answers = self._fetches(responses)
            gone = R.vanished_earlier(responses)
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad FETCH answer: {exc}", self._where) from None
        changes = _changes(answers)
        self._absorb(responses, answers.keys())
        return changes, gone

    def _fetches(self: "ImapSession", responses: R.Responses) -> dict[int, dict]:
        try:
            return R.fetches(responses)
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad FETCH answer: {exc}", self._where) from None

    def _summaries(self: "ImapSession", responses: R.Responses, wanted) -> dict[int, MessageSummary]:
        rows: dict[int, MessageSummary] = {}
        for seq, data in self._fetches(responses).items():
            uid = data.get(b"UID")
            if b"ENVELOPE" not in data or not wanted(seq, uid):
                continue  # unsolicited news about another message
            row = summary(uid, data, self.account.limits)
            if row is not None:
                rows[seq] = row
        self._absorb(responses, rows.keys())
        return rows

    # Counting and searching -------------------------------------------------------------

    def uid_count(self: "ImapSession", uid_lo: int, uid_hi: int = MAX_NUMBER) -> int:
        """How many messages have a UID in uid_lo..uid_hi (ESEARCH COUNT: a few bytes)."""
        return len(self.uid_set(uid_lo, uid_hi)) if not self.has_capability("ESEARCH") else \
            self._esearch(f"UID {uid_lo}:{uid_hi}", "COUNT").get("COUNT", 0)

    def uid_set(self: "ImapSession", uid_lo: int, uid_hi: int = MAX_NUMBER) -> UidSet:
        """The UIDs present in uid_lo..uid_hi, as compact ranges where ESEARCH allows."""
        if self.has_capability("ESEARCH"):
            return self._esearch(f"UID {uid_lo}:{uid_hi}", "ALL").get("ALL", UidSet())
        _, _, responses = self._run("UID", "SEARCH", f"UID {uid_lo}:{uid_hi}")
        return UidSet.of(self._checked(R.search, responses))

    def _esearch(self: "ImapSession", criteria: str, returns: str) -> dict:
        _, _, responses = self._run("UID", "SEARCH", f"RETURN ({returns})", criteria)
        return self._checked(R.esearch, responses)

    def _checked(self: "ImapSession", parse, responses):
        try:
            return parse(responses)
        except R.PARSE_ERRORS as exc:
            raise ProtocolError(f"bad SEARCH answer: {exc}", self._where) from None

    def unseen_count(self: "ImapSession") -> int:
        """How many messages of the selected folder lack \\Seen (ESEARCH COUNT where offered)."""
        if self.has_capability("ESEARCH"):
            return self._esearch("UNSEEN", "COUNT").get("COUNT", 0)
        _, _, responses = self._run("UID", "SEARCH", "UNSEEN")
        return len(self._checked(R.search, responses))

    def search(self: "ImapSession", query: Query | str, limit: int = MAX_SEARCH_RESULTS) -> list[int]:
        """Server-side search (FROM/TO/SUBJECT/TEXT..., UTF-8); matching UIDs, newest first."""
        query = query if isinstance(query, Query) else Query.parse(query)
        criteria = query.imap_criteria()
        charset = None if all(isinstance(c, str) and c.isascii() for c in criteria) else "UTF-8"
        found = self._call(self._client.search, criteria, charset)
        uids = sorted({u for u in found if isinstance(u, int) and 0 < u <= MAX_NUMBER}, reverse=True)
        return uids[:limit]

    # Changing ---------------------------------------------------------------------------

    def _check(self: "ImapSession", uidvalidity: int | None) -> SelectedFolder:
        if self.selected is None:
            raise StaleUids("no folder is selected (or its UIDVALIDITY changed)", self._where)
        if uidvalidity is not None and uidvalidity != self.selected.uidvalidity:
            raise StaleUids(f"folder {self.selected.name!r} was reset (UIDVALIDITY changed); "
                            "reload it before acting on messages", self._where)
        return self.selected

    def set_flags(self: "ImapSession", uids: Iterable[int], add: Iterable[str] = (),
                  remove: Iterable[str] = (), uidvalidity: int | None = None) -> dict[int, frozenset[str]]:
        """Add and remove flags; uid -> the flags the server now reports."""
        self._check(uidvalidity)
        uid_text = imap_set(uids)
        result: dict[int, frozenset[str]] = {}
        for sign, flags in (("+", list(add)), ("-", list(remove))):
            if not flags:
                continue
            _, _, responses = self._run("UID", "STORE", uid_text, f"{sign}FLAGS", flag_list(flags), absorb=False)
            answers = self._fetches(responses)
            for data in answers.values():
                flags_now = R.flags_of(data)
                if data.get(b"UID") and flags_now is not None:
                    result[data[b"UID"]] = flags_now
            self._absorb(responses, answers.keys())
        return result

    def copy(self: "ImapSession", uids: Iterable[int], dest: str,
             uidvalidity: int | None = None) -> dict[int, int]:
        """UID COPY; source uid -> new uid in dest when the server says (UIDPLUS)."""
        self._check(uidvalidity)
        _, _, responses = self._run("UID", "COPY", imap_set(uids), mailbox_arg(dest))
        return R.copyuid(responses)

    def move(self: "ImapSession", uids: Iterable[int], dest: str,
             uidvalidity: int | None = None) -> dict[int, int]:
        """MOVE when offered, else COPY + \\Deleted + UID EXPUNGE (which needs UIDPLUS)."""
        self._check(uidvalidity)
        uids = list(uids)
        if self.has_capability("MOVE"):
            _, _, responses = self._run("UID", "MOVE", imap_set(uids), mailbox_arg(dest))
            return R.copyuid(responses)
        if not self.has_capability("UIDPLUS"):
            raise ProtocolError("the server has neither MOVE nor UIDPLUS, so moving could expunge "
                                "other messages; not moving", self._where)
        mapping = self.copy(uids, dest, uidvalidity)
        self.expunge(uids, uidvalidity)
        return mapping

    def expunge(self: "ImapSession", uids: Iterable[int], uidvalidity: int | None = None) -> None:
        """\\Deleted + UID EXPUNGE of exactly these UIDs (never a bare EXPUNGE)."""
        self._check(uidvalidity)
        uids = list(uids)
        if not self.has_capability("UIDPLUS"):
            raise ProtocolError("the server lacks UIDPLUS, so an EXPUNGE could remove other "
                                "messages marked deleted; not expunging", self._where)
        self._run("UID", "STORE", imap_set(uids), "+FLAGS.SILENT", flag_list([DELETED]))
        self._run("UID", "EXPUNGE", imap_set(uids))

    def delete(self: "ImapSession", uids: Iterable[int], uidvalidity: int | None = None) -> str | None:
        """Move to the \\Trash folder; in Trash itself, or with no Trash, expunge. Returns the
        Trash folder's name, or None when the messages were expunged."""
        selected = self._check(uidvalidity)
        trash = self.folder_by_role("trash")
        if trash is not None and trash.name != selected.name:
            self.move(uids, trash.name, uidvalidity)
            return trash.name
        self.expunge(uids, uidvalidity)
        return None


def _changes(answers: dict[int, dict]) -> dict[int, FlagChange]:
    changes: dict[int, FlagChange] = {}
    for seq, data in answers.items():
        uid, flags = data.get(b"UID"), R.flags_of(data)
        if uid and flags is not None:
            mod = R.modseq(data[b"MODSEQ"]) if b"MODSEQ" in data else 0
            changes[uid] = FlagChange(uid, flags, mod, seq)
    return changes
