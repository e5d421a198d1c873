"""A private Dovecot 2.3 instance: IMAP, POP3 and LMTP on loopback, Maildir under a temp dir."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .ca import Certificates
from .net import wait_for_greeting

MAIL_UID = MAIL_GID = 5000  # Dovecot refuses uid 0 for mail; no passwd entry is needed
SPECIAL_USE = {"Drafts": r"\Drafts", "Sent": r"\Sent", "Trash": r"\Trash", "Junk": r"\Junk",
               "Archive": r"\Archive"}


class TestbedError(RuntimeError):
    """A testbed server failed to start or a helper command failed."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True)
class DovecotPorts:
    imap: int  # plain, STARTTLS offered except on the nostarttls host
    imaps: int
    pop3: int
    pop3s: int
    lmtp: int


@dataclass(frozen=True)
class DovecotHosts:
    main: str
    wrong_name: str
    nostarttls: str
    remote: str


def find_binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise TestbedError(f"{name} not found: apt-get install dovecot-core dovecot-imapd "
                           f"dovecot-pop3d dovecot-lmtpd")
    return path


def _passwd_line(user: str, password: str, home: Path) -> str:
    if any(c in user + password for c in ":\n"):
        raise ValueError(f"user {user!r}: ':' and newlines cannot go in a passwd-file")
    return f"{user}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_GID}::{home}::\n"


def _config(root: Path, log: Path, certs: Certificates, hosts: DovecotHosts,
            ports: DovecotPorts, domain: str) -> str:
    plain = f"{hosts.main}, {hosts.wrong_name}, {hosts.nostarttls}, {hosts.remote}"
    tls = f"{hosts.main}, {hosts.wrong_name}, {hosts.remote}"
    mailboxes = "".join(
        f"  mailbox {name} {{\n    special_use = {flag}\n    auto = subscribe\n  }}\n"
        for name, flag in SPECIAL_USE.items())
    return f"""\
# Written by tests/testbed; a private instance, never the system one.
base_dir = {root}/run
state_dir = {root}/state
protocols = imap pop3 lmtp
listen = {plain}
hostname = mail.{domain}
postmaster_address = postmaster@{domain}
log_path = {log}
verbose_proctitle = yes
shutdown_clients = yes

ssl = yes
ssl_cert = <{certs.main.chain_pem}
ssl_key = <{certs.main.key_pem}
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_username_format = %Ln
auth_failure_delay = 0
auth_verbose = yes

mail_location = maildir:~/Maildir
mail_uid = {MAIL_UID}
mail_gid = {MAIL_GID}
first_valid_uid = {MAIL_UID}
last_valid_uid = {MAIL_UID}
first_valid_gid = {MAIL_GID}
last_valid_gid = {MAIL_GID}
mail_max_userip_connections = 200
mail_fsync = never

passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = passwd-file
  args = {root}/users
}}

namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}

service imap-login {{
  inet_listener imap {{
    address = {plain}
    port = {ports.imap}
  }}
  inet_listener imaps {{
    address = {tls}
    port = {ports.imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {plain}
    port = {ports.pop3}
  }}
  inet_listener pop3s {{
    address = {tls}
    port = {ports.pop3s}
    ssl = yes
  }}
}}
# Tests fail logins on purpose, and the auth penalty would then delay every later login from
# 127.0.0.1 by up to 15 s. auth runs without it when it cannot open this socket.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {hosts.main}
    port = {ports.lmtp}
  }}
}}

# No TLS at all here, so no STARTTLS; with disable_plaintext_auth nobody can log in either.
local {hosts.nostarttls} {{
  ssl = no
}}
# Dovecot trusts a client whose address equals the server's (127.0.0.1 to 127.0.0.1) as
# secure; clients reach this address from 127.0.0.1, so LOGINDISABLED really applies.
local {hosts.remote} {{
  ssl_cert = <{certs.remote.chain_pem}
  ssl_key = <{certs.remote.key_pem}
}}
"""


def _die_with_parent() -> None:
    # If the test process is killed outright, take dovecot down too rather than leak it.
    # (The signal follows the thread that started dovecot; tests start it from the main one.)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Dovecot:
    """One dovecot master in the foreground (-F), its output in files, never in pipes."""

    def __init__(self, root: Path, log_dir: Path, certs: Certificates, hosts: DovecotHosts,
                 ports: DovecotPorts, users: dict[str, str], domain: str):
        self.root, self.hosts, self.ports, self.users = root, hosts, ports, users
        self.conf = root / "dovecot.conf"
        self.log = log_dir / "dovecot.log"
        self.output = log_dir / "dovecot.out"
        self._certs, self._domain = certs, domain
        self._process: subprocess.Popen | None = None
        self._binary = find_binary("dovecot")
        self._doveadm = find_binary("doveadm")

    def home(self, user: str) -> Path:
        return self.root / "mail" / user

    def start(self, client_tls: ssl.SSLContext, timeout: float = 15.0) -> None:
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(mode=0o755, exist_ok=True)
        for user in self.users:
            home = self.home(user)
            home.mkdir(mode=0o700, exist_ok=True)
            os.chown(home, MAIL_UID, MAIL_GID)
        users_file = self.root / "users"
        users_file.write_text("".join(_passwd_line(user, password, self.home(user))
                                      for user, password in self.users.items()))
        users_file.chmod(0o644)  # the auth worker runs as the dovecot user
        self.conf.write_text(_config(self.root, self.log, self._certs, self.hosts, self.ports,
                                     self._domain))
        check = subprocess.run([find_binary("doveconf"), "-c", str(self.conf), "-n"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise TestbedError(f"doveconf rejected {self.conf}:\n{check.stderr}")

        with open(self.output, "ab") as out:
            self._process = subprocess.Popen(
                [self._binary, "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        try:
            self._wait_ready(deadline, client_tls)
        except Exception as exc:
            self.stop()
            raise TestbedError(f"dovecot did not start: {exc}\n{self.log_tail()}") from exc

    def _wait_ready(self, deadline: float, tls: ssl.SSLContext) -> None:
        main, p = self.hosts.main, self.ports
        checks = [(main, p.imap, b"* OK", {}), (self.hosts.nostarttls, p.imap, b"* OK", {}),
                  (main, p.imaps, b"* OK", {"tls": tls}), (main, p.pop3, b"+OK", {}),
                  (main, p.pop3s, b"+OK", {"tls": tls}), (main, p.lmtp, b"220 ", {})]
        for host, port, expect, kwargs in checks:
            while True:
                if self._process.poll() is not None:
                    raise TestbedError(f"dovecot exited with status {self._process.returncode}")
                try:
                    wait_for_greeting(host, port, min(deadline, time.monotonic() + 0.5), expect,
                                      **kwargs)
                    break
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # doveadm exits when done, so capturing its output is safe (unlike the master's).
        result = subprocess.run([self._doveadm, "-c", str(self.conf), *args],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise TestbedError(f"doveadm {' '.join(args)} exited {result.returncode}: "
                               f"{result.stderr.strip()}")
        return result

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.output, self.log):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                if tail:
                    parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(dovecot wrote no log)"
