"""Threads on plain data: the THREAD answer parser, local threading from Message-ID and
In-Reply-To, tree glyphs, and the list-of-UIDs index behind search and thread views."""
from __future__ import annotations

import pytest

from tuimail.model.index import UidListIndex, Window
from tuimail.model.summary import MessageSummary
from tuimail.model.threads import (MAX_DRAWN_DEPTH, ThreadIndex, ThreadNode, build_threads, message_id,
                                   order_threads, thread_rows, without)
from tuimail.protocols.imap_thread import ThreadError, parse_threads


def shape(node: ThreadNode):
    """(uid, [children...]) for comparing trees."""
    return (node.uid, [shape(child) for child in node.children])


def rows(roots) -> list[tuple[int, str]]:
    return [(row.uid, row.prefix) for row in thread_rows(roots)]


# -- the server's answer --------------------------------------------------------------------

def test_rfc_5256_example() -> None:
    roots = parse_threads(b"(2)(3 6 (4 23)(44 7 96))")
    assert [shape(r) for r in roots] == [
        (2, []),
        (3, [(6, [(4, [(23, [])]), (44, [(7, [(96, [])])])])]),
    ]
    assert [r.uid for r in order_threads(roots)] == [3, 2]  # the thread with the newest message first


def test_a_missing_parent_is_replaced_by_its_first_reply() -> None:
    roots = parse_threads(b"((3)(5 (6)(7)))(8)")
    assert [shape(r) for r in roots] == [(3, [(5, [(6, []), (7, [])])]), (8, [])]


def test_empty_answer_and_whitespace() -> None:
    assert parse_threads(b"") == []
    assert [shape(r) for r in parse_threads(b" (1)\r\n(2 3) ")] == [(1, []), (2, [(3, [])])]


@pytest.mark.parametrize("body", [b"(1", b"1)", b"(1))", b"(1 x)", b"7", b"(0)", b'(1 "2")'])
def test_hostile_answers_are_refused(body: bytes) -> None:
    with pytest.raises((ThreadError, ValueError)):
        parse_threads(body)


def test_deep_nesting_neither_recurses_nor_hangs() -> None:
    depth = 20_000
    body = b"".join(b"(%d " % (i + 1) for i in range(depth)) + b")" * depth
    (root,) = parse_threads(body)
    assert len(root.uids()) == depth
    drawn = thread_rows([root])
    assert len(drawn) == depth
    assert len(drawn[-1].prefix) <= 2 * MAX_DRAWN_DEPTH + 5 and drawn[-1].prefix.startswith("…")
    with pytest.raises(ThreadError):
        parse_threads(b"(" * 200_000 + b")" * 200_000)


# -- threads built here ---------------------------------------------------------------------

def test_replies_go_under_the_message_they_answer() -> None:
    roots = build_threads([
        (1, "<a@x>", ""),
        (2, "<b@x>", "<a@x>"),
        (3, "<c@x>", ""),
        (4, "<d@x>", "<b@x>"),
        (5, "<e@x>", " <a@x> (the first)"),
        (6, "<f@x>", "<unknown@x>"),
    ])
    assert [shape(r) for r in roots] == [(6, []), (1, [(2, [(4, [])]), (5, [])]), (3, [])]
    assert rows(roots) == [(6, ""), (1, ""), (2, "├─▸ "), (4, "│ └─▸ "), (5, "└─▸ "), (3, "")]


def test_loops_self_replies_and_duplicate_ids_are_broken() -> None:
    roots = build_threads([
        (1, "<a@x>", "<b@x>"),  # a answers b ...
        (2, "<b@x>", "<a@x>"),  # ... and b answers a
        (3, "<c@x>", "<c@x>"),  # answers itself
        (4, "<a@x>", ""),  # a second <a@x>: the first one keeps the id
        (5, "<e@x>", "<a@x>"),
    ])
    # 1 answered 2 first (lower UID), so 2's answer to 1 would close a loop and is dropped
    assert [shape(r) for r in roots] == [(2, [(1, [(5, [])])]), (4, []), (3, [])]


def test_long_chain_builds_fast() -> None:
    n = 5_000
    roots = build_threads([(i, f"<{i}@x>", f"<{i - 1}@x>" if i > 1 else "") for i in range(1, n + 1)])
    assert len(roots) == 1 and len(thread_rows(roots)) == n


def test_message_id_takes_the_first_bracketed_token() -> None:
    assert message_id("  <a@b> <c@d>") == "<a@b>"
    assert message_id("no brackets") == ""
    assert message_id("") == ""


# -- the indexes behind views ---------------------------------------------------------------

def summaries(index: UidListIndex, window: Window) -> dict[int, MessageSummary]:
    return {pos: MessageSummary(uid=uid, subject=f"s{uid}") for uid, pos in index.uids_in(window).items()}


def test_uid_list_index_loads_by_position_and_drops_rows() -> None:
    index = UidListIndex([90, 70, 50, 30, 10])
    (window,) = index.missing(0, 4)
    assert index.uids_in(window) == {90: 5, 70: 4, 50: 3, 30: 2, 10: 1}
    index.apply(summaries(index, window))
    assert [index.row(r).uid for r in range(5)] == [90, 70, 50, 30, 10]
    assert index.remove_uid(50) and not index.remove_uid(50)
    assert index.count == 4 and index.uids == [90, 70, 30, 10]
    assert [index.row(r).uid for r in range(4)] == [90, 70, 30, 10]
    assert index.row_of_uid(30) == 2
    index.set_count(10)  # new mail does not join a fixed list
    assert index.count == 4


def test_thread_index_keeps_order_when_a_message_goes() -> None:
    roots = build_threads([(1, "<a@x>", ""), (2, "<b@x>", "<a@x>"), (3, "<c@x>", "<b@x>"), (4, "<d@x>", "<a@x>")])
    index = ThreadIndex(roots)
    assert index.uids == [1, 2, 3, 4] and index.threads == 1
    assert [index.decoration(r) for r in range(4)] == ["", "├─▸ ", "│ └─▸ ", "└─▸ "]
    index.remove_uid(2)  # its reply moves up in its place
    assert index.uids == [1, 3, 4]
    assert [index.decoration(r) for r in range(3)] == ["", "├─▸ ", "└─▸ "]
    index.remove_uid(1)
    assert index.uids == [3, 4] and [index.decoration(r) for r in range(2)] == ["", ""]


def test_without_removes_nested_messages() -> None:
    roots = parse_threads(b"(1 2 (3 4)(5))")
    assert [shape(r) for r in without(roots, {2, 3})] == [(1, [(4, []), (5, [])])]
