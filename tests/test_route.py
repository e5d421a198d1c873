"""The route and its oddities on written messages; every corpus message through the whole analysis."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.corpus_support import CONTROL, CORPUS, corpus_messages, needs_corpus
from tuimail.model.authres import auth_report
from tuimail.model.forensics import analysis_json, forward_kind
from tuimail.model.route import header_items, route_of

_messages = corpus_messages


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@needs_corpus
@pytest.mark.parametrize("path", _messages(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_message_is_analysed_and_no_received_header_is_lost(path: Path):
    raw = path.read_bytes()
    received = [v for k, v in header_items(raw) if k.lower() == "received"]
    route = route_of(raw)
    assert len(route.hops) == len(received)
    assert all(h.parsed or h.raw or not v.strip() for h, v in zip(route.hops, reversed(received)))
    assert sum(1 for o in route.oddities if "not understood" in o) == sum(1 for h in route.hops if not h.parsed)
    auth_report(raw, ["mx.google.com"])
    assert forward_kind(raw) in ("attachment", "inline", "none")
    data = analysis_json(raw)
    json.dumps(data)
    assert len(data["route"]["hops"]) == len(received)
    for text in _strings(data):
        assert not CONTROL.search(text), text


@needs_corpus
def test_the_corpus_really_has_routes():
    counts = [len(route_of(p.read_bytes()).hops) for p in _messages()]
    assert sum(counts) >= 250 and max(counts) >= 13


def _message(*received: str, extra: str = "", body: str = "hello\n") -> bytes:
    head = "".join(f"Received: {r}\r\n" for r in received)
    return (head + extra + "From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\n\r\n" + body).encode()


# Newest first, as MTAs prepend them.
LAST = "from mx.example.net (mx.example.net [198.51.100.2]) by inbox.example.net with LMTP id L1; Tue, 2 Jan 2024 10:00:10 +0000"
MIDDLE = ("from out.example.org (out.example.org [203.0.113.5]) (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 "
          "(128/128 bits)) by mx.example.net (Postfix) with ESMTPS id M1; Tue, 2 Jan 2024 10:00:05 +0000")
FIRST = ("from laptop (unknown [192.0.2.10]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)) "
         "by out.example.org (Postfix) with ESMTPSA id F1; Tue, 2 Jan 2024 10:00:00 +0000")


def test_a_clean_route_has_delays_total_and_no_oddities():
    route = route_of(_message(LAST.replace("with LMTP", "with LMTPS"), MIDDLE, FIRST))
    assert [h.by_host for h in route.hops] == ["out.example.org", "mx.example.net", "inbox.example.net"]
    assert [h.delay for h in route.hops] == [None, timedelta(seconds=5), timedelta(seconds=5)]
    assert route.total == timedelta(seconds=10) and route.oddities == ()


def test_clock_going_backwards_is_flagged():
    backwards = MIDDLE.replace("10:00:05", "09:58:00")
    route = route_of(_message(LAST.replace("with LMTP", "with LMTPS"), backwards, FIRST))
    assert route.hops[1].delay == timedelta(minutes=-2)
    assert route.oddities == ("hop 2: clock goes backwards by 2 min 0 s",)


def test_a_hop_without_tls_is_flagged():
    route = route_of(_message(LAST, MIDDLE, FIRST))
    assert route.hops[2].tls is None
    assert route.oddities == ("hop 3: no TLS from mx.example.net",)


def test_a_private_address_in_the_middle_is_flagged_but_not_at_the_start():
    private = MIDDLE.replace("203.0.113.5", "10.20.30.40")
    first_public = FIRST.replace("192.0.2.10", "198.51.100.77")
    route = route_of(_message(LAST.replace("with LMTP", "with LMTPS"), private, first_public))
    assert route.oddities == ("hop 2: private or loopback address 10.20.30.40 after public hops",)
    lan_start = route_of(_message(LAST.replace("with LMTP", "with LMTPS"), MIDDLE,
                                  FIRST.replace("192.0.2.10", "192.168.1.20")))
    assert lan_start.oddities == ()


def test_a_gap_is_flagged():
    late = LAST.replace("with LMTP", "with LMTPS").replace("10:00:10", "13:00:10")
    route = route_of(_message(late, MIDDLE, FIRST))
    assert route.oddities == ("hop 3: took 3 h 0 min since the previous hop",)
    assert route.total == timedelta(hours=3, seconds=10)


def test_an_unparsable_line_is_kept_raw_and_flagged():
    route = route_of(_message(LAST.replace("with LMTP", "with LMTPS"), "\x1b[31m%%% garbage %%%", MIDDLE, FIRST))
    assert len(route.hops) == 4
    odd = route.hops[2]
    assert not odd.parsed and odd.raw == "%%% garbage %%%"
    assert route.oddities == ("hop 3: not understood; shown as written",)
    assert route.hops[3].delay == timedelta(seconds=5)  # measured from the last hop with a time


def test_forward_kinds():
    assert forward_kind(_message(FIRST)) == "none"
    inline = _message(FIRST, body="see below\n\n---------- Forwarded message ----------\nFrom: x@y\n\nold text\n")
    assert forward_kind(inline) == "inline"
    attached = (b"From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
                b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n"
                b"Received: by x.example; Tue, 2 Jan 2024 10:00:00 +0000\r\nFrom: o@example.org\r\n"
                b"Subject: old\r\n\r\nold body\r\n--B--\r\n")
    assert forward_kind(attached) == "attachment"
    assert len(route_of(attached).hops) == 0  # the attached original's route is its own
    assert analysis_json(attached)["forward"] == "attachment"
