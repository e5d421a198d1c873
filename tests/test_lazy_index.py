"""The lazy index bookkeeping: windows, sequence shifts, bounded memory."""
from __future__ import annotations

from tuimail.model.index import LazyIndex, Window
from tuimail.model.summary import MessageSummary


def _rows(index: LazyIndex, window: Window, uid_of=lambda seq: seq * 10) -> dict[int, MessageSummary]:
    return {seq: MessageSummary(uid=uid_of(seq), subject=f"m{seq}") for seq in range(window.seq_lo, window.seq_hi + 1)}


def test_first_screen_is_one_window_at_the_top():
    index = LazyIndex(100_000)
    windows = index.missing(0, 49, margin=10)
    assert windows == [Window(99_941, 100_000)]
    assert index.missing(0, 49, margin=10) == []  # already requested: not asked twice
    index.apply(_rows(index, windows[0]))
    assert index.row(0).subject == "m100000" and index.row(59).subject == "m99941"
    assert index.row(60) is None


def test_windows_are_split_around_loaded_rows_and_capped():
    index = LazyIndex(1000)
    index.apply(_rows(index, Window(990, 995)))
    windows = index.missing(0, 30, max_window=10)
    assert windows == [Window(996, 1000), Window(980, 989), Window(970, 979)]


def test_new_mail_takes_the_top_rows():
    index = LazyIndex(10)
    index.apply(_rows(index, Window(1, 10)))
    index.set_count(12)
    assert index.row(0) is None and index.row(2).subject == "m10"
    assert index.missing(0, 11) == [Window(11, 12)]


def test_expunge_shifts_later_rows_and_drops_stale_answers():
    index = LazyIndex(10)
    index.apply(_rows(index, Window(1, 10)))
    generation = index.generation
    index.expunge(5)
    assert index.count == 9 and index.row(0).subject == "m10" and index.row_of_uid(60) == 9 - 5
    assert not index.apply({3: MessageSummary(uid=999)}, generation=generation)


def test_vanished_counts_unloaded_uids_below():
    index = LazyIndex(10)  # uids 10..100, seq n has uid 10n
    index.apply(_rows(index, Window(8, 10)))
    index.vanish({20, 90})  # seq 2 not loaded, seq 9 loaded
    assert index.count == 8
    assert index.row_of_uid(100) == 0 and index.row_of_uid(80) == 1
    assert index.seq_of_row(index.row_of_uid(80)) == 7


def test_memory_is_bounded_by_capacity():
    index = LazyIndex(100_000, capacity=1000)
    for start in range(1, 100_001, 500):
        index.apply(_rows(index, Window(start, start + 499)))
    assert index.loaded() == 1000
    assert index.row(0) is not None and index.row(99_999) is None
