"""Authentication-Results, ARC, Received-SPF and DKIM-Signature: parsed, trusted only when listed."""
from __future__ import annotations

from tests.corpus_support import CORPUS, needs_corpus
from tuimail.model.authres import NOT_VERIFIED, auth_report

HEAD = (
    "Authentication-Results: mx.example.net;\r\n"
    "\tspf=pass (sender permitted) smtp.mailfrom=bounce@mail.example.org;\r\n"
    "\tdkim=pass (2048-bit key) header.d=example.org header.s=sel1 header.b=abcd;\r\n"
    "\tdmarc=pass (p=reject) header.from=example.org\r\n"
    "Authentication-Results: evil.example; dkim=pass header.d=paypal.com; spf=pass smtp.mailfrom=paypal.com\r\n"
    "ARC-Authentication-Results: i=1; relay.example.com; arc=none; dkim=fail header.i=@example.org\r\n"
    "Received-SPF: softfail (mx.example.net: domain of transitioning x@other.example does not designate "
    "192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=\"x@other.example\"; helo=h.other.example;\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=sel1;\r\n"
    "\th=From:To:Subject:Date : Message-ID; bh=xyz=; b=abc\r\n"
    "\t def=\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=esp.example; s=k2; h=from:subject; bh=q; b=r\r\n"
    "Return-Path: <bounce@mail.example.org>\r\n"
    "From: \"Example\" <news@example.org>\r\n"
    "Subject: hi\r\n\r\nbody\r\n"
).encode()


def _by(report, source, method):
    return [c for c in report.checks if c.source == source and c.method == method]


def test_trusted_and_untrusted_authentication_results():
    report = auth_report(HEAD, ["MX.example.net"])
    ours = [c for c in report.checks if c.authserv_id == "mx.example.net" and c.source == "Authentication-Results"]
    assert [(c.method, c.result, c.domain, c.selector, c.trusted) for c in ours] == [
        ("spf", "pass", "mail.example.org", None, True),
        ("dkim", "pass", "example.org", "sel1", True),
        ("dmarc", "pass", "example.org", None, True)]
    claims = [c for c in report.checks if c.authserv_id == "evil.example"]
    assert [(c.method, c.domain, c.trusted) for c in claims] == [("dkim", "paypal.com", False),
                                                                 ("spf", "paypal.com", False)]
    assert any("untrusted claims from" in n and "evil.example" in n for n in report.notes)
    assert NOT_VERIFIED in report.notes


def test_nothing_is_trusted_without_the_setting():
    report = auth_report(HEAD)
    assert report.checks and not any(c.trusted for c in report.checks)


def test_arc_authentication_results_skips_the_instance_tag():
    arc = _by(auth_report(HEAD, ["relay.example.com"]), "ARC-Authentication-Results", "dkim")
    assert [(c.authserv_id, c.result, c.domain, c.trusted) for c in arc] == [("relay.example.com", "fail",
                                                                            "example.org", True)]
    assert _by(auth_report(HEAD), "ARC-Authentication-Results", "arc")[0].result == "none"


def test_received_spf():
    [spf] = _by(auth_report(HEAD, ["mx.example.net"]), "Received-SPF", "spf")
    assert (spf.result, spf.domain, spf.authserv_id, spf.trusted) == ("softfail", "other.example",
                                                                      "mx.example.net", True)


def test_dkim_signature_tags():
    sigs = auth_report(HEAD).dkim_signatures
    assert sigs[0] == {"d": "example.org", "s": "sel1", "h": ["from", "to", "subject", "date", "message-id"],
                       "a": "rsa-sha256", "i": None}
    assert (sigs[1]["d"], sigs[1]["s"], sigs[1]["h"]) == ("esp.example", "k2", ["from", "subject"])


def test_alignment():
    report = auth_report(HEAD)
    assert (report.from_domain, report.return_path_domain) == ("example.org", "mail.example.org")
    assert report.alignment == {"dkim": "aligned", "spf": "aligned"}  # relaxed: same organizational domain
    foreign = HEAD.replace(b"d=example.org; s=sel1", b"d=esp.example; s=sel1").replace(
        b"header.d=example.org", b"header.d=esp.example").replace(b"header.i=@example.org", b"header.i=@esp.example")
    foreign = foreign.replace(b"Return-Path: <bounce@mail.example.org>", b"Return-Path: <b@esp.example>")
    foreign = foreign.replace(b"header.d=paypal.com", b"header.d=esp.example")
    assert auth_report(foreign).alignment == {"dkim": "not aligned", "spf": "not aligned"}
    bare = b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    assert auth_report(bare).alignment == {"dkim": "none", "spf": "none"}
    assert auth_report(b"From: a@example.co.uk\r\nReturn-Path: <x@bounces.example.co.uk>\r\n\r\n"
                       ).alignment["spf"] == "aligned"


def test_microsoft_results_without_an_authserv_id_are_never_trusted():
    raw = (b"Authentication-Results: spf=none (sender IP is 192.0.2.1) smtp.helo=h.example; dkim=none "
           b"(message not signed) header.d=none;dmarc=fail action=none header.from=example.org;\r\n"
           b"From: a@example.org\r\n\r\nx\r\n")
    report = auth_report(raw, [""])
    assert [(c.method, c.result, c.domain, c.authserv_id, c.trusted) for c in report.checks] == [
        ("spf", "none", "h.example", "", False), ("dkim", "none", None, "", False),
        ("dmarc", "fail", "example.org", "", False)]


def test_hostile_values_never_raise_and_come_back_clean():
    raw = (b"Authentication-Results: \x1b]0;x\x07evil; dkim=pass header.d=\x1b[2Jx.example\r\n"
           b"Received-SPF: \r\nDKIM-Signature: ;;;===; h=\r\nFrom: <>\r\n\r\n")
    report = auth_report(raw, ["evil"])
    for check in report.checks:
        for text in (check.method, check.result, check.domain or "", check.authserv_id, check.raw):
            assert "\x1b" not in text and "\x07" not in text


@needs_corpus
def test_gmail_corpus_message_results():
    report = auth_report((CORPUS / "mimekit/dkim/gmail.msg").read_bytes(), ["mx.google.com"])
    trusted = [(c.method, c.result, c.domain) for c in report.checks if c.trusted]
    assert trusted == [("spf", "pass", "gmail.com"), ("dkim", "pass", "gmail.com"), ("dmarc", "pass", "gmail.com")]
    untrusted = [(c.source, c.authserv_id) for c in report.checks if not c.trusted]
    assert untrusted == [("Received-SPF", "google.com")]
    assert report.dkim_signatures[0]["d"] == "gmail.com" and report.dkim_signatures[0]["s"] == "20120113"
    assert report.alignment == {"dkim": "aligned", "spf": "aligned"}
