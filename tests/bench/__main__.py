"""python -m tests.bench [--quick] [--messages N] [--runs R] [--peers neomutt,aerc] [--pop3]

Starts a private Dovecot (tests/testbed, needs root), links the cached benchmark Maildir into
it (building it the first time), then measures tuimail and the peers through byte-counting
proxies, prints a table and writes .bench/results.json. --pop3 (--suite pop3) measures POP3
instead (issue 4: a 10,000-message maildrop, NeoMutt, PIPELINING; .bench/results-pop3.json),
--suite all both.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.testbed import Testbed, TestbedError

from . import dataset as ds
from . import pop3_bench, pop3_report
from .common import Tmux, version_of
from .peers import PEERS, measure_peer
from .proxy import CountingProxy
from .report import check_targets, render
from .tuimail_side import DRIVERS, ROOT, measure_tuimail

SLOW_DELAY, SLOW_RATE = 0.025, 10e6  # 25 ms each way, 10 Mbit/s


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split(
        "\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, help="generated messages (default 100000)")
    parser.add_argument("--runs", type=int, help="measured runs per figure, median (default 3)")
    parser.add_argument("--slow-runs", type=int, default=1,
                        help="slow-link runs per client (default 1; 0 skips the slow link)")
    parser.add_argument("--peers", default="neomutt,aerc",
                        help="comma-separated peers to measure where installed ('' for none)")
    parser.add_argument("--suite", choices=("imap", "pop3", "all"), default="imap",
                        help="what to measure (default imap; all: imap, then pop3)")
    parser.add_argument("--pop3", dest="suite", action="store_const", const="pop3",
                        help="the POP3 suite only (same as --suite pop3)")
    parser.add_argument("--pop3-messages", type=int, default=10_000,
                        help="POP3 suite: generated messages in the maildrop (default 10000)")
    parser.add_argument("--pipelining-messages", type=int, default=1_000,
                        help="POP3 suite: maildrop for the PIPELINING figure (default 1000)")
    parser.add_argument("--quick", action="store_true",
                        help="development run: 10,000 messages, 1 run")
    parser.add_argument("--no-tuimail", action="store_true", help="measure the peers only")
    parser.add_argument("--tuimail-driver", choices=sorted(DRIVERS), default="tui",
                        help="how tuimail is driven (default tui: the real app, headless; cli: `tuimail list` / `read`)")
    parser.add_argument("--timeout", type=float, default=180,
                        help="seconds any one client may take for one step (default 180)")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".bench",
                        help="where the Maildir cache and results.json go (default .bench/)")
    parser.add_argument("--refill", action="store_true", help="rebuild the cached Maildir")
    parser.add_argument("--keep-scratch", action="store_true",
                        help="keep the clients' configs and caches (printed path)")
    args = parser.parse_args(argv)
    args.messages = args.messages or (10_000 if args.quick else 100_000)
    args.runs = args.runs or (1 if args.quick else 3)
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in args.peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    counts = (args.messages, args.pop3_messages, args.pipelining_messages)
    if min(counts) < 1 or args.runs < 1 or args.slow_runs < 0:
        parser.error("message counts and --runs must be positive, --slow-runs not negative")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers get stopped


def run(args: argparse.Namespace) -> dict:
    started = time.monotonic()
    args.loadavg_before = os.getloadavg()
    _remove_stale()
    scratch = Path(tempfile.mkdtemp(prefix=f"tuimail-bench.{os.getpid()}.", dir="/tmp"))
    bed = Testbed(users={ds.USER: ds.PASSWORD})
    tmux = Tmux()
    proxies: list[CountingProxy] = []
    clients: dict[str, dict] = {}
    try:
        log("bench: starting the testbed")
        bed.start()
        data = ds.prepare(bed, args.messages, args.cache_dir, refill=args.refill, log=log)
        log(f"bench: dataset ready in {data.setup_seconds:.1f}s ({'cached' if data.cached else 'built'}"
            f"; warm-up SELECT {data.warmup_select_seconds:.2f}s, discarded)")
        proxy = CountingProxy(bed.imaps_port)
        proxies.append(proxy)
        slow = None
        if args.slow_runs:
            slow = CountingProxy(bed.imaps_port, delay=SLOW_DELAY, rate_bps=SLOW_RATE)
            proxies.append(slow)
        if args.no_tuimail:
            clients["tuimail"] = {"available": False, "note": "skipped (--no-tuimail)"}
        else:
            clients["tuimail"] = measure_tuimail(
                bed, proxy, data, scratch=scratch, runs=args.runs, slow_proxy=slow,
                slow_runs=args.slow_runs, driver=DRIVERS[args.tuimail_driver](args.timeout),
                timeout=args.timeout, log=log)
        if args.peers and shutil.which("tmux") is None:
            for name in args.peers:
                clients[name] = {"available": False, "note": "tmux not installed"}
        elif args.peers:
            tmux.start()
            for name in args.peers:
                clients[name] = measure_peer(
                    name, bed, data, proxy, slow, tmux, scratch, runs=args.runs,
                    slow_runs=args.slow_runs, timeout=args.timeout, log=log).to_json()
        return {"meta": _meta(args, data, time.monotonic() - started), "clients": clients}
    finally:
        tmux.stop()
        for item in proxies:
            item.close()
        bed.stop()
        if args.keep_scratch:
            log(f"bench: scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _remove_stale() -> None:
    """Scratch dirs and tmux sockets left by a bench process that was killed outright."""
    sockets = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
    candidates = [*Path("/tmp").glob("tuimail-bench.*.*"), *sockets.glob("tuimail-bench-*")]
    for path in candidates:
        pid = path.name.replace("tuimail-bench-", "tuimail-bench.").split(".")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _meta(args: argparse.Namespace, data: ds.Dataset, seconds: float) -> dict:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "messages": args.messages,
        "runs": args.runs, "slow_runs": args.slow_runs, "peers": args.peers,
        "slow_link": {"delay_s_each_way": SLOW_DELAY, "rate_bit_s": SLOW_RATE},
        "dataset": data.to_json(), "bench_seconds": seconds,
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(),
                 "python": platform.python_version(),
                 "dovecot": version_of(["dovecot", "--version"]),
                 # other work on the machine skews the times (not the bytes): look here first
                 "loadavg_before": args.loadavg_before, "loadavg_after": os.getloadavg()},
        "units": {"KB": 1000, "MB": 1_000_000,
                  "turns": "times the client sent after receiving (round trips, incl. TLS)"},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        log("bench: needs root (the testbed runs its own Dovecot master); try `sudo make bench`")
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    for suite in ("imap", "pop3"):
        if args.suite not in (suite, "all"):
            continue
        try:
            if suite == "imap":
                results = run(args)
            else:
                _remove_stale()
                results = pop3_bench.run_suite(args, log)
        except KeyboardInterrupt:
            log("bench: interrupted")
            return 130
        except TestbedError as exc:
            log(f"bench: the testbed failed: {exc}")
            return 1
        if suite == "imap":
            results["meta"]["targets"] = check_targets(results["clients"])
            print(render(results["clients"], args.peers, results["meta"]))
        else:
            results["meta"]["targets"] = pop3_report.check_targets(results)
            print(pop3_report.render(results, args.peers))
        out = args.cache_dir / ("results.json" if suite == "imap" else "results-pop3.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults: {out}" + ("\n" if args.suite == "all" and suite == "imap" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
