"""`tuimail compare` against the real Dovecot, which serves IMAP and POP3 from the same store:
the match table, the costs against a byte-counting proxy, the --experiment checks cross-checked
over direct connections, a plain run that changes nothing, the exports and the CLI."""
from __future__ import annotations

import json
import os
import poplib
import re
import subprocess
import sys
import time
from collections import defaultdict
from email.utils import format_datetime
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.bench.proxy import CountingProxy
from tests.imap_support import message as rich_message, other_client
from tests.pop3_support import make_sync, message
from tuimail.model.compare import (BOTH, BY_MESSAGE_ID, BY_SIZE_DATE, DELE_REMOVES, FLAGS_VISIBLE, IMAP_ONLY,
                                   LIST_NEWEST, NOT_RUN, OBSERVED, OPEN_ONE, POP3_ONLY, RETR_SETS_SEEN,
                                   CompareOptions, normalise_message_id)
from tuimail.model.config import parse_config
from tuimail.model.secret import Secret
from tuimail.protocols.pop3 import Pop3Session
from tuimail.store.compare_run import CompareRun, run_compare

ROOT = Path(__file__).resolve().parents[1]
USER = "bob"
TLS13_OVERHEAD = 5 + 16 + 1  # record header, AEAD tag, inner content type (TLS 1.3, AES-GCM)


@pytest.fixture
def bed(testbed, tmp_path, monkeypatch):
    """bob's mailboxes emptied; XDG_DATA_HOME in tmp, so the keep-policy dry run never sees a
    real local POP3 store."""
    testbed.clear(USER)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return testbed


def account(bed, **overrides):
    return parse_config(bed.config_toml(USER, timeout=10, **overrides)).account(USER)


def password(bed) -> Secret:
    return Secret(bed.users[USER])


def no_message_id(subject: str, body: bytes = b"No Message-ID here.\n") -> bytes:
    return (f"From: Dave <dave@example.test>\nTo: Bob <bob@example.test>\nSubject: {subject}\n"
            f"Date: {format_datetime(datetime(2024, 3, 4, 5, 6, 7, tzinfo=timezone.utc))}\n\n").encode() + body


def flags_now(bed) -> dict[str, frozenset[str]]:
    """Message-ID -> flags (without \\Recent) of every INBOX message, over a fresh IMAP connection."""
    with other_client(bed, "INBOX") as client:
        uids = client.search("ALL")
        data = client.fetch(uids, ["ENVELOPE", "FLAGS"]) if uids else {}
    return {(d[b"ENVELOPE"].message_id or b"uid %d" % uid).decode(): frozenset(
        f.decode() for f in d[b"FLAGS"] if f != b"\\Recent") for uid, d in data.items()}


def pop3_direct(bed) -> poplib.POP3_SSL:
    pop = poplib.POP3_SSL(bed.host, bed.pop3s_port, context=bed.client_context(), timeout=10)
    pop.user(USER)
    pop.pass_(bed.users[USER])
    return pop


def pop3_uidls(bed) -> dict[int, str]:
    pop = pop3_direct(bed)
    try:
        return {int(n): u.decode() for n, u in (line.split() for line in pop.uidl()[1])}
    finally:
        pop.quit()


# The match table -------------------------------------------------------------------------------

def test_the_match_table_pairs_every_seeded_message(bed):
    crlf = rich_message("CRLF line ends", body="line one\nline two\n").replace(b"\n", b"\r\n")
    seeded = [message(i, size=2_000 * i) for i in range(1, 5)] + [no_message_id("no id at all"), crlf]
    bed.deliver_files(USER, seeded)
    report = run_compare(account(bed), password(bed))
    table = report.matches
    assert (table.imap_total, table.pop3_total, table.capped) == (6, 6, False)
    assert [r.where for r in table.rows] == [BOTH] * 6
    uidls = pop3_uidls(bed)  # a direct POP3 connection: number -> UIDL
    with other_client(bed, "INBOX") as client:
        uids = sorted(client.search("ALL"))
        uidvalidity = client.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"]
        sizes = {u: d[b"RFC822.SIZE"] for u, d in client.fetch(uids, ["RFC822.SIZE"]).items()}
    by_subject = {r.subject: r for r in table.rows}
    for number, uid in enumerate(uids, 1):  # both sides list the INBOX in the same order
        row = next(r for r in table.rows if r.imap_uid == uid)
        assert (row.pop3_number, row.uidl, row.uidvalidity) == (number, uidls[number], uidvalidity)
        # POP3 LIST counts the same octets as IMAP RFC822.SIZE on Dovecot (CRLF line ends),
        # whether the stored file has LF or CRLF line ends
        assert row.imap_size == row.pop3_size == sizes[uid], row
    odd = by_subject["no id at all"]
    assert odd.matched_by == BY_SIZE_DATE and odd.key == f"size+date {odd.imap_size} 2024-03-04T05:06:07Z"
    assert table.count(BOTH, BY_MESSAGE_ID) == 5
    assert by_subject["message 3"].key == normalise_message_id(
        next(line for line in seeded[2].decode().splitlines() if line.startswith("Message-ID:"))[11:])
    assert [r.imap_uid for r in table.rows] == sorted(uids, reverse=True)  # newest first


