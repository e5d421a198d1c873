"""Sequence sets from servers (SECURITY-CASES B17) and for commands."""
from __future__ import annotations

import pytest

from tuimail.model.uidset import SetError, UidSet, imap_set, number


def test_parse_merges_and_sorts():
    assert UidSet.parse("7,1:3,4,10:8").ranges == ((1, 4), (7, 10))
    assert UidSet.parse(b"5").imap() == "5"
    assert UidSet.parse("3:*", star=9).ranges == ((3, 9),)


@pytest.mark.parametrize("bad", ["", "1,", ",1", "0", "1:0", "4294967296", "1:4294967296", "a", "1:2:3",
                                 "-1", "1 2", "*", "99999999999999999999999", "1,,2", "+1", "１"])
def test_bad_sets_are_errors(bad):
    with pytest.raises(SetError):
        UidSet.parse(bad)


def test_huge_ranges_stay_small():
    big = UidSet.parse("1:4294967295")
    assert len(big) == 4294967295 and 123456 in big and 0 not in big
    assert big.intersect([5, 10, 2**40]) == {5, 10}
    with pytest.raises(SetError):
        big.expand(1000)


def test_client_sets():
    assert imap_set([5, 3, 4, 9]) == "3:5,9"
    with pytest.raises(ValueError):
        imap_set([])
    with pytest.raises(ValueError):
        imap_set([0])
    assert number("42") == 42
