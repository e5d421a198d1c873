"""tuimail's side of the POP3 suite, each run in a child process with its own $XDG_DATA_HOME
(where the POP3 store lives: a fresh one is an empty local store), timed until the newest
subject is on its stdout, the counting proxy snapshotted at that moment (as CliDriver does for
IMAP):
- the CLI, `tuimail list --limit 50 --json --stats`: cold, then reopened from that store with
  --offline (no network at all), then online with the store; and cold straight to Dovecot;
- the TUI (pop3_tui_probe.py, when the POP3 pane exists): cold, then reopened, where the first
  frame with rows must come from the local store before any byte from the server.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tests.testbed import Testbed

from . import dataset as ds
from .common import (BenchError, Result, prime_page_cache, program_caches, run_measured, seed_program_caches,
                     traffic)
from .pop3_tui_probe import ROWS_MARK
from .proxy import CountingProxy
from .tuimail_side import ROOT

WINDOW = 50


def pop3_config(bed: Testbed, path: Path, port: int) -> Path:
    """A tuimail config whose POP3 account `bench` reaches Dovecot's POP3S through port."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'default_account = "{ds.USER}"\n\n' + pop3_config_text(bed, port))
    return path


def pop3_config_text(bed: Testbed, port: int) -> str:
    return bed.config_toml(ds.USER, protocol="pop3", pop3={"port": port, "security": "tls"},
                           imap=None, smtp=None)


def _env(home: Path) -> dict[str, str]:
    """The POP3 store lives under $XDG_DATA_HOME: a fresh home is an empty local store."""
    env = {k: v for k, v in os.environ.items() if k != "TUIMAIL_CONFIG"}
    env.update(XDG_CACHE_HOME=str(home / "cache"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), PYTHONUNBUFFERED="1")
    return env


def _measured(argv: list[str], home: Path, proxy: Any, needle: str, timeout: float,
              marks: tuple[str, ...] = ()):
    """Run argv until it exits; (Finished, proxy figures when needle showed on its stdout).
    The proxy is snapshotted at each of marks too (done.at_marks)."""
    deadline = time.monotonic() + 2  # the last run's connection must not count as this one's
    while (any(c["open"] for c in proxy.snapshot().get("per_connection", ()))
           and time.monotonic() < deadline):
        time.sleep(0.01)
    prime_page_cache([argv[0], "-c", "import tuimail.cli, tuimail.commands.listing, tuimail.ui.app, "
                      "tuimail.protocols.pop3, tuimail.store.pop3_sync"], env=_env(home))  # as NeoMutt is
    proxy.reset()
    done = run_measured(argv, env=_env(home), timeout=timeout, cwd=str(ROOT),
                        needles=[*marks, needle], on_mark=proxy.snapshot)
    if done.returncode != 0 or needle not in done.marks:
        why = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        status = f"exit {done.returncode}" if done.returncode else f"{needle!r} not in output"
        raise BenchError(f"{' '.join(argv[2:])}: {status}: {' | '.join(why[-3:])[:300]}")
    return done, {"seconds": done.marks[needle], "exit_seconds": done.seconds,
                  **traffic(done.at_marks[needle]), "total_down": proxy.snapshot()["down"],
                  "peak_rss_mb": done.peak_rss_mb}


class Pop3Cli:
    def __init__(self, config: Path, timeout: float, python: str = sys.executable):
        self.config, self.timeout, self.python = config, timeout, python

    def list(self, home: Path, proxy: Any, needle: str, *extra: str) -> dict[str, Any]:
        argv = [self.python, "-m", "tuimail", "--config", str(self.config), "list", "--account",
                ds.USER, "--limit", str(WINDOW), "--json", "--stats", *extra]
        done, sample = _measured(argv, home, proxy, needle, self.timeout)
        rows = json.loads(done.stdout)["messages"]
        if len(rows) != WINDOW or needle not in rows[0]["subject"]:
            raise BenchError(f"tuimail list printed {len(rows)} rows, first {rows[:1]}")
        stats = [line for line in done.stderr.splitlines() if " round trips" in line]
        sample["round_trips"] = int(stats[-1].split()[-3]) if stats else None  # "N round trips"
        return sample

    def tui(self, home: Path, proxy: Any, needle: str) -> dict[str, Any]:
        argv = [self.python, "-m", "tests.bench.pop3_tui_probe", str(self.config), needle]
        done, sample = _measured(argv, home, proxy, needle, self.timeout, (ROWS_MARK,))
        figures = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if not figures:
            raise BenchError(f"pop3_tui_probe printed no figures: {done.stdout[-300:]!r}")
        figures = figures[-1]
        sample.update(peak_rss_mb=figures["peak_rss_mb"], source=figures["source"],
                      logged_in_at_frame=figures["logged_in_at_frame"],
                      in_process_seconds=figures["in_process_seconds"])
        rows = done.at_marks.get(ROWS_MARK)
        if rows is not None and done.marks[ROWS_MARK] <= sample["seconds"]:
            sample.update(rows_seconds=done.marks[ROWS_MARK], down_at_rows=rows["down"],
                          turns_at_rows=rows["turns"])
        return sample

    def floor(self, home: Path, proxy: Any, needle: str) -> dict[str, Any]:
        """A one-line Textual app's first frame, timed the same way (tui_probe.py bare): the
        machine's floor in this run, as in the IMAP suite."""
        argv = [self.python, "-m", "tests.bench.tui_probe", "bare", str(self.config), needle, needle]
        _, sample = _measured(argv, home, proxy, needle, self.timeout)
        return {"seconds": sample["seconds"]}

    def startup(self, home: Path) -> float:
        """Median seconds of `tuimail --version`: the interpreter start every figure includes."""
        argv = [self.python, "-m", "tuimail", "--version"]
        times = sorted(run_measured(argv, env=_env(home), timeout=60, cwd=str(ROOT)).seconds
                       for _ in range(3))
        return times[1]