def test_only_in_imap_and_only_in_pop3(bed):
    """Dovecot gives a POP3 session the maildrop as it was at login: a message appended over
    IMAP after that is only in IMAP, one expunged after that is only in POP3."""
    bed.deliver_files(USER, [message(i) for i in range(1, 5)])
    run = CompareRun(account(bed), password(bed))
    try:
        run.connect()  # the POP3 session's view is fixed from here
        gone_uidl = pop3_uidls(bed)[1]
        with other_client(bed, "INBOX") as client:
            doomed = min(client.search("ALL"))
            client.delete_messages([doomed])
            client.expunge()
            client.append("INBOX", message(50))
        run.folders()
        run.list_newest()
        run.open_one()
        run.gather()
    finally:
        run.close()
    rows = run.matches.rows
    imap_only = [r for r in rows if r.where == IMAP_ONLY]
    pop3_only = [r for r in rows if r.where == POP3_ONLY]
    assert [r.subject for r in imap_only] == ["message 50"] and imap_only[0].pop3_number is None
    assert len(pop3_only) == 1 and pop3_only[0].imap_uid is None and pop3_only[0].pop3_number == 1
    # still listed with its UIDL, but Dovecot answers TOP for it with -ERR: no header to show
    assert (pop3_only[0].uidl, pop3_only[0].key) == (gone_uidl, "(no headers: the server refused TOP)")
    assert sum(r.where == BOTH for r in rows) == 3
    assert (run.matches.imap_total, run.matches.pop3_total) == (4, 4)


def test_limit_caps_the_comparison_and_says_so(bed):
    bed.deliver_files(USER, [message(i) for i in range(1, 31)])
    report = run_compare(account(bed), password(bed), CompareOptions(limit=12, list_count=5))
    table = report.matches
    assert table.capped and (table.imap_compared, table.pop3_compared, table.imap_total) == (12, 12, 30)
    assert len(table.rows) == 12 and all(r.where == BOTH for r in table.rows)
    assert [r.subject for r in table.rows] == [f"message {i}" for i in range(30, 18, -1)]
    assert any("newest 12" in note for note in report.notes)
    assert "capped at the newest 12" in report.to_markdown()


# Costs against a byte-counting proxy -------------------------------------------------------------

class RecordProxy(CountingProxy):
    """tests/bench's CountingProxy that also counts the TLS records in each direction."""

    def __init__(self, *args, **kwargs):
        self.records: dict[tuple[int, str], int] = defaultdict(int)
        self._at: dict[tuple[int, str], tuple[int, bytes]] = {}
        super().__init__(*args, **kwargs)

    def _seen(self, conn, direction, chunk) -> None:
        """Counts the 5-byte record headers in chunk, skipping each record's body (a record
        may span chunks: where this direction stands is kept per connection)."""
        need, head = self._at.get((conn.id, direction), (0, b""))
        found, at = 0, 0
        while at < len(chunk):
            if need:
                step = min(need, len(chunk) - at)
                need, at = need - step, at + step
                continue
            step = min(5 - len(head), len(chunk) - at)
            head, at = head + chunk[at:at + step], at + step
            if len(head) == 5:
                need, head, found = int.from_bytes(head[3:5], "big"), b"", found + 1
        self._at[(conn.id, direction)] = (need, head)  # one thread per direction writes this key
        with self._lock:
            self.records[(conn.id, direction)] += found

    def figures(self) -> dict[int, tuple[int, int, int, int, int]]:
        """connection -> (down, up, records down, records up, turns)."""
        with self._lock:
            return {c.id: (c.down, c.up, self.records[(c.id, "down")], self.records[(c.id, "up")], c.turns)
                    for c in self._conns}


