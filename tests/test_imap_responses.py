"""Untagged responses into model values, including what a hostile server sends (B15-B17)."""
from __future__ import annotations

import pytest

from tuimail.model.uidset import SetError
from tuimail.protocols import imap_responses as R
from tuimail.protocols.imap_parse import summary


def test_events_keep_the_servers_order():
    news = R.events([("EXPUNGE", b"3"), ("EXISTS", b"10"), ("EXPUNGE", b"1"),
                     ("FETCH", b"2 (UID 7 FLAGS (\\Seen \\Recent) MODSEQ (12))"),
                     ("FETCH", b"4 (FLAGS (\\Flagged))")], exists=10)
    assert news.expunged == [3, 1] and news.exists == 10 - 1
    assert news.flags[7].flags == frozenset({"\\Seen"}) and news.flags[7].modseq == 12
    assert news.seq_flags == {4: frozenset({"\\Flagged"})}
    live = R.events([("FETCH", b"4 (FLAGS (\\Flagged))"), ("VANISHED", b"20:21")], exists=30)
    assert list(live.vanished) == [20, 21] and live.exists == 28
    assert live.seq_flags == {}  # renumbered by an unknown amount: dropped, never misapplied


def test_answers_to_our_own_fetch_are_not_news():
    news = R.events([("FETCH", b"2 (UID 7 FLAGS ())")], exists=5, skip_fetch=[2])
    assert not news


def test_earlier_vanished_is_only_for_resync():
    responses = [("VANISHED", b"(EARLIER) 1:5,9")]
    assert not R.events(responses, exists=3).vanished
    assert list(R.vanished_earlier(responses)) == [1, 2, 3, 4, 5, 9]


def test_a_changed_uidvalidity_is_reported():
    assert R.events([("UIDVALIDITY", b"99")], uidvalidity=98).uidvalidity == 99
    assert R.events([("UIDVALIDITY", b"98")], uidvalidity=98).uidvalidity is None


@pytest.mark.parametrize("responses", [
    [("EXISTS", b"18446744073709551616")],
    [("EXISTS", b"-1")],
    [("EXPUNGE", b"0")],
    [("EXPUNGE", b"11")],  # beyond the 10 messages there are
    [("VANISHED", b"1,")],
    [("VANISHED", b"0:5")],
    [("FETCH", b"0 (FLAGS ())")],
    [("FETCH", b"1 (UID 0 FLAGS ())")],
    [("FETCH", b"1 (UID 4294967296 FLAGS ())")],
    [("FETCH", b"1 (UID 5 FLAGS () MODSEQ (9223372036854775808))")],
    [("HIGHESTMODSEQ", b"99999999999999999999")],
])
def test_bad_numbers_are_errors(responses):
    with pytest.raises((SetError, ValueError)):
        R.events(responses, exists=10)


def test_esearch_status_and_copyuid():
    assert R.esearch([("ESEARCH", b'(TAG "A5") UID COUNT 53')]) == {"COUNT": 53}
    assert list(R.esearch([("ESEARCH", b'(TAG "A6") UID ALL 3:5,9')])["ALL"]) == [3, 4, 5, 9]
    status = R.status("INBOX", [("STATUS", b'"INBOX" (MESSAGES 20 UNSEEN 5 HIGHESTMODSEQ 7)')])
    assert (status.messages, status.unseen, status.highestmodseq) == (20, 5, 7)
    with pytest.raises(SetError):
        R.status("INBOX", [("STATUS", b'"INBOX" (MESSAGES 18446744073709551616)')])
    assert R.copyuid([("COPYUID", b"7 1:3 10:12")]) == {1: 10, 2: 11, 3: 12}
    assert R.copyuid([("COPYUID", b"7 1:3 10")]) == {}  # inconsistent: ignored, not guessed


def test_oversized_fetch_values_are_dropped_not_trusted():
    data = R.fetches([("FETCH", b'1 (UID 5 RFC822.SIZE 18446744073709551616 FLAGS () INTERNALDATE "01-Jan-2024 00:00:00 +0000")')])
    row = summary(5, data[1])
    assert row.size == 0 and row.uid == 5


def test_a_fetch_without_uid_is_renumbered_by_later_expunges():
    news = R.events([("FETCH", b"5 (FLAGS (\\Flagged))"), ("FETCH", b"3 (FLAGS (\\Seen))"),
                     ("EXPUNGE", b"2"), ("FETCH", b"2 (FLAGS (\\Answered))"), ("EXPUNGE", b"3")], exists=10)
    # 5 becomes 4, then 3. The first "3" becomes 2; the "2" sent after that EXPUNGE is the same
    # message, and its newer flags win. The second EXPUNGE (3) removes the message first called 4.
    assert news.seq_flags == {3: frozenset({"\\Flagged"}), 2: frozenset({"\\Answered"})}
    assert news.expunged == [2, 3] and news.exists == 8
