"""The lazy message index of one folder: rows newest first, filled in windows on demand.

Row r shows the message with sequence number count - r. Nothing here does I/O: the UI asks
which windows are missing, a worker fetches them, and apply() fills them in. Memory is bounded
by an LRU over loaded rows; an evicted row is simply missing again.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass

from tuimail.model.summary import MessageSummary

DEFAULT_CAPACITY = 20_000


@dataclass(frozen=True)
class Window:
    """A run of sequence numbers to fetch, inclusive, low to high."""
    seq_lo: int
    seq_hi: int

    def __len__(self) -> int:
        return self.seq_hi - self.seq_lo + 1

    def imap_set(self) -> str:
        return f"{self.seq_lo}:{self.seq_hi}"


class LazyIndex:
    def __init__(self, count: int = 0, capacity: int = DEFAULT_CAPACITY):
        self.count = max(count, 0)
        self.capacity = capacity
        self._rows: OrderedDict[int, MessageSummary] = OrderedDict()  # seq -> summary
        self._uid_seq: dict[int, int] = {}
        self._requested: set[int] = set()  # seqs asked for and not yet answered
        self.generation = 0  # bumped whenever sequence numbers shift

    # Reading -------------------------------------------------------------------------------

    def seq_of_row(self, row: int) -> int:
        return self.count - row

    def row_of_seq(self, seq: int) -> int:
        return self.count - seq

    def row(self, row: int) -> MessageSummary | None:
        """The summary shown at row, or None while it is not loaded. Never blocks."""
        seq = self.count - row
        summary = self._rows.get(seq)
        if summary is not None:
            self._rows.move_to_end(seq)
        return summary

    def decoration(self, row: int) -> str:
        """Drawn before the subject (thread glyphs); none in a folder's index."""
        return ""

    def row_of_uid(self, uid: int) -> int | None:
        seq = self._uid_seq.get(uid)
        return None if seq is None else self.count - seq

    def loaded(self) -> int:
        return len(self._rows)

    def missing(self, first_row: int, last_row: int, margin: int = 0, max_window: int = 200) -> list[Window]:
        """Windows of sequence numbers, newest first, covering rows not loaded nor requested
        between first_row - margin and last_row + margin. Marks them requested."""
        lo_row = max(first_row - margin, 0)
        hi_row = min(last_row + margin, self.count - 1)
        windows: list[Window] = []
        run: list[int] = []
        for row in range(lo_row, hi_row + 1):
            seq = self.count - row
            if seq in self._rows or seq in self._requested:
                if run:
                    windows.append(Window(run[-1], run[0]))
                    run = []
                continue
            run.append(seq)
            if len(run) >= max_window:
                windows.append(Window(run[-1], run[0]))
                run = []
        if run:
            windows.append(Window(run[-1], run[0]))
        for window in windows:
            self._requested.update(range(window.seq_lo, window.seq_hi + 1))
        return windows

    def forget_requests(self, window: Window) -> None:
        """A fetch failed: let the window be asked for again."""
        self._requested.difference_update(range(window.seq_lo, window.seq_hi + 1))

    # Writing -------------------------------------------------------------------------------

    def apply(self, rows: dict[int, MessageSummary], generation: int | None = None) -> bool:
        """Fill in seq -> summary. Answers to a request made before the sequence numbers shifted
        are dropped (they may describe other messages now). Returns whether anything changed."""
        if generation is not None and generation != self.generation:
            return False
        for seq, summary in rows.items():
            self._requested.discard(seq)
            if not 0 < seq <= self.count:
                continue
            old = self._rows.get(seq)
            if old is not None:
                self._uid_seq.pop(old.uid, None)
            self._rows[seq] = summary
            self._rows.move_to_end(seq)
            self._uid_seq[summary.uid] = seq
        while len(self._rows) > self.capacity:
            _, evicted = self._rows.popitem(last=False)
            self._uid_seq.pop(evicted.uid, None)
        return bool(rows)

    def update(self, summary: MessageSummary) -> int | None:
        """Replace a loaded message (new flags); returns its row or None if not loaded."""
        seq = self._uid_seq.get(summary.uid)
        if seq is None:
            return None
        self._rows[seq] = summary
        return self.count - seq

    def set_count(self, count: int) -> None:
        """EXISTS grew: new messages take the top rows; loaded rows keep their sequence numbers."""
        if count == self.count:
            return
        if count < self.count:  # shrinking without EXPUNGE detail: trust nothing
            self.reset(count)
            return
        self.count = count

    def expunge(self, seq: int) -> None:
        """EXPUNGE seq: later sequence numbers shift down by one."""
        if not 0 < seq <= self.count:
            return
        shifted: OrderedDict[int, MessageSummary] = OrderedDict()
        for s, summary in self._rows.items():
            if s < seq:
                shifted[s] = summary
            elif s > seq:
                shifted[s - 1] = summary
        self._rows = shifted
        self._uid_seq = {summary.uid: s for s, summary in shifted.items()}
        self._requested.clear()
        self.count -= 1
        self.generation += 1

    def vanish(self, uids: set[int]) -> None:
        """Live VANISHED uids (all were in the folder): drop them; every loaded message moves
        down by the number of vanished UIDs below its own, loaded or not."""
        if not uids:
            return
        gone = sorted(uids)
        shifted: OrderedDict[int, MessageSummary] = OrderedDict()
        for seq, summary in self._rows.items():
            if summary.uid in uids:
                continue
            shifted[seq - bisect_left(gone, summary.uid)] = summary
        self._rows = shifted
        self._uid_seq = {summary.uid: s for s, summary in shifted.items()}
        self._requested.clear()
        self.count = max(self.count - len(gone), 0)
        self.generation += 1

    def reset(self, count: int) -> None:
        self.count = max(count, 0)
        self._rows.clear()
        self._uid_seq.clear()
        self._requested.clear()
        self.generation += 1


class UidListIndex(LazyIndex):
    """A fixed list of UIDs shown in this order (a search result, a thread view), its rows
    loaded lazily like the folder's: position p = count - row stands in for the sequence
    number, so windows, requests and LRU work unchanged; uids_in() maps them to UIDs."""

    def __init__(self, uids: list[int], prefixes: list[str] | None = None,
                 capacity: int = DEFAULT_CAPACITY):
        super().__init__(len(uids), capacity)
        self.uids = list(uids)
        self.prefixes = list(prefixes) if prefixes is not None else None

    def decoration(self, row: int) -> str:
        if self.prefixes is None or not 0 <= row < len(self.prefixes):
            return ""
        return self.prefixes[row]

    def uids_in(self, window: Window) -> dict[int, int]:
        """uid -> position for the window's positions."""
        found = {}
        for seq in range(max(window.seq_lo, 1), min(window.seq_hi, self.count) + 1):
            found[self.uids[self.count - seq]] = seq
        return found

    def set_count(self, count: int) -> None:
        """The list is fixed: new mail does not join it."""

    def remove_uid(self, uid: int) -> bool:
        """The message left the folder: drop its row; rows below move up."""
        try:
            row = self.uids.index(uid)
        except ValueError:
            return False
        del self.uids[row]
        if self.prefixes is not None:
            del self.prefixes[row]
        self.expunge(self.count - row)
        return True
