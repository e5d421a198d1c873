"""`tuimail doctor` against the real testbed, and the report it prints."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tuimail.model.config import parse_config
from tuimail.model.secret import Secret
from tuimail.protocols.doctor import DoctorReport, ProtocolReport, Step, format_report, run_doctor

ROOT = Path(__file__).resolve().parents[1]
TIMING = re.compile(r"^  (ok  |FAIL) (\S+(?: \S+)?)\s+\d+\.\d{3} s  ")


def doctor_cli(tmp_path: Path, config_text: str, *args: str, env: dict | None = None):
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIMAIL", "PYTHON_KEYRING"))}
    run_env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # hermetic: no desktop keyring
    run_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tuimail", "--config", str(config), "doctor", *args],
                          capture_output=True, text=True, env=run_env, cwd=ROOT, timeout=120,
                          stdin=subprocess.DEVNULL)


def section(stdout: str, protocol: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{protocol} "))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  => "))
    return lines[start:end + 1]


@pytest.mark.parametrize("imap, pop3, smtp", [("tls", "tls", "starttls"),
                                              ("starttls", "starttls", "tls")])
def test_doctor_reports_everything_and_exits_0(testbed, tmp_path, imap, pop3, smtp):
    text = testbed.config_toml("alice", imap={"security": imap}, pop3={"security": pop3},
                               smtp={"security": smtp})
    done = doctor_cli(tmp_path, text, "alice")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("account alice <alice@example.test>\n")
    assert out.rstrip().endswith("all checks passed") and "FAIL" not in out
    for protocol, security in (("imap", imap), ("pop3", pop3), ("smtp", smtp)):
        lines = section(out, protocol)
        port = testbed.port_for(protocol, security)
        assert lines[0] == f"{protocol} 127.0.0.1:{port} (security = {security})"
        steps = [TIMING.match(line).group(2) for line in lines[1:-1] if TIMING.match(line)]
        expected = ["connect", "starttls", "tls", "certificate", "capabilities", "auth mechanisms",
                    "login"]
        if security == "tls":
            expected.remove("starttls")
        assert steps == expected
        body = "\n".join(lines)
        assert re.search(r"tls\s+\d\.\d{3} s  TLSv1\.[23] \S+ \(\d+ bits\)", body)
        assert re.search(r"certificate .*issuer O=tuimail testbed CA.*expires \d{4}-\d\d-\d\d, \d+ days left",
                         body)
        assert re.search(r"sha256 ([0-9A-F]{2}:){31}[0-9A-F]{2}", body)
        assert re.search(r"auth mechanisms\s+\d\.\d{3} s  .*PLAIN", body)
        assert "logged in as alice" in body
        assert re.match(r"  => \w+ ok in \d+\.\d{3} s", lines[-1])
    assert "IMAP4REV1" in "\n".join(section(out, "imap"))
    assert "STARTTLS" not in "\n".join(section(out, "imap"))  # capabilities are the ones after TLS
    assert "UIDL" in "\n".join(section(out, "pop3"))
    assert "8BITMIME" in "\n".join(section(out, "smtp"))
    assert testbed.users["alice"] not in out + done.stderr


def test_doctor_with_a_wrong_password_exits_1_with_one_line_per_failure(testbed, tmp_path):
    wrong = "not-alices-password-7f3a"
    done = doctor_cli(tmp_path, testbed.config_toml("alice", password_command=f"echo {wrong}"))
    assert done.returncode == 1
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert fails == [
        f"FAIL imap 127.0.0.1:{testbed.imaps_port}: login failed: [AUTHENTICATIONFAILED] "
        "Authentication failed.",
        f"FAIL pop3 127.0.0.1:{testbed.pop3s_port}: login failed: -ERR [AUTH] Authentication failed.",
        f"FAIL smtp 127.0.0.1:{testbed.submission_port}: login failed: 535 5.7.8 Authentication "
        "credentials invalid",
    ]
    assert "all checks passed" not in done.stdout
    assert "Traceback" not in done.stderr
    assert wrong not in done.stdout + done.stderr


def test_one_failing_protocol_does_not_stop_the_others(testbed):
    text = testbed.config_toml("alice", imap={"host": testbed.wrong_name_host},
                               pop3={"port": 1, "security": "tls"})
    account = parse_config(text).account("alice")
    report = run_doctor(account, Secret(testbed.users["alice"]))
    imap, pop3, smtp = report.reports
    assert not report.ok and smtp.ok and smtp.login_ok
    assert [s.name for s in imap.steps] == ["connect"] and imap.login_ok is None
    assert imap.error == ("certificate verify failed: IP address mismatch, certificate is not valid "
                          "for '127.0.0.2'.")
    assert pop3.error == "connection refused"
    assert report.failures() == [
        f"FAIL imap 127.0.0.2:{testbed.imaps_port}: {imap.error}",
        "FAIL pop3 127.0.0.1:1: connection refused",
    ]
    lines = format_report(report)
    assert lines[-2:] == report.failures()


def test_doctor_without_a_password(testbed, tmp_path):
    text = testbed.config_toml("alice", password_command=None)
    done = doctor_cli(tmp_path, text, "--protocol", "imap")
    assert done.returncode == 1
    assert f"FAIL imap 127.0.0.1:{testbed.imaps_port}: not tested: no password" in done.stdout
    done = doctor_cli(tmp_path, text, "--protocol", "imap", "--protocol", "smtp", "--no-login")
    assert done.returncode == 0, done.stdout
    assert "login" not in done.stdout and "pop3" not in done.stdout
    assert done.stdout.rstrip().endswith("all checks passed")


def test_doctor_when_password_command_fails(testbed, tmp_path):
    text = testbed.config_toml("alice", password_command="echo leaked-output; exit 4")
    done = doctor_cli(tmp_path, text, "-p", "smtp")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == ("FAIL password: account 'alice': password_command "
                                            "failed (exit status 4)")
    assert "leaked-output" not in done.stdout + done.stderr
    assert "tls" in done.stdout  # the connection checks still ran


def test_doctor_names_unknown_accounts(testbed, tmp_path):
    done = doctor_cli(tmp_path, testbed.config_toml("alice"), "nosuch")
    assert done.returncode == 2
    assert "no account named 'nosuch' (configured: alice)" in done.stderr


async def test_run_doctor_works_inside_an_event_loop(testbed):
    account = parse_config(testbed.config_toml("alice")).account("alice")
    report = run_doctor(account, Secret(testbed.users["alice"]), ["smtp"])
    assert report.ok and [r.protocol for r in report.reports] == ["smtp"]


def test_format_report_is_plain_inert_text():
    hostile = "\x1b]52;c;cHduZWQ=\x07[@click=app.quit]x[/]\r\nNO \x9b2J\u202egnp.exe"
    report = DoctorReport("work", [ProtocolReport(
        "imap", "mail.example.org", 993, "tls",
        steps=[Step("connect", True, 0.0123, "fine"), Step("login", False, 1.5, hostile)],
        error=hostile)], email="a@example.org")
    lines = format_report(report)
    assert all("\x1b" not in line and "\x9b" not in line and "\u202e" not in line
               and "\n" not in line and "\r" not in line for line in lines)
    assert "  ok   connect            0.012 s  fine" in lines
    assert lines[-1] == "FAIL imap mail.example.org:993: [@click=app.quit]x[/] NO gnp.exe"
    assert not report.ok and format_report(DoctorReport("x"))[-1].startswith("FAIL account x")


def test_an_unreadable_ca_file_is_reported_not_raised(tmp_path):
    text = ('[accounts.w]\nemail = "a@example.org"\nca_file = "/nonexistent/ca.pem"\n'
            '[accounts.w.imap]\nhost = "127.0.0.1"\nport = 1\n')
    report = run_doctor(parse_config(text).account("w"), Secret("pw"))
    assert report.failures() == ["FAIL imap 127.0.0.1:1: ca_file '/nonexistent/ca.pem': no such file"]
    assert [(s.name, s.ok) for s in report.reports[0].steps] == [("setup", False)]


def test_the_password_reaches_no_log_no_report_and_no_repr(testbed, caplog):
    caplog.set_level(logging.DEBUG)
    account = parse_config(testbed.config_toml("alice", imap={"security": "starttls"},
                                               pop3={"security": "starttls"})).account("alice")
    password = Secret(testbed.users["alice"])
    report = run_doctor(account, password)
    assert report.ok, format_report(report)
    secret = password.reveal()
    assert secret not in "\n".join(format_report(report)) and secret not in repr(report)
    assert secret not in "\n".join(r.getMessage() for r in caplog.records)
    assert any("LOGIN" in r.getMessage() for r in caplog.records)  # the IMAP session was logged
