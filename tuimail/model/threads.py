"""Message threads: a tree of UIDs, built by the server (THREAD=REFERENCES) or here from
Message-ID and In-Reply-To, and flattened into index rows with tree glyphs.

Pure. Threads can be deep (a long reply chain) and headers hostile (loops, self-replies),
so nothing here recurses and every parent link is checked for cycles.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from tuimail.model.index import UidListIndex

THREAD_ALGORITHM = "REFERENCES"  # RFC 5256: the one threading algorithm asked of servers

MAX_DRAWN_DEPTH = 12  # deeper replies are drawn at this indentation, marked with "…"
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,998}>")


@dataclass(eq=False)
class ThreadNode:
    """uid None is a placeholder for a message the folder does not hold (a missing parent)."""
    uid: int | None
    children: list["ThreadNode"] = field(default_factory=list)

    def uids(self) -> list[int]:
        """Every UID in the subtree, parents before children."""
        found, stack = [], [self]
        while stack:
            node = stack.pop()
            if node.uid is not None:
                found.append(node.uid)
            stack.extend(reversed(node.children))
        return found


@dataclass(frozen=True)
class ThreadRow:
    uid: int
    depth: int
    prefix: str  # tree glyphs drawn before the subject


def message_id(text: str) -> str:
    """The first <...> token of a Message-ID or In-Reply-To header, or ""."""
    match = _MESSAGE_ID.search(text or "")
    return match.group(0) if match else ""


def build_threads(messages: Iterable[tuple[int, str, str]]) -> list[ThreadNode]:
    """Threads from (uid, Message-ID, In-Reply-To): a reply goes under the message it answers
    when the folder holds it; loops and duplicate Message-IDs are broken, oldest UID first."""
    rows = sorted(messages)
    nodes = {uid: ThreadNode(uid) for uid, _, _ in rows}
    by_id: dict[str, int] = {}
    for uid, mid, _ in rows:
        key = message_id(mid)
        if key and key not in by_id:
            by_id[key] = uid
    parent: dict[int, int] = {}
    has_replies: set[int] = set()
    for uid, _, reply_to in rows:
        target = by_id.get(message_id(reply_to))
        if target is None or target == uid:
            continue
        if uid in has_replies and _is_ancestor(uid, target, parent):  # only then can it loop
            continue
        parent[uid] = target
        has_replies.add(target)
    roots = []
    for uid, _, _ in rows:
        if uid in parent:
            nodes[parent[uid]].children.append(nodes[uid])
        else:
            roots.append(nodes[uid])
    return order_threads(roots)


def _is_ancestor(uid: int, node: int, parent: dict[int, int]) -> bool:
    """Whether uid is node or above it already (linking node under uid would make a loop)."""
    seen = 0
    while node is not None and seen <= len(parent):
        if node == uid:
            return True
        node = parent.get(node)
        seen += 1
    return False


def promote_placeholders(roots: list[ThreadNode]) -> list[ThreadNode]:
    """A placeholder (missing parent) is replaced by its first child, which adopts the rest."""
    result = [_promoted(root) for root in roots]
    stack = [node for node in result if node is not None]
    while stack:
        node = stack.pop()
        kept = [child for child in (_promoted(c) for c in node.children) if child is not None]
        node.children = kept
        stack.extend(kept)
    return [node for node in result if node is not None]


def _promoted(node: ThreadNode) -> ThreadNode | None:
    while node.uid is None:
        if not node.children:
            return None
        first, rest = node.children[0], node.children[1:]
        node = ThreadNode(first.uid, first.children + rest)
    return node


def order_threads(roots: list[ThreadNode]) -> list[ThreadNode]:
    """Threads with the newest message (highest UID) first; replies keep their order."""
    return sorted(roots, key=lambda root: max(root.uids(), default=0), reverse=True)


def thread_rows(roots: list[ThreadNode]) -> list[ThreadRow]:
    """One row per message, depth first, with glyphs like `├─▸` and `│ ` before the subject."""
    rows: list[ThreadRow] = []
    # (node, depth, the rails of its ancestors: True where an ancestor has a later sibling, last)
    stack: list[tuple[ThreadNode, int, tuple[bool, ...], bool]] = [
        (root, 0, (), True) for root in reversed(roots)]
    while stack:
        node, depth, rails, last = stack.pop()
        if node.uid is not None:
            rows.append(ThreadRow(node.uid, depth, _prefix(depth, rails, last)))
        child_rails = rails + (not last,) if depth > 0 else ()
        count = len(node.children)
        for i in range(count - 1, -1, -1):
            stack.append((node.children[i], depth + 1, child_rails, i == count - 1))
    return rows


def _prefix(depth: int, rails: tuple[bool, ...], last: bool) -> str:
    if depth == 0:
        return ""
    shown = rails[-(MAX_DRAWN_DEPTH - 1):] if depth > MAX_DRAWN_DEPTH else rails
    lead = "…" if depth > MAX_DRAWN_DEPTH else ""
    return lead + "".join("│ " if rail else "  " for rail in shown) + ("└─▸ " if last else "├─▸ ")


def without(roots: list[ThreadNode], uids: set[int]) -> list[ThreadNode]:
    """The threads with these messages taken out, their replies moved up in their place, so
    the other rows keep their order."""
    def replace(nodes: list[ThreadNode]) -> list[ThreadNode]:
        out: list[ThreadNode] = []
        pending = list(reversed(nodes))
        while pending:
            node = pending.pop()
            if node.uid in uids:
                pending.extend(reversed(node.children))
            else:
                out.append(node)
        return out

    result = replace(roots)
    stack = list(result)
    while stack:
        node = stack.pop()
        node.children = replace(node.children)
        stack.extend(node.children)
    return result


class ThreadIndex(UidListIndex):
    """The thread view's rows: messages in thread order, each with its tree glyphs."""

    def __init__(self, roots: list[ThreadNode]) -> None:
        self.roots = roots
        rows = thread_rows(roots)
        super().__init__([row.uid for row in rows], [row.prefix for row in rows])
        self.threads = len(roots)

    def remove_uid(self, uid: int) -> bool:
        if not super().remove_uid(uid):
            return False
        self.roots = without(self.roots, {uid})
        rows = thread_rows(self.roots)
        if [row.uid for row in rows] == self.uids:  # always, as without() keeps the order
            self.prefixes = [row.prefix for row in rows]
        return True
