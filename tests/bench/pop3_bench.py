"""The POP3 suite (issue 4): python -m tests.bench --pop3 [--runs R] [--peers neomutt]

The benchmark's cached Maildir (dataset.py: 10,000 generated messages plus the newest one with
a 10 MB attachment) is linked into a private Dovecot and read over POP3S through a counting
proxy:
- tuimail (pop3_tuimail.py), driven as `tuimail list --limit 50 --json --stats` in a child
  process, timed until the newest subject is on its stdout (as CliDriver does for IMAP): cold
  (empty local store), then reopened from that store with --offline (the bytes before the rows
  must be 0), then online again with the store (STAT + UIDL for the window, no TOP for rows
  already stored); and the TUI, cold and reopened, when it has a POP3 pane;
- NeoMutt on a pops:// spoolfile in tmux (pop3_peers.py), until its index shows the newest
  subject: cold (empty header cache) and warm (that cache);
- both once more per run cold and straight to Dovecot (no proxy), for the time alone;
- PIPELINING (RFC 2449): in this process, a fresh logged-in Pop3Session, STAT and then
  window() for the newest 50 messages (UIDL n, LIST n, TOP n 0 each) on a 1,000-message
  maildrop, with PIPELINING used and with it hidden (Pop3Session.connect(disable=...)):
  round trips as the session's trace counts them, client turns on the wire, milliseconds, on
  loopback and on the shaped slow link.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.testbed import Testbed

from . import dataset as ds
from .common import BenchError, Result, Tmux, version_of
from .pop3_peers import measure_neomutt
from .pop3_tuimail import (WINDOW, Direct, Pop3Cli, measure_tui, measure_tuimail, pop3_config,
                           pop3_config_text)
from .proxy import CountingProxy

POP3_PEERS = ("neomutt",)  # aerc, meli and himalaya have no POP3


# -- PIPELINING, in process -------------------------------------------------------------------

def window_sample(bed: Testbed, proxy: CountingProxy, pipelining: bool, timeout: float
                  ) -> dict[str, Any]:
    """Log in, then STAT and window() for the newest WINDOW messages; what that costs."""
    from tuimail.model.config import parse_config
    from tuimail.model.secret import Secret
    from tuimail.protocols.pop3 import Pop3Session
    from tuimail.protocols.trace import ProtocolTrace

    account = parse_config(pop3_config_text(bed, proxy.port)).account(ds.USER)
    trace = ProtocolTrace("pop3", capacity=1000)
    proxy.reset()
    started = time.monotonic()
    session = Pop3Session.connect(account, Secret(ds.PASSWORD), trace=trace, timeout=timeout,
                                  disable=() if pipelining else ("PIPELINING",))
    try:
        logged_in = time.monotonic()
        login_turns = proxy.snapshot()["turns"]
        before = trace.counters()
        count, _ = session.stat()
        after_stat = time.monotonic()
        stat_counters = trace.counters()
        proxy.reset()
        entries = session.window(range(max(1, count - WINDOW + 1), count + 1))
        done = time.monotonic()
        wire = proxy.snapshot()
        used = trace.counters() - stat_counters
        newest = entries[count].header or b""
        if len(entries) != min(WINDOW, count) or ds.SUBJECT_NEEDLE.encode() not in newest:
            raise BenchError(f"window() gave {len(entries)} entries; newest header {newest[:80]!r}")
        return {"pipelined": session.pipelining, "messages": count,
                "server_offers_pipelining": int("PIPELINING" in session.capabilities),
                "login_ms": (logged_in - started) * 1000, "login_turns": login_turns,
                "stat_ms": (after_stat - logged_in) * 1000,
                "stat_round_trips": (stat_counters - before).round_trips,
                "window_ms": (done - after_stat) * 1000, "window_round_trips": used.round_trips,
                "window_turns": wire["turns"], "window_down": wire["down"], "window_up": wire["up"],
                "stat_window_ms": (done - logged_in) * 1000}
    finally:
        session.quit()


def measure_pipelining(bed: Testbed, label: str, proxies: dict[str, CountingProxy],
                       modes: tuple[bool, ...], runs: dict[str, int], timeout: float, log
                       ) -> list[dict[str, Any]]:
    """One entry per (link, mode): medians over the runs, after one discarded warm-up."""
    out = []
    for link, proxy in proxies.items():
        for pipelining in modes:
            result = Result(f"{label} {link} {'pipelined' if pipelining else 'lock-step'}")
            log(f"bench: pop3: {result.client}")
            for run in range(runs[link] + 1):
                try:
                    sample = window_sample(bed, proxy, pipelining, timeout)
                except Exception as exc:  # noqa: BLE001
                    result.errors.append(str(exc))
                    continue
                if run:
                    result.add("window", sample)
            out.append({"maildrop": label, "link": link, "pipelining": pipelining,
                        **result.to_json()})
    return out


# -- the suite --------------------------------------------------------------------------------

SLOW_DELAY, SLOW_RATE = 0.025, 10e6


def run_suite(args, log) -> dict[str, Any]:
    """Everything for the POP3 table; the caller prints it (pop3_report) and stores it."""
    started = time.monotonic()
    loadavg_before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix=f"tuimail-bench.{os.getpid()}.", dir="/tmp"))
    bed = Testbed(users={ds.USER: ds.PASSWORD})
    tmux = Tmux()
    proxies: list[CountingProxy] = []
    clients: dict[str, Any] = {}
    try:
        log("bench: pop3: starting the testbed")
        bed.start()
        data = ds.prepare(bed, args.pop3_messages, args.cache_dir, refill=args.refill, log=log)
        proxy = CountingProxy(bed.pop3s_port)
        slow = CountingProxy(bed.pop3s_port, delay=SLOW_DELAY, rate_bps=SLOW_RATE)
        proxies += [proxy, slow]
        direct = Direct(bed.pop3s_port)
        cli = Pop3Cli(pop3_config(bed, scratch / "tuimail" / "config.toml", proxy.port),
                      args.timeout)
        direct_cli = Pop3Cli(pop3_config(bed, scratch / "tuimail" / "direct.toml", direct.port),
                             args.timeout)
        clients["tuimail"] = measure_tuimail(cli, direct_cli, proxy, direct, scratch / "tuimail",
                                             args.runs, log)
        clients["tuimail-tui"] = measure_tui(cli, proxy, scratch / "tuimail", args.runs, log)
        for name in args.peers:
            if name not in POP3_PEERS:
                clients[name] = {"available": False, "note": f"{name} has no POP3"}
            elif shutil.which("tmux") is None:
                clients[name] = {"available": False, "note": "tmux not installed"}
            else:
                tmux.start()
                clients[name] = measure_neomutt(bed, data, proxy, direct, tmux, scratch,
                                                args.runs, args.timeout, log)
        links = {"loopback": proxy, **({"slow": slow} if args.slow_runs else {})}
        runs = {"loopback": args.runs, "slow": args.slow_runs}
        pipelining = measure_pipelining(bed, f"{data.messages + 1:,}", {"loopback": proxy},
                                        (True,), runs, args.timeout, log)
        small = ds.prepare(bed, args.pipelining_messages, args.cache_dir, log=log)
        pipelining = measure_pipelining(bed, f"{small.messages + 1:,}", links, (True, False),
                                        runs, args.timeout, log) + pipelining
        meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "messages": args.pop3_messages,
                "pipelining_messages": args.pipelining_messages, "runs": args.runs,
                "slow_runs": args.slow_runs, "window": WINDOW,
                "slow_link": {"delay_s_each_way": SLOW_DELAY, "rate_bit_s": SLOW_RATE},
                "dataset": data.to_json(), "bench_seconds": time.monotonic() - started,
                "host": {"cpus": os.cpu_count(), "dovecot": version_of(["dovecot", "--version"]),
                         "loadavg_before": loadavg_before, "loadavg_after": os.getloadavg()},
                "units": {"KB": 1000, "MB": 1_000_000,
                          "turns": "times the client sent after receiving (incl. TLS)",
                          "round_trips": "POP3 round trips as the client's trace counts them"}}
        return {"meta": meta, "clients": clients, "pipelining": pipelining}
    finally:
        tmux.stop()
        for item in proxies:
            item.close()
        bed.stop()
        if args.keep_scratch:
            log(f"bench: scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
