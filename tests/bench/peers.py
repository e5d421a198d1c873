"""NeoMutt and aerc, driven in tmux through the counting proxy.

Each run: a cold start with an empty header cache until the newest message's subject shows
(time, bytes, peak RSS), quit; a warm start with that cache until the subject shows, then
Enter on the newest message (the 10 MB one) until its text shows (bytes), quit. The slow-link
figure is a cold start through a shaped proxy.
"""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.testbed import Testbed

from . import dataset as ds
from .common import Result, Tmux, prime_page_cache, rss_mb, traffic, version_of
from .proxy import CountingProxy


@dataclass
class Peer:
    name: str
    binary: str
    version_args: tuple[str, ...]
    setup: Callable[[Path, Testbed, int, Path], tuple[list[str], dict[str, str]]]
    quit_keys: tuple[str, ...]
    close_viewer_keys: tuple[str, ...]


def neomutt_setup(home: Path, bed: Testbed, port: int, cache: Path
                  ) -> tuple[list[str], dict[str, str]]:
    rc = home / "neomuttrc"
    rc.write_text(f"""\
set ssl_ca_certificates_file="{bed.ca_pem}"
set certificate_file="{home}/certificates"
set ssl_force_tls=yes
set imap_user="{ds.USER}"
set imap_pass="{ds.PASSWORD}"
set folder="imaps://127.0.0.1:{port}/"
set spoolfile="+INBOX"
set header_cache="{cache}/"
set sort=reverse-date
set quit=yes
set move=no
set mail_check_stats=no
set imap_check_subscribed=no
set wait_key=no
set sleep_time=0
set sidebar_visible=no
push <first-entry>
""")
    return ["neomutt", "-n", "-F", str(rc)], {"HOME": str(home)}


def aerc_setup(home: Path, bed: Testbed, port: int, cache: Path
               ) -> tuple[list[str], dict[str, str]]:
    config = home / "config" / "aerc"
    config.mkdir(parents=True, exist_ok=True)
    accounts = config / "accounts.conf"
    accounts.write_text(f"""\
[bench]
source = imaps://{ds.USER}:{ds.PASSWORD}@127.0.0.1:{port}
outgoing = /bin/true
default = INBOX
from = Bench <{ds.USER}@example.test>
cache-headers = true
""")
    accounts.chmod(0o600)
    for name in ("aerc.conf", "binds.conf"):
        if not (config / name).exists() and Path("/usr/share/aerc", name).exists():
            shutil.copy(Path("/usr/share/aerc", name), config / name)
    return ["aerc"], {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
                      "XDG_CACHE_HOME": str(cache), "SSL_CERT_FILE": str(bed.ca_pem)}


PEERS = {
    "neomutt": Peer("neomutt", "neomutt", ("-v",), neomutt_setup, ("q",), ("q",)),
    "aerc": Peer("aerc", "aerc", ("-v",), aerc_setup, (":quit", "Enter"), ()),
}


class PeerRunner:
    def __init__(self, peer: Peer, bed: Testbed, data: ds.Dataset, tmux: Tmux, scratch: Path,
                 timeout: float):
        self.peer, self.bed, self.data, self.tmux = peer, bed, data, tmux
        self.scratch, self.timeout = scratch / peer.name, timeout
        self.session = f"bench-{peer.name}"
        self._runs = 0

    def _start(self, proxy: CountingProxy, cache: Path) -> tuple[float, dict]:
        """Start the client and wait for the newest subject; (started, sample)."""
        home = self.scratch / "home"
        home.mkdir(parents=True, exist_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        argv, env = self.peer.setup(home, self.bed, proxy.port, cache)
        env = {"TERM": "screen-256color", "LANG": "C.UTF-8", **env}
        prime_page_cache([self.peer.binary, *self.peer.version_args])  # as tuimail is primed
        proxy.reset()
        started = self.tmux.spawn(self.session, argv, env)
        seconds = self.tmux.wait_for(self.session, self.data.subject_needle, started,
                                     self.timeout)
        sample = {"seconds": seconds, **traffic(proxy.snapshot())}
        pid, _ = self.tmux.pane(self.session)
        sample.update(rss_mb(pid))
        return started, sample

    def _fresh_cache(self) -> Path:
        self._runs += 1
        cache = self.scratch / f"cache-{self._runs}"
        shutil.rmtree(cache, ignore_errors=True)
        return cache

    def cold_warm_open(self, proxy: CountingProxy, result: Result) -> None:
        cache = self._fresh_cache()
        try:
            _, cold = self._start(proxy, cache)
            cold["clean_exit"] = self.tmux.close(self.session, self.peer.quit_keys)
            result.add("cold", cold)
            _, warm = self._start(proxy, cache)
            result.add("warm", warm)
            self.tmux.settle(proxy)  # what the client still fetches after the first screen
            proxy.reset()
            opened = time.monotonic()
            self.tmux.keys(self.session, "Enter")
            seconds = self.tmux.wait_for(self.session, self.data.body_needle, opened,
                                         self.timeout)
            pid, _ = self.tmux.pane(self.session)
            result.add("open", {"seconds": seconds, **traffic(proxy.snapshot()),
                                **rss_mb(pid)})
            if self.peer.close_viewer_keys:
                self.tmux.keys(self.session, *self.peer.close_viewer_keys)
                time.sleep(0.2)
            self.tmux.close(self.session, self.peer.quit_keys)
        finally:
            self.tmux.kill(self.session)
            ds.restore(self.bed, self.data)

    def cold_only(self, proxy: CountingProxy) -> dict:
        try:
            _, sample = self._start(proxy, self._fresh_cache())
            self.tmux.close(self.session, self.peer.quit_keys)
            return sample
        finally:
            self.tmux.kill(self.session)


def measure_peer(name: str, bed: Testbed, data: ds.Dataset, proxy: CountingProxy,
                 slow_proxy: CountingProxy | None, tmux: Tmux, scratch: Path, *, runs: int,
                 slow_runs: int, timeout: float, log=print) -> Result:
    """Every figure for one peer; failures are recorded in the result, never raised."""
    peer = PEERS[name]
    result = Result(name)
    if shutil.which(peer.binary) is None:
        result.available = False
        result.note = f"{peer.binary} not installed"
        return result
    result.version = version_of([peer.binary, *peer.version_args])
    runner = PeerRunner(peer, bed, data, tmux, scratch, timeout)
    try:
        log(f"bench: {name}: warm-up run (discarded)")
        runner.cold_only(proxy)
    except Exception as exc:  # noqa: BLE001 - one failing peer must not abort the rest
        result.errors.append(f"warm-up: {exc}")
    for run in range(runs):
        try:
            log(f"bench: {name}: run {run + 1}/{runs}")
            runner.cold_warm_open(proxy, result)
        except Exception as exc:  # noqa: BLE001
            result.errors.append(f"run {run + 1}: {exc}")
    if slow_proxy is not None:
        for run in range(slow_runs):
            try:
                log(f"bench: {name}: slow link run {run + 1}/{slow_runs}")
                result.add("slow", runner.cold_only(slow_proxy))
            except Exception as exc:  # noqa: BLE001
                result.errors.append(f"slow run {run + 1}: {exc}")
    if not result.samples:
        result.available = False
        result.note = "failed: " + (result.errors[-1].splitlines()[0] if result.errors else "?")
    return result