def test_costs_agree_with_a_byte_counting_proxy(bed):
    # Big enough steps: 60 generated messages with realistic headers (Received, lists,
    # encoded-words: 1-3 KB each) for "list the newest 50", and a newest message with a 6 KB
    # text part and a 300 KB attachment for "open one". The proxy counts TLS records, the
    # trace the plaintext inside them; each record adds 22 bytes (TLS 1.3), which over steps
    # this size stays under 5% of what the server sends. The client's side of a step is a
    # command or two, where 22 bytes a record is far more than 5%: there the record overhead
    # the proxy counted is taken off before comparing.
    bed.fill(USER, 60)
    body = "Quarterly figures, line by line.\n" * 180
    bed.deliver_files(USER, [rich_message("the big one", body=body, attachments=[
        ("data.bin", os.urandom(300_000), "application/octet-stream")])], flags="S")  # read: it is opened
    base = account(bed)
    with RecordProxy(base.imap.port) as imap_proxy, RecordProxy(base.pop3.port) as pop3_proxy:
        proxied = account(bed, imap={"port": imap_proxy.port}, pop3={"port": pop3_proxy.port})
        seen: dict[tuple[str, str], dict] = {}

        def on_step(phase: str, name: str) -> None:
            proxy = imap_proxy if name.startswith("imap.") else pop3_proxy
            seen[(phase, name)] = proxy.figures()

        report = run_compare(proxied, password(bed), on_step=on_step)
    opened = report.cost(OPEN_ONE)
    big = re.match(r"UID (\d+) = POP3 #61, a 40\d\.\d KB message already read", opened.note)
    assert big, opened.note  # the big one
    checked = []
    for task in (LIST_NEWEST, OPEN_ONE):
        for protocol in ("imap", "pop3"):
            name = f"{protocol}.{task}"
            start, end = seen[("start", name)], seen[("end", name)]
            delta = {c: tuple(x - y for x, y in zip(end[c], start.get(c, (0,) * 5))) for c in end}
            conn = max(delta, key=lambda c: delta[c][0] + delta[c][1])  # the measured session's
            down, up, rec_down, rec_up, turns = delta[conn]
            cost = getattr(report.cost(task), protocol)
            figures = (f"{name}: trace {cost.bytes_in} in / {cost.bytes_out} out / {cost.round_trips} rt; "
                       f"proxy {down} down ({rec_down} records) / {up} up ({rec_up} records) / {turns} turns")
            checked.append(figures)
            assert abs(cost.bytes_in - down) <= 0.05 * down, figures
            assert abs(cost.bytes_in - (down - TLS13_OVERHEAD * rec_down)) <= 0.05 * cost.bytes_in, figures
            assert abs(cost.bytes_out - (up - TLS13_OVERHEAD * rec_up)) <= 0.05 * cost.bytes_out, figures
            assert cost.round_trips == turns, figures
    print("\n".join(checked))
    listing = report.cost(LIST_NEWEST)
    assert listing.imap.bytes_in > 20_000 and listing.pop3.bytes_in > 20_000
    assert opened.pop3.bytes_in > 300_000 > 20 * opened.imap.bytes_in  # RETR: all of it; IMAP: the text
    assert listing.pop3.commands == ("STAT", "UIDL n x50", "LIST n x50", "TOP n 0 x50")
    assert any(c.startswith("FETCH 12:61 (UID FLAGS ENVELOPE") for c in listing.imap.commands)
    assert opened.imap.commands == (f"UID FETCH {big.group(1)} (BODY.PEEK[1])",)
    assert opened.pop3.commands == ("RETR n",)


# A plain run changes nothing; --experiment observes and cleans up ---------------------------------

def test_why_the_plain_run_sends_rset_after_retr(bed):
    """What compare_run.py's RSET is for: Dovecot marks a message RETRieved over POP3 \\Seen
    when the session ends, even when the connection just drops without QUIT; RSET first
    makes it forget."""
    bed.deliver_files(USER, [message(1)])
    (message_id,) = flags_now(bed)
    pop = Pop3Session.connect(account(bed), password(bed))
    pop.stat()
    pop.retr_bytes(1)
    pop.close()  # dropped: no QUIT
    assert wait_for_flags(bed, message_id, lambda flags: "\\Seen" in flags) == {"\\Seen"}
    with other_client(bed, "INBOX") as client:
        client.remove_flags(client.search("ALL"), ["\\Seen"])
    pop = Pop3Session.connect(account(bed), password(bed))
    pop.stat()
    pop.retr_bytes(1)
    assert pop.rset() and pop.quit()
    assert flags_now(bed) == {message_id: frozenset()}


