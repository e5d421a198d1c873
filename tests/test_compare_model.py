"""The compare report model without a server: the matcher on constructed inputs (the cases
Dovecot cannot be made to produce on demand, e.g. duplicate Message-IDs), the plain-language
summary, and the JSON, Markdown and text renderers with hostile strings."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from tuimail.model.compare import (BOTH, BY_MESSAGE_ID, BY_SIZE_DATE, DELE_REMOVES, FLAGS_VISIBLE, IMAP_ONLY,
                                   LIST_NEWEST, NOT_RUN, OBSERVED, OPEN_ONE, POP3_ONLY, QUESTIONS, RETR_SETS_SEEN,
                                   UNMATCHED, CompareReport, ConnectionFacts, Cost, CostComparison, FolderCount,
                                   ImapItem, ImapView, KeepDryRun, KeepItem, MatchTable, Pop3Item, Pop3View,
                                   SemanticsCheck, keep_within, match_messages, normalise_message_id,
                                   summary_lines)
from tuimail.model.compare_render import report_json, report_markdown, text_lines

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_message_ids_are_compared_normalised():
    assert normalise_message_id(" <abc@x.example> ") == "abc@x.example"
    assert normalise_message_id("<abc@\r\n x.example>") == "abc@x.example"  # a folded header
    assert normalise_message_id("abc@x.example") == "abc@x.example"
    assert normalise_message_id("<ABC@x.example>") != normalise_message_id("<abc@x.example>")  # case kept
    assert normalise_message_id(None) == normalise_message_id("") == ""


def test_matching_by_message_id_then_size_and_date_then_one_sided():
    imap = [ImapItem(10, "<a@x>", 100, WHEN, subject="a"),
            ImapItem(11, "", 200, WHEN + timedelta(hours=1), subject="no id"),
            ImapItem(12, "<c@x>", 300, WHEN, subject="only imap"),
            ImapItem(13, "", 400, None, subject="no id, no date")]
    pop3 = [Pop3Item(1, "U1", "a@x", 100, WHEN, "a"),
            # the same instant in another zone: still the same Date
            Pop3Item(2, "U2", "", 200, (WHEN + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5))), "no id"),
            Pop3Item(3, "U3", "<d@x>", 300, WHEN, "only pop3"),
            Pop3Item(4, "U4", "", 400, None, "no id, no date")]
    rows = match_messages(imap, pop3, uidvalidity=77)
    summary = [(r.where, r.matched_by, r.imap_uid, r.pop3_number) for r in rows]
    assert summary == [(IMAP_ONLY, UNMATCHED, 13, None), (POP3_ONLY, UNMATCHED, None, 4),
                       (IMAP_ONLY, UNMATCHED, 12, None), (POP3_ONLY, UNMATCHED, None, 3),
                       (BOTH, BY_SIZE_DATE, 11, 2), (BOTH, BY_MESSAGE_ID, 10, 1)]
    by_uid = {r.imap_uid: r for r in rows if r.imap_uid}
    assert by_uid[10].key == "a@x" and by_uid[10].uidl == "U1" and by_uid[10].uidvalidity == 77
    assert by_uid[11].key == "size+date 200 2024-05-06T08:08:09Z"
    assert by_uid[12].key == "c@x" and by_uid[13].key == "(no Message-ID)"
    pop3_only = [r for r in rows if r.where == POP3_ONLY]
    assert all(r.uidvalidity is None and r.imap_size is None for r in pop3_only)


def test_duplicates_pair_in_mailbox_order_and_sizes_are_kept_per_side():
    imap = [ImapItem(5, "<dup@x>", 100, WHEN), ImapItem(9, "<dup@x>", 120, WHEN)]
    pop3 = [Pop3Item(1, "A", "<dup@x>", 100, WHEN), Pop3Item(2, "B", "<dup@x>", 121, WHEN)]
    rows = match_messages(imap, pop3)
    assert [(r.imap_uid, r.pop3_number, r.sizes_agree) for r in rows] == [(9, 2, False), (5, 1, True)]
    table = MatchTable(rows, 2, 2, 2, 2, 500)
    assert table.size_mismatches == 1 and not table.capped


def test_a_message_id_on_one_side_only_falls_back_to_size_and_date():
    rows = match_messages([ImapItem(1, "", 50, WHEN)], [Pop3Item(1, "U", "<x@y>", 50, WHEN)])
    assert [(r.where, r.matched_by) for r in rows] == [(BOTH, BY_SIZE_DATE)]


def test_keep_within_drops_rows_made_only_of_the_margin():
    imap = [ImapItem(uid, f"<{uid}@x>", 10, WHEN) for uid in (1, 2, 3)]
    pop3 = [Pop3Item(1, "a", "<2@x>", 10, WHEN), Pop3Item(2, "b", "<3@x>", 10, WHEN), Pop3Item(3, "c", "<9@x>", 10, WHEN)]
    assert [r.matched_by for r in match_messages(imap, pop3)].count(BY_SIZE_DATE) == 0  # ids differ
    rows = match_messages(imap, pop3)
    kept = keep_within(rows, imap_uids={2, 3}, pop3_numbers={2, 3})
    # uid 1 (imap-only) lies in the margin and goes; uid 2 pairs with POP3 #1 (margin): kept
    assert sorted((r.imap_uid or 0, r.pop3_number or 0) for r in kept) == [(0, 3), (2, 1), (3, 2)]


def report(**changes) -> CompareReport:
    base = CompareReport(
        account="work", email="me@example.org", started=WHEN, seconds=1.5,
        imap=ConnectionFacts("imap", "imap.example.org", 993, "tls", capabilities=("IMAP4REV1", "AUTH=PLAIN"),
                             auth_mechanisms=("PLAIN",), login_command="LOGIN", login_seconds=0.01),
        pop3=ConnectionFacts("pop3", "pop.example.org", 995, "tls", capabilities=("TOP", "UIDL"),
                             auth_mechanisms=("PLAIN",), login_command="AUTH PLAIN", login_seconds=0.02),
        imap_view=ImapView((FolderCount("INBOX", "inbox", 2, 1), FolderCount("Sent", "sent", 5, 0)), 2, 2, 42, 9),
        pop3_view=Pop3View(2, 3_000),
        matches=MatchTable(match_messages([ImapItem(7, "<p@x>", 10, WHEN, subject="a | b \x1b[2J<script>")],
                                          [Pop3Item(1, "UIDL\x1b]0;x\x07", "<p@x>", 10, WHEN, "a | b")], 42),
                           1, 1, 1, 1, 500),
        costs=(CostComparison(LIST_NEWEST, "list the newest 50 headers", Cost(30_000, 100, 3, 0.02, ("FETCH 1:2",)),
                              Cost(33_000, 1_400, 2, 0.01, ("STAT", "TOP n 0 x2"))),
               CostComparison(OPEN_ONE, "open one message", Cost(1_000, 30, 1, 0.01), Cost(400_000, 9, 1, 0.2))),
        checks=tuple(SemanticsCheck.not_run(c) for c in QUESTIONS),
        keep=KeepDryRun("keep on the server", "scratch", 2, 2))
    return replace(base, **changes)


def test_the_summary_claims_only_what_was_observed():
    plain = summary_lines(report())
    assert not any("mark messages read" in line for line in plain)
    assert not any("POP3 has no flags" in line for line in plain)
    assert any("36.6 KB" not in line and "29.3 KB" in line and "2 over POP3" in line for line in plain)
    assert any("the part shown" in line and "390.6 KB" in line for line in plain)
    assert any("a sync would delete nothing" in line for line in plain)
    seen = SemanticsCheck(RETR_SETS_SEEN, QUESTIONS[RETR_SETS_SEEN], OBSERVED, True, "yes")
    not_seen = replace(seen, answer=False, answer_text="no")
    no_flags = SemanticsCheck(FLAGS_VISIBLE, QUESTIONS[FLAGS_VISIBLE], OBSERVED, False, "no")
    gone = SemanticsCheck(DELE_REMOVES, QUESTIONS[DELE_REMOVES], OBSERVED, True, "yes")
    yes = summary_lines(report(checks=(seen, no_flags, gone)))
    assert "Reading with POP3 on another device will mark messages read here." in yes
    assert any("POP3 has no flags" in line for line in yes)
    assert "A POP3 client that deletes from the server removes the message here too." in yes
    no = summary_lines(report(checks=(not_seen,)))
    assert "Reading with POP3 on another device will not mark messages read here." in no
    deleting = summary_lines(report(keep=KeepDryRun("delete on the server after download", "store", 3, 1,
                                                    (KeepItem(1, "U1", 10),), 1)))
    assert any("would delete 1 message(s) on the server now and 1 more once downloaded" in line for line in deleting)


def test_json_is_json_safe_with_the_expected_keys():
    data = json.loads(json.dumps(report().to_json()))
    assert data == report_json(report())
    assert data["imap"]["connection"]["login_command"] == "LOGIN"
    assert data["imap"]["sees"]["inbox"] == {"exists": 2, "uidvalidity": 42, "uidnext": 9}
    assert data["matches"]["rows"][0]["imap"] == {"uid": 7, "uidvalidity": 42, "size": 10}
    assert data["matches"]["rows"][0]["date"] == "2024-05-06T07:08:09+00:00"
    assert [c["status"] for c in data["checks"]] == [NOT_RUN] * 3
    assert data["costs"][0]["pop3"]["commands"] == ["STAT", "TOP n 0 x2"]


def test_markdown_has_both_columns_and_keeps_hostile_text_inert():
    text = report_markdown(report())
    assert text == report().to_markdown()
    assert "| | IMAP | POP3 |" in text and "## Match table" in text
    row = next(line for line in text.splitlines() if line.startswith("| both |"))
    assert "a \\| b \\<script\\>" in row and row.count(" | ") == 8  # nine cells, the pipe escaped
    assert "\x1b" not in text and "\x07" not in text
    assert "not run (needs --experiment)" in text  # parentheses need no escaping here


def test_text_lines_are_side_by_side_safe_and_truncated():
    many = match_messages([ImapItem(u, f"<{u}@x>", 10, WHEN, subject=f"s{u}") for u in range(1, 31)],
                          [Pop3Item(n, f"U{n}", f"<{n}@x>", 10, WHEN) for n in range(1, 30)])
    lines = text_lines(report(matches=MatchTable(many, 30, 29, 30, 29, 500)), rows=5)
    assert lines[3].split() == ["IMAP", "|", "POP3"]
    assert any(line.startswith("login") and "LOGIN in 0.010 s" in line and "AUTH PLAIN in 0.020 s" in line
               for line in lines)
    table = lines[lines.index(next(line for line in lines if line.startswith("match table"))):]
    assert table[2].split()[:3] == ["imap-only", "none", "30"]  # one-sided rows come first
    assert "... 25 more row(s) not shown" in "\n".join(lines)
    hostile = text_lines(report())
    assert not any("\x1b" in line or "\x07" in line for line in hostile)
