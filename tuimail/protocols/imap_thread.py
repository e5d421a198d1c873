"""THREAD=REFERENCES (RFC 5256) for ImapSession: the server's threads as a model tree.

A mixin relying on ImapSession's _run plumbing. The answer is parsed here without recursion
(imapclient's parser recurses on every parenthesis, and a hostile server can nest deeply).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tuimail.model.threads import THREAD_ALGORITHM, ThreadNode, order_threads, promote_placeholders
from tuimail.model.uidset import number
from tuimail.protocols import imap_responses as R
from tuimail.protocols.errors import ProtocolError

if TYPE_CHECKING:
    from tuimail.protocols.imap import ImapSession

MAX_THREAD_NESTING = 100_000


class ThreadError(ValueError):
    pass


def parse_threads(body: bytes) -> list[ThreadNode]:
    """The thread-list of one THREAD response, e.g. b"(2)(3 6 (4 23)(44 7 96))".

    Numbers in a list form a chain, each the parent of the next; the lists after them are
    the branches under the last one, or under a placeholder when no number comes first.
    """
    top: list = []
    stack: list[list] = [top]
    token = b""
    for ch in body + b" ":
        c = bytes((ch,))
        if c.isdigit():
            token += c
            continue
        if token:
            stack[-1].append(number(token, "THREAD UID"))
            token = b""
        if c == b"(":
            if len(stack) > MAX_THREAD_NESTING:
                raise ThreadError("THREAD answer nested too deeply")
            child: list = []
            stack[-1].append(child)
            stack.append(child)
        elif c == b")":
            if len(stack) == 1:
                raise ThreadError("unbalanced ')' in THREAD answer")
            stack.pop()
        elif c not in b" \r\n":
            raise ThreadError(f"unexpected {c!r} in THREAD answer")
    if len(stack) != 1:
        raise ThreadError("unbalanced '(' in THREAD answer")
    if any(not isinstance(item, list) for item in top):
        raise ThreadError("a THREAD answer is a list of parenthesised threads")
    return promote_placeholders([_node(thread) for thread in top])


def _node(items: list) -> ThreadNode:
    """One parenthesised list as a tree, iteratively."""
    root = ThreadNode(None)
    work = [(root, items)]
    while work:
        parent, members = work.pop()
        attach = parent
        for item in members:
            if isinstance(item, int):
                if attach is parent and parent.uid is None and not parent.children:
                    parent.uid = item  # the list's first message heads it
                    continue
                node = ThreadNode(item)
                attach.children.append(node)
                attach = node
            else:  # a branch under the chain's last message
                branch = ThreadNode(None)
                attach.children.append(branch)
                work.append((branch, item))
    return root  # lists that start with a list keep a placeholder: promote_placeholders()


class ThreadOps:
    def thread(self: "ImapSession", uid_from: int | None = None) -> list[ThreadNode]:
        """UID THREAD REFERENCES UTF-8 over the folder, or over UIDs >= uid_from; threads with
        the newest first. ProtocolError when the server does not offer THREAD=REFERENCES."""
        if not self.has_capability(f"THREAD={THREAD_ALGORITHM}"):
            raise ProtocolError(f"the server does not offer THREAD={THREAD_ALGORITHM}", self._where)
        criteria = f"UID {uid_from}:*" if uid_from else "ALL"
        _, _, responses = self._run("UID", "THREAD", THREAD_ALGORITHM, "UTF-8", criteria)
        body = b" ".join(R.raw(data) for kind, data in responses if kind == "THREAD")
        try:
            return order_threads(parse_threads(body))
        except (ThreadError, ValueError) as exc:
            raise ProtocolError(f"bad THREAD answer: {exc}", self._where) from None
