"""Search, threads and counts of an open folder against the real Dovecot: THREAD=REFERENCES
and the local fallback give the same threads; the limit keeps to the newest UIDs."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.imap_support import USER, connect, message, new_folder, other_client
from tuimail.model.query import Query
from tuimail.model.threads import ThreadNode
from tuimail.protocols.trace import ProtocolTrace
from tuimail.store.folder_sync import FolderSync
from tuimail.store.folder_views import counts, search, threads
from tuimail.store.header_cache import HeaderCache


def mail(subject: str, mid: str, reply_to: str = "", day: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = "Carol <carol@example.test>", f"{USER}@example.test"
    msg["Subject"], msg["Message-ID"] = subject, mid
    msg["Date"] = f"Mon, {day:02d} Jun 2026 10:00:00 +0000"
    if reply_to:
        msg["In-Reply-To"], msg["References"] = reply_to, reply_to
    msg.set_content("text\n")
    return bytes(msg)


@pytest.fixture
def threaded(testbed) -> str:
    folder = new_folder(testbed, "H")
    testbed.deliver_files(USER, [
        mail("plans", "<p@x>", day=1),  # uid 1
        mail("lunch", "<l@x>", day=2),  # uid 2
        mail("Re: plans", "<p2@x>", "<p@x>", day=3),  # uid 3
        mail("Re: Re: plans", "<p3@x>", "<p2@x>", day=4),  # uid 4
        mail("Re: lunch", "<l2@x>", "<l@x>", day=5),  # uid 5
        mail("news", "<n@x>", day=6),  # uid 6
    ], folder=folder)
    return folder


def shape(node: ThreadNode):
    return (node.uid, [shape(child) for child in node.children])


EXPECTED = [(6, []), (2, [(5, [])]), (1, [(3, [(4, [])])])]


def test_server_threads_and_local_threads_agree(testbed, threaded) -> None:
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        sync = FolderSync(session, HeaderCache.in_memory(), USER)
        sync.open(threaded)
        found = threads(sync)
        assert found.by_server and not found.limited and found.covered == 6
        assert [shape(r) for r in found.roots] == EXPECTED
        assert any("UID THREAD REFERENCES UTF-8 ALL" in line for line in trace.sent_lines())
    with connect(testbed, disable={"THREAD=REFERENCES"}) as session:
        sync = FolderSync(session, HeaderCache.in_memory(), USER)
        sync.open(threaded)
        local = threads(sync)
        assert not local.by_server and [shape(r) for r in local.roots] == EXPECTED


def test_large_folders_thread_only_the_newest_uids(testbed, threaded) -> None:
    trace = ProtocolTrace()
    with connect(testbed, trace=trace) as session:
        sync = FolderSync(session, HeaderCache.in_memory(), USER)
        sync.open(threaded)
        found = threads(sync, limit=3)
        assert found.limited and (found.covered, found.total) == (3, 6)
        assert sorted(u for r in found.roots for u in r.uids()) == [4, 5, 6]
        assert any("UID THREAD REFERENCES UTF-8 UID 4:*" in line for line in trace.sent_lines())
    with connect(testbed, disable={"THREAD=REFERENCES"}) as session:
        sync = FolderSync(session, HeaderCache.in_memory(), USER)
        sync.open(threaded)
        local = threads(sync, local_limit=3)
        assert local.limited and sorted(u for r in local.roots for u in r.uids()) == [4, 5, 6]


def test_search_and_counts_match_the_server(testbed) -> None:
    folder = new_folder(testbed, "S")
    testbed.deliver_files(USER, [message("report one", sender="Alice <alice@example.test>"),
                                 message("report two"), message("other", sender="Alice <alice@example.test>")],
                          folder=folder)
    testbed.deliver_files(USER, [message("seen report", sender="Alice <alice@example.test>")],
                          folder=folder, flags="S")
    with connect(testbed) as session:
        sync = FolderSync(session, HeaderCache.in_memory(), USER)
        sync.open(folder)
        mine = search(sync, Query.parse("from:alice subject:report"))
        result = counts(sync, ("INBOX",))
    with other_client(testbed, folder) as client:
        assert mine == sorted(client.search(["FROM", "alice", "SUBJECT", "report"]), reverse=True)
        assert len(mine) == 2
        status = client.folder_status(folder, ["MESSAGES", "UNSEEN"])
        inbox = client.folder_status("INBOX", ["MESSAGES", "UNSEEN"])
    assert (result[folder].unseen, result[folder].messages) == (status[b"UNSEEN"], status[b"MESSAGES"]) == (3, 4)
    assert (result["INBOX"].unseen, result["INBOX"].messages) == (inbox[b"UNSEEN"], inbox[b"MESSAGES"])