def wait_for_flags(bed, message_id: str, done, seconds: float = 5.0) -> set[str]:
    """The message's flags once done(flags) holds (the server applies a dropped session's
    changes when it notices the disconnect), or as they are after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        flags = set(flags_now(bed)[message_id])
        if done(flags) or time.monotonic() > deadline:
            return flags
        time.sleep(0.05)


def test_a_plain_run_changes_no_flag_and_deletes_nothing(bed):
    bed.deliver_files(USER, [message(i, size=3_000) for i in range(1, 8)])  # all unread
    bed.deliver_files(USER, [message(i) for i in range(8, 10)], flags="F")
    before = flags_now(bed)
    report = run_compare(account(bed), password(bed))
    assert flags_now(bed) == before and len(before) == 9
    # no message is read, so the RETR went to an unread one: the newest, protected by RSET
    assert re.match(r"UID \d+ = POP3 #9, .* not read", report.cost(OPEN_ONE).note)
    assert any(re.fullmatch(r"checked: UID \d+, opened over POP3 \(RETR, then RSET\), still has the flags it "
                            r"had before: \(\\Flagged\)", n) for n in report.notes), report.notes
    assert all(c.status == NOT_RUN and c.answer is None for c in report.checks)
    assert not any("mark messages read" in line for line in report.summary)


def test_a_plain_run_opens_a_read_message_when_there_is_one(bed):
    bed.deliver_files(USER, [message(i) for i in range(1, 4)])
    bed.deliver_files(USER, [message(4)], flags="S")
    bed.deliver_files(USER, [message(5)])
    before = flags_now(bed)
    report = run_compare(account(bed), password(bed))
    assert re.match(r"UID \d+ = POP3 #4, .* already read", report.cost(OPEN_ONE).note)
    assert flags_now(bed) == before


def test_experiment_checks_match_direct_connections_and_clean_up(bed):
    bed.deliver_files(USER, [message(i) for i in range(1, 4)])
    before = flags_now(bed)
    direct: dict[str, object] = {}

    def test_message(client) -> list[int]:
        return client.search(["HEADER", "Message-ID", "@tuimail.invalid"])

    def on_step(phase: str, name: str) -> None:
        if phase != "end" or not name.startswith("experiment."):
            return
        with other_client(bed, "INBOX") as client:  # a second connection of our own
            uids = test_message(client)
            flags = client.get_flags(uids) if uids else {}
        direct[name] = {u: {f.decode() for f in fl} for u, fl in flags.items()}
        if name == f"experiment.{FLAGS_VISIBLE}":
            direct["uidls"] = pop3_uidls(bed)

    report = run_compare(account(bed), password(bed), CompareOptions(experiment=True), on_step=on_step)
    retr, flags, dele = report.check(RETR_SETS_SEEN), report.check(FLAGS_VISIBLE), report.check(DELE_REMOVES)
    assert [c.id for c in report.checks] == [RETR_SETS_SEEN, FLAGS_VISIBLE, DELE_REMOVES]
    assert all(c.status == OBSERVED for c in report.checks), report.checks

    after_retr = direct[f"experiment.{RETR_SETS_SEEN}"]
    assert len(after_retr) == 1
    assert retr.answer == ("\\Seen" in next(iter(after_retr.values())))
    assert retr.answer is True  # what Dovecot really does (pop3_no_flag_updates = no)
    assert "Reading with POP3 on another device will mark messages read here." in report.summary

    after_flagging = direct[f"experiment.{FLAGS_VISIBLE}"]
    assert "\\Flagged" in next(iter(after_flagging.values()))
    assert flags.answer is False and flags.answer_text.startswith("no: POP3 has no flags")
    newest = max(direct["uidls"])  # the test message is the newest in the maildrop
    assert any(f"UIDL {direct['uidls'][newest]}" in line for line in flags.evidence)

    assert direct[f"experiment.{DELE_REMOVES}"] == {}  # gone, seen from a fresh connection
    assert dele.answer is True and "gone from IMAP" in dele.answer_text
    assert flags_now(bed) == before  # the test message is gone and nothing else changed
    assert any("is gone from INBOX" in n for n in report.notes)


# The keep-on-server policy ---------------------------------------------------------------------

def test_keep_policy_dry_run_against_the_local_store(bed, tmp_path):
    bed.deliver_files(USER, [message(i) for i in range(1, 4)])
    fresh = run_compare(account(bed, keep_on_server=False), password(bed))
    assert fresh.keep.store.startswith("no local POP3 store") and fresh.keep.would_download == 3
    assert fresh.keep.delete_after_download == 3 and fresh.keep.would_delete == ()
    assert not (tmp_path / "data" / "tuimail").exists()  # the scratch store is gone
    sync = make_sync(bed, tmp_path / "data" / "tuimail" / "pop3" / USER)  # download all, keep all
    assert len(sync.sync().downloaded) == 3
    sync.store.close()
    report = run_compare(account(bed, keep_on_server=False), password(bed))
    keep = report.keep
    assert keep.store.startswith("the local POP3 store") and keep.would_download == 0
    assert [i.number for i in keep.would_delete] == [1, 2, 3] and keep.delete_after_download == 0
    assert "a sync would delete 3 message(s) on the server now" in " ".join(report.summary)
    assert len(flags_now(bed)) == 3  # a dry run: nothing deleted


# Export and CLI -----------------------------------------------------------------------------------

@pytest.fixture
def cli(bed, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
               XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=str(ROOT))

    def run(*args: str, ok: bool = True, **overrides) -> subprocess.CompletedProcess:
        config = tmp_path / "config.toml"
        config.write_text(bed.config_toml(USER, **{"timeout": 10, **overrides}))
        done = subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), "compare", *args],
                              capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return run


def test_cli_json_and_exports(cli, bed, tmp_path):
    bed.deliver_files(USER, [message(i) for i in range(1, 4)] + [no_message_id("a | pipe and \x1b[31mred")])
    markdown, exported = tmp_path / "report.md", tmp_path / "report.json"
    done = cli("--json", "--markdown", str(markdown), "--json-file", str(exported))
    data = json.loads(done.stdout)
    assert {"schema", "account", "imap", "pop3", "matches", "costs", "checks", "keep_policy", "summary",
            "notes"} <= set(data)
    assert data["schema"] == 1 and data["account"] == USER and data["experiment"] is False
    assert {"connection", "sees"} == set(data["imap"]) == set(data["pop3"])
    assert data["imap"]["connection"]["tls"]["version"].startswith("TLSv1.")
    assert "PLAIN" in data["pop3"]["connection"]["auth_mechanisms"]
    assert data["pop3"]["sees"]["count"] == 4 and data["pop3"]["sees"]["folders"] == ["INBOX"]
    assert data["matches"]["counts"]["both"] == 4 and data["matches"]["counts"]["by_size_date"] == 1
    assert all(r["imap"]["uid"] and r["pop3"]["uidl"] for r in data["matches"]["rows"])
    assert [c["task"] for c in data["costs"]] == ["login", "list_newest", "open_one"]
    assert all(c["run"] is False and c["answer_text"] == "not run (needs --experiment)" for c in data["checks"])
    saved = json.loads(exported.read_text())
    assert saved["matches"] == data["matches"] and saved["checks"] == data["checks"]
    text = markdown.read_text()
    assert "| | IMAP | POP3 |" in text and "## Match table" in text
    assert text.count("| both | message-id |") == 3 and text.count("| both | size+date |") == 1
    assert "a \\| pipe and red" in text and "\x1b" not in text


def test_cli_text_output_side_by_side(cli, bed):
    bed.deliver_files(USER, [message(i) for i in range(1, 3)] + [no_message_id("\x1b]0;evil title\x07hi")])
    out = cli().stdout
    lines = out.splitlines()
    header = next(line for line in lines if line.strip().startswith("IMAP"))
    assert header.split() == ["IMAP", "|", "POP3"]
    assert any(line.startswith("TLS ") and line.count("TLSv1.") == 2 for line in lines)
    assert "match table: 3 in both (2 by Message-ID, 1 by size+date)" in out
    assert out.count("not run (needs --experiment)") == 3 and "\x1b" not in out and "\x07" not in out
    assert "hi" in out and "summary" in lines


def test_cli_fails_in_one_line_without_a_pop3_server(cli):
    done = cli(pop3=None, ok=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"tuimail: account '{USER}' has no [accounts.{USER}.pop3] table; compare needs both IMAP and POP3"]
