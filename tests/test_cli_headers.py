"""`tuimail headers`: --json on a corpus message field by field, and a real route through the testbed."""
from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path


from tests.corpus_support import CORPUS, needs_corpus
from tuimail.model.route import route_of

ROOT = Path(__file__).resolve().parents[1]
GMAIL = CORPUS / "mimekit" / "dkim" / "gmail.msg"


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "XDG_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(ROOT))
    return env


def _run(tmp_path: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuimail", *args], capture_output=True, timeout=60,
                          env=_env(tmp_path), cwd=tmp_path, input=stdin)


@needs_corpus
def test_json_for_a_corpus_message_field_by_field(tmp_path):
    done = _run(tmp_path, "headers", "--file", str(GMAIL), "--json", "--trust", "mx.google.com")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == 1 and data["forward"] == "none"
    assert set(data) == {"schema", "route", "auth", "forward", "headers"}
    assert data["headers"][0] == {"name": "Delivered-To", "value": "jeff@xamarin.com"}
    assert {"name": "Subject", "value": "Testing verification of Google DKIM-Signature headers"} in data["headers"]
    route = data["route"]
    assert route["total_seconds"] == 0.0 and route["oddities"] == []
    assert len(route["hops"]) == 4
    mx = route["hops"][2]
    assert mx == {"index": 3, "parsed": True, "from_host": "mail-la0-x241.google.com",
                  "from_ip": "2a00:1450:4010:c03::241", "by_host": "mx.google.com", "protocol": "ESMTPS",
                  "tls": "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256", "authenticated": False,
                  "envelope_for": "jeff@xamarin.com", "id": "pt2si10769662lbb.46.2015.06.10.19.05.37",
                  "when": "2015-06-10T19:05:37-07:00", "delay_seconds": 0.0, "notes": [], "raw": mx["raw"]}
    assert mx["raw"].startswith("from mail-la0-x241.google.com (") and "\n" not in mx["raw"]
    assert route["hops"][0]["protocol"] == "HTTP" and route["hops"][0]["delay_seconds"] is None
    assert [h["by_host"] for h in route["hops"]] == ["10.25.21.73", "lams18", "mx.google.com", "10.152.28.6"]
    auth = data["auth"]
    assert [(c["method"], c["result"], c["domain"], c["authserv_id"], c["trusted"], c["source"])
            for c in auth["checks"]] == [
        ("spf", "pass", "gmail.com", "google.com", False, "Received-SPF"),
        ("spf", "pass", "gmail.com", "mx.google.com", True, "Authentication-Results"),
        ("dkim", "pass", "gmail.com", "mx.google.com", True, "Authentication-Results"),
        ("dmarc", "pass", "gmail.com", "mx.google.com", True, "Authentication-Results")]
    assert auth["dkim_signatures"] == [{"d": "gmail.com", "s": "20120113", "a": "rsa-sha256", "i": None,
                                        "h": ["mime-version", "date", "message-id", "subject", "from", "to",
                                              "content-type"]}]
    assert auth["from_domain"] == "gmail.com" and auth["return_path_domain"] == "gmail.com"
    assert auth["alignment"] == {"dkim": "aligned", "spf": "aligned"}
    assert any("not verified" in n for n in auth["notes"])


@needs_corpus
def test_text_route_auth_raw_and_stdin(tmp_path):
    raw = GMAIL.read_bytes()
    route = _run(tmp_path, "headers", "-", "--route", stdin=raw)
    assert route.returncode == 0, route.stderr
    out = route.stdout.decode()
    assert out.startswith("Route (4 hops") and "mail-la0-x241.google.com [2a00:1450:4010:c03::241] -> mx.google.com" in out
    assert "Authentication" not in out
    auth = _run(tmp_path, "headers", "--file", str(GMAIL), "--auth").stdout.decode()
    assert "dkim=pass (gmail.com)  by mx.google.com [Authentication-Results, untrusted claim]" in auth
    head = _run(tmp_path, "headers", "--file", str(GMAIL), "--raw").stdout.decode()
    assert head.startswith("Delivered-To: jeff@xamarin.com\nReceived: by 10.152.28.6") and "<html" not in head
    missing = _run(tmp_path, "headers", "--file", str(tmp_path / "nope.eml"))
    assert missing.returncode == 1 and b"cannot read" in missing.stderr


def test_a_message_through_the_testbed_shows_its_own_hops_with_tls(clean_testbed, tmp_path):
    bed = clean_testbed
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = bed.address("bob"), bed.address("alice"), "route test"
    msg.set_content("hops\n")
    with smtplib.SMTP(bed.host, bed.submission_port, timeout=10) as smtp:
        smtp.starttls(context=bed.client_context())
        smtp.login("bob", bed.users["bob"])
        smtp.send_message(msg)
    config = tmp_path / "config.toml"
    config.write_text(bed.config_toml("alice", timeout=10))
    listed = _run(tmp_path, "--config", str(config), "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = [m for m in json.loads(listed.stdout)["messages"] if m["subject"] == "route test"]
    done = _run(tmp_path, "--config", str(config), "headers", str(entry["uid"]), "--json")
    assert done.returncode == 0, done.stderr
    hops = json.loads(done.stdout)["route"]["hops"]
    raw = _run(tmp_path, "--config", str(config), "read", str(entry["uid"]), "--raw").stdout
    assert [h["by_host"] for h in hops] == [h.by_host for h in route_of(raw).hops]
    submission = [h for h in hops if "tuimail-testbed" in h["raw"]]
    assert len(submission) == 1, hops
    hop = submission[0]
    assert hop["parsed"] and hop["protocol"] == "ESMTPSA" and hop["authenticated"]
    assert hop["tls"] and hop["tls"].startswith("TLSv1.") and hop["tls"] != "TLS"
    assert hop["envelope_for"] == bed.address("alice") and hop["when"]
    assert hop["from_ip"] and hop["id"]
    later = hops[hops.index(hop) + 1:]
    assert all(h["parsed"] for h in hops) and all(h["delay_seconds"] is None or h["delay_seconds"] >= 0 for h in later)