class Direct:
    """Stands in for a CountingProxy when the client connects to Dovecot itself: times only,
    without the proxy's cost per round trip (about 0.25 ms here; NeoMutt makes 20,000)."""

    def __init__(self, port: int):
        self.port = port

    def reset(self) -> None:
        pass

    def snapshot(self) -> dict[str, Any]:
        return dict.fromkeys(("down", "up", "turns", "connections"))


def measure_tuimail(cli: Pop3Cli, direct_cli: Pop3Cli, proxy: CountingProxy, direct: Direct,
                    scratch: Path, runs: int, log) -> dict[str, Any]:
    result = Result("tuimail", note="driver: cli (`tuimail list --json`)")
    needle = ds.SUBJECT_NEEDLE

    kept: list[Path] = []  # the warm-up run's program caches (see common.seed_program_caches)

    def fresh(tag: str) -> Path:
        home = scratch / f"home-{tag}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        seed_program_caches(kept, home / "cache")
        return home

    try:
        seconds = cli.startup(fresh("probe"))
        result.note += f"; process start (`tuimail --version`) {seconds:.3f}s, included"
        result.add("startup", {"seconds": seconds})
        log("bench: pop3: tuimail: warm-up run (discarded)")
        warm_up = fresh("warmup")
        cli.list(warm_up, proxy, needle)
        kept.extend(program_caches(warm_up / "cache"))
    except Exception as exc:  # noqa: BLE001 - recorded; the runs may still work
        result.errors.append(f"warm-up: {exc}")
    for run in range(1, runs + 1):
        log(f"bench: pop3: tuimail: run {run}/{runs}")
        home = fresh(str(run))
        for phase, extra in (("cold", ()), ("reopen", ("--offline",)), ("warm", ())):
            try:
                result.add(phase, cli.list(home, proxy, needle, *extra))
            except Exception as exc:  # noqa: BLE001
                result.errors.append(f"run {run} {phase}: {exc}")
                break
        try:
            result.add("direct", direct_cli.list(fresh(f"{run}-direct"), direct, needle))
        except Exception as exc:  # noqa: BLE001
            result.errors.append(f"run {run} direct: {exc}")
    if not set(result.samples) - {"startup"}:
        result.available = False
        result.note = "failed: " + (result.errors[-1].splitlines()[0] if result.errors else "?")
    return result.to_json()




def tui_unavailable() -> str | None:
    try:
        importlib.import_module("tuimail.ui.widgets.pop3_pane")
    except ImportError as exc:
        return f"no POP3 pane in the TUI: {exc}"
    return None


def measure_tui(cli: Pop3Cli, proxy: CountingProxy, scratch: Path, runs: int, log
                ) -> dict[str, Any]:
    """The TUI on the POP3 account: cold (empty store), then reopened with that store."""
    result = Result("tuimail-tui", note="driver: tui (headless, pop3_tui_probe.py)")
    reason = tui_unavailable()
    if reason:
        result.available, result.note = False, reason
        return result.to_json()
    needle = ds.SUBJECT_NEEDLE
    kept: list[Path] = []  # the warm-up run's program caches (see common.seed_program_caches)
    for run in range(runs + 1):
        log("bench: pop3: tuimail tui: " + ("warm-up run (discarded)" if run == 0 else
                                            f"run {run}/{runs}"))
        home = scratch / f"tui-{run}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        seed_program_caches(kept, home / "cache")
        for phase in ("cold", "reopen"):
            try:
                sample = cli.tui(home, proxy, needle)
            except Exception as exc:  # noqa: BLE001
                result.errors.append(f"{'warm-up' if run == 0 else f'run {run}'} {phase}: {exc}")
                break
            if run:
                result.add(phase, sample)
        if run == 0:
            kept.extend(program_caches(home / "cache"))
        else:
            try:
                result.add("floor", cli.floor(home, proxy, needle))
            except Exception as exc:  # noqa: BLE001
                result.errors.append(f"run {run} floor: {exc}")
    if not result.samples:
        result.available = False
        result.note = "failed: " + (result.errors[-1].splitlines()[0] if result.errors else "?")
    return result.to_json()
