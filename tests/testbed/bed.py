"""The Testbed: Dovecot (IMAP, POP3, LMTP) plus aiosmtpd submission, on loopback, with a test CA."""
from __future__ import annotations

import atexit
import logging
import os
import shlex
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .ca import Certificates, make_certificates
from .dovecot import SPECIAL_USE, Dovecot, DovecotHosts, DovecotPorts, TestbedError
from .maildir import FillSummary, MaildirWriter
from .mailgen import generate
from .net import free_ports, wait_for_greeting
from .smtp import Listener, Submission, SubmissionHandler, SubmissionServers, read_spool

log = logging.getLogger("tests.testbed")

DEFAULT_USERS = {"alice": "alice-secret-pw", "bob": "bob-secret-pw"}


class Testbed:
    """Real mail servers for tests and the demo. start() then use; stop() or a with-block."""

    __test__ = False  # not a pytest test class, despite the name

    host = "127.0.0.1"
    wrong_name_host = "127.0.0.2"  # same servers and certificate, which does not name this address
    nostarttls_host = "127.0.0.3"  # plain IMAP and POP3 ports only, no TLS and no STARTTLS
    # Dovecot treats a client whose address equals the server's as secure, so on 127.0.0.1 it
    # allows LOGIN before STARTTLS. Clients reach this address from 127.0.0.1, so here
    # LOGINDISABLED is enforced until TLS; its own certificate names only this address.
    remote_host = "127.0.0.4"
    domain = "example.test"
    start_attempts = 3  # fresh ports each time a server finds its port taken

    def __init__(self, dir: str | Path | None = None, users: Mapping[str, str] | None = None):
        self._own_dir = dir is None
        if dir is None:
            dir = tempfile.mkdtemp(prefix="tuimail-testbed.")
        self.dir = Path(dir)
        self.users = dict(users or DEFAULT_USERS)
        self.ca_pem = self.dir / "ca.pem"
        self.spool = self.dir / "submissions"
        self.imap_port = self.imaps_port = self.pop3_port = self.pop3s_port = 0
        self.submission_port = self.smtps_port = self.smtp_nostarttls_port = self.lmtp_port = 0
        self.startup_seconds = 0.0
        self._root: Path | None = None
        self._dovecot: Dovecot | None = None
        self._smtp: SubmissionServers | None = None
        self._certs: Certificates | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Testbed:
        started = time.monotonic()
        if os.geteuid() != 0:
            raise TestbedError("the testbed needs root: it runs its own Dovecot master and "
                               "hands the Maildirs to the mail uid 5000")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spool.mkdir(exist_ok=True)
        # Dovecot's sockets need a short path and its mail processes (uid 5000) must traverse
        # to the Maildirs, so those live in their own 0755 dir rather than under self.dir.
        # tmpfs when there is one: creating a file on this machine's ext4 costs ~300 us, on
        # tmpfs ~20 us, which is most of the time a 100k fill takes.
        parent = _runtime_parent()
        _remove_stale_runtime_dirs(parent)
        self._root = Path(tempfile.mkdtemp(prefix="tm.", dir=parent))
        self._root.chmod(0o755)
        atexit.register(self.stop)
        try:
            for attempt in range(1, self.start_attempts + 1):
                try:
                    self._start_servers()
                    break
                except (TestbedError, OSError) as exc:
                    # A port picked as free can be taken before the servers bind it, most
                    # likely by another test session on the same machine: pick new ones.
                    self._stop_servers()
                    if attempt == self.start_attempts or "in use" not in str(exc):
                        raise
                    log.warning("testbed: a port was taken, retrying: %s", exc)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info("testbed up in %.2fs: %s", self.startup_seconds, self.describe())
        return self

    def _start_servers(self) -> None:
        self._certs = make_certificates(self.dir, self.remote_host)
        for user, password in self.users.items():
            path = self.password_file(user)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(password)
        hosts = [self.host, self.wrong_name_host, self.nostarttls_host, self.remote_host]
        (self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port, self.lmtp_port,
         self.submission_port, self.smtps_port, self.smtp_nostarttls_port) = free_ports(8, hosts)
        self._dovecot = Dovecot(
            self._root, self.dir, self._certs,
            DovecotHosts(self.host, self.wrong_name_host, self.nostarttls_host, self.remote_host),
            DovecotPorts(self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port,
                         self.lmtp_port),
            self.users, self.domain)
        self._dovecot.start(self.client_context())

        main_tls = self._certs.main.server_context()
        remote_tls = self._certs.remote.server_context()
        main_hosts = (self.host, self.wrong_name_host)
        handler = SubmissionHandler(self.users, self.domain, f"mail.{self.domain}",
                                    (self.host, self.lmtp_port), self.spool)
        self._smtp = SubmissionServers(handler, [
            Listener(main_hosts, self.submission_port, starttls=main_tls),
            Listener((self.remote_host,), self.submission_port, starttls=remote_tls),
            Listener(main_hosts, self.smtps_port, implicit_tls=main_tls),
            Listener((self.remote_host,), self.smtps_port, implicit_tls=remote_tls),
            Listener((self.host,), self.smtp_nostarttls_port),
        ])
        self._smtp.start()
        deadline = time.monotonic() + 10
        try:
            for port, tls in ((self.submission_port, None),
                              (self.smtps_port, self.client_context()),
                              (self.smtp_nostarttls_port, None)):
                wait_for_greeting(self.host, port, deadline, b"220 ", tls=tls)
        except TimeoutError as exc:
            raise TestbedError(f"SMTP submission did not start: {exc}") from exc

    def stop(self) -> None:
        """Stop the servers and remove the runtime dir (and self.dir if the testbed made it)."""
        atexit.unregister(self.stop)
        try:
            self._stop_servers()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
            if self._own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def _stop_servers(self) -> None:
        smtp, self._smtp = self._smtp, None
        dovecot, self._dovecot = self._dovecot, None
        try:
            if smtp is not None:
                smtp.stop()
        finally:
            if dovecot is not None:
                dovecot.stop()

    def __enter__(self) -> Testbed:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._dovecot is not None and self._dovecot.running

    # -- facts ----------------------------------------------------------------------------

    def address(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def password_file(self, user: str) -> Path:
        return self.dir / f"{user}.pw"

    @property
    def dovecot_conf(self) -> Path:
        return self._running().conf

    @property
    def dovecot_log(self) -> Path:
        return self.dir / "dovecot.log"

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the testbed CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def port_for(self, protocol: str, security: str) -> int:
        """The testbed port for protocol (imap, pop3, smtp) with security (tls, starttls, plain)."""
        table = {
            "imap": {"tls": self.imaps_port, "starttls": self.imap_port, "plain": self.imap_port},
            "pop3": {"tls": self.pop3s_port, "starttls": self.pop3_port, "plain": self.pop3_port},
            "smtp": {"tls": self.smtps_port, "starttls": self.submission_port,
                     "plain": self.smtp_nostarttls_port},
        }
        return table[protocol][security]

    def info(self) -> dict[str, Any]:
        """Everything a client needs to reach the testbed (what serve writes to testbed.json)."""
        return {
            "dir": str(self.dir), "ca_pem": str(self.ca_pem), "domain": self.domain,
            "host": self.host, "wrong_name_host": self.wrong_name_host,
            "nostarttls_host": self.nostarttls_host, "remote_host": self.remote_host,
            "imap_port": self.imap_port, "imaps_port": self.imaps_port,
            "pop3_port": self.pop3_port, "pop3s_port": self.pop3s_port,
            "submission_port": self.submission_port, "smtps_port": self.smtps_port,
            "smtp_nostarttls_port": self.smtp_nostarttls_port, "lmtp_port": self.lmtp_port,
            "users": {u: {"address": self.address(u), "password": p,
                          "password_file": str(self.password_file(u))}
                      for u, p in self.users.items()},
            "dovecot_conf": str(self.dovecot_conf), "dovecot_log": str(self.dovecot_log),
            "submissions": str(self.spool),
        }

    def describe(self) -> str:
        return (f"imap {self.host}:{self.imap_port} imaps :{self.imaps_port} "
                f"pop3 :{self.pop3_port} pop3s :{self.pop3s_port} "
                f"submission :{self.submission_port} smtps :{self.smtps_port} "
                f"smtp-nostarttls :{self.smtp_nostarttls_port} lmtp :{self.lmtp_port} "
                f"ca {self.ca_pem}")

    # -- mailbox content ------------------------------------------------------------------

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run doveadm against this instance; raises TestbedError on failure when check."""
        return self._running().doveadm(*args, check=check)

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir directory of folder, created (and subscribed) if it does not exist."""
        self._check_user(user)
        path = Path(self.doveadm("mailbox", "path", "-u", user, folder).stdout.strip())
        if folder.upper() != "INBOX" and not (path / "cur").is_dir():
            created = self.doveadm("mailbox", "create", "-s", "-u", user, folder, check=False)
            if created.returncode != 0 and "exists" not in created.stderr:
                raise TestbedError(f"doveadm mailbox create {folder!r}: {created.stderr.strip()}")
        return path

    def fill(self, user: str, count: int, folder: str = "INBOX", seed: int = 0,
             end: float | None = None) -> FillSummary:
        """Put count generated messages (dates rising to end, default now) into folder."""
        writer = MaildirWriter(self.maildir(user, folder))
        summary = writer.write_generated(generate(count, seed, to=self.address(user),
                                                  to_name=user.capitalize(), end=end))
        self.doveadm("index", "-u", user, folder)
        return summary

    def deliver_files(self, user: str, messages: Iterable[str | Path | bytes],
                      folder: str = "INBOX", flags: str = "") -> int:
        """Put messages (paths to .eml files, or raw bytes) into folder as they are.

        flags are Maildir letters (S seen, F flagged, R answered, D draft, T deleted).
        """
        writer = MaildirWriter(self.maildir(user, folder))
        count = writer.write_raw(
            (m if isinstance(m, bytes) else Path(m).read_bytes() for m in messages), flags)
        self.doveadm("index", "-u", user, folder)
        return count

    def clear(self, user: str) -> None:
        """Expunge every message of user and delete all folders but INBOX and the special ones."""
        self._check_user(user)
        self.doveadm("expunge", "-u", user, "mailbox", "*", "all")
        names = [n for n in self.doveadm("mailbox", "list", "-u", user).stdout.splitlines()
                 if n and n != "INBOX" and n not in SPECIAL_USE]
        for name in sorted(names, key=lambda n: n.count("/"), reverse=True):
            self.doveadm("mailbox", "delete", "-s", "-u", user, name, check=False)
        left = set(self.doveadm("mailbox", "list", "-u", user).stdout.split()) - {"INBOX",
                                                                                 *SPECIAL_USE}
        if left:
            raise TestbedError(f"clear({user!r}) could not delete {sorted(left)}")

    def submissions(self) -> list[Submission]:
        """Every message the submission server accepted, oldest first."""
        return read_spool(self.spool)

    def clear_submissions(self) -> None:
        """Forget every accepted message (the spool only; mailboxes are clear()'s job)."""
        for path in self.spool.iterdir():
            path.unlink(missing_ok=True)

    def captured(self) -> list[Submission]:
        """Accepted messages with recipients outside the testbed domain (never relayed)."""
        return [s for s in self.submissions() if s.captured]

    # -- client configuration -------------------------------------------------------------

    def config_toml(self, user: str, protocol: str = "imap", *, account: str | None = None,
                    **overrides: Any) -> str:
        """A tuimail [accounts.NAME] section for user pointing at this testbed.

        Keyword overrides replace account keys (timeout=5, display_name="Alice"); None removes
        one. imap=, pop3= and smtp= take a dict merged into that server table (a security
        without a port picks the testbed port for it), or None to leave the table out.
        """
        self._check_user(user)
        name = account or user
        table: dict[str, Any] = {
            "email": self.address(user), "username": user, "protocol": protocol,
            "password_command": f"cat {shlex.quote(str(self.password_file(user)))}",
            "ca_file": str(self.ca_pem),
        }
        servers: dict[str, dict[str, Any] | None] = {
            "imap": {"host": self.host, "port": self.imaps_port, "security": "tls"},
            "pop3": {"host": self.host, "port": self.pop3s_port, "security": "tls"},
            "smtp": {"host": self.host, "port": self.submission_port, "security": "starttls"},
        }
        for key, value in overrides.items():
            if key in servers:
                if value is None:
                    servers[key] = None
                else:
                    merged = {**servers[key], **value}
                    if "security" in value and "port" not in value:
                        merged["port"] = self.port_for(key, value["security"])
                    servers[key] = merged
            elif value is None:
                table.pop(key, None)
            else:
                table[key] = value
        lines = [f"[accounts.{name}]"] + [f"{k} = {_toml(v)}" for k, v in table.items()]
        for proto, server in servers.items():
            if server is not None:
                lines += ["", f"[accounts.{name}.{proto}]"]
                lines += [f"{k} = {_toml(v)}" for k, v in server.items()]
        return "\n".join(lines) + "\n"

    # -- internals ------------------------------------------------------------------------

    def _running(self) -> Dovecot:
        if self._dovecot is None:
            raise TestbedError("the testbed is not running")
        return self._dovecot

    def _check_user(self, user: str) -> None:
        if user not in self.users:
            raise KeyError(f"no testbed user {user!r} (users: {', '.join(self.users)})")


def _runtime_parent() -> str:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return "/tmp"


def _remove_stale_runtime_dirs(parent: str) -> None:
    """Remove runtime dirs of testbeds whose process was killed (on tmpfs they hold RAM).

    A dir is stale when its Dovecot master's pid is gone; a dir without a pid file is left
    alone unless it is a day old, since another testbed may be starting in it right now.
    """
    for root in Path(parent).glob("tm.*"):
        if not (root / "dovecot.conf").exists():
            continue  # not one of ours
        pid_file = root / "run" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            try:
                stale = time.time() - root.stat().st_mtime > 86400
            except OSError:
                continue
        else:
            stale = not Path(f"/proc/{pid}").exists()
        if stale:
            shutil.rmtree(root, ignore_errors=True)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    escaped = "".join({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}.get(c, c)
                      if c.isprintable() or c in "\n\t" else f"\\u{ord(c):04x}" for c in text)
    return f'"{escaped}"'
