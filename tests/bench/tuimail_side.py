"""tuimail's figures, behind one seam: measure_tuimail(bed, proxy, data, ...) -> dict.

A driver does the client-specific part (start tuimail with a config and a cache dir until the
newest subject is shown, or open a message until its text is shown) and returns one sample:

    {"seconds": float, "down": int, "up": int, "turns": int, "connections": int,
     "peak_rss_mb": float | None, "round_trips": int | None, ...anything else}

(down/up/turns/connections are proxy.snapshot() figures at the moment the subject or text
showed; see common.traffic). measure_tuimail runs the phases the same way as for the peers:
a discarded warm-up, then per run a cold first screen with an empty $XDG_CACHE_HOME, a warm one
with the same cache, and opening the 10 MB-attachment message; then slow-link cold starts.

Two drivers: TuiDriver (the default: the real TUI, headless in a child process,
tests/bench/tui_probe.py, timed to the first frame holding the first 50 rows with real data)
and CliDriver (`tuimail list --limit 50 --json` and `tuimail read UID`). Before every timed
start the client's files are read once (common.prime_page_cache), as the peers' are; each run's
cache directory starts with the warm-up run's code cache only (common.seed_program_caches).
"""
from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Protocol

from tests.testbed import Testbed

from . import dataset as ds
from .common import BenchError, Result, prime_page_cache, run_measured, seed_program_caches, traffic
from .common import program_caches as cached_programs
from .proxy import CountingProxy

ROOT = Path(__file__).resolve().parents[2]


class Driver(Protocol):
    name: str

    def unavailable(self, config: Path, cache_home: Path) -> str | None:
        """Why this driver cannot run here (e.g. the command does not exist yet), else None."""

    def first_screen(self, config: Path, cache_home: Path, proxy: CountingProxy,
                     data: ds.Dataset) -> dict[str, Any]: ...

    def open_message(self, config: Path, cache_home: Path, proxy: CountingProxy,
                     data: ds.Dataset) -> dict[str, Any]: ...


def write_config(bed: Testbed, path: Path, port: int) -> Path:
    """A tuimail config whose account `bench` reaches the server through the proxy on port."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'default_account = "{ds.USER}"\n\n'
                    + bed.config_toml(ds.USER, imap={"port": port}))
    return path


def _env(cache_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TUIMAIL_CONFIG"}
    env.update(XDG_CACHE_HOME=str(cache_home), XDG_CONFIG_HOME=str(cache_home.parent / "xdg-config"),
               PYTHONUNBUFFERED="1")
    return env


def _round_trips(stdout: str, stderr: str) -> int | None:
    """The round-trip count the CLI reports: `--stats` on stderr ("... N round trips"), or a
    round_trips key in its JSON (top level or under "stats")."""
    match = re.search(r"(\d+) round trips", stderr)
    if match:
        return int(match.group(1))
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    for where in (data, data.get("stats") if isinstance(data, dict) else None):
        if isinstance(where, dict):
            for key in ("round_trips", "roundtrips", "imap_round_trips"):
                if isinstance(where.get(key), int):
                    return where[key]
    return None


class CliDriver:
    name = "cli"

    def __init__(self, timeout: float = 120, python: str = sys.executable):
        self.timeout, self.python = timeout, python
        self.stats = False  # whether the commands take --stats (round trips on stderr)

    def _tuimail(self, config: Path, *args: str) -> list[str]:
        return [self.python, "-m", "tuimail", "--config", str(config), *args,
                *(["--stats"] if self.stats and args[0] in ("list", "read") else [])]

    def _run(self, argv: list[str], cache_home: Path, proxy: CountingProxy, needle: str
             ) -> dict[str, Any]:
        proxy.reset()
        done = run_measured(argv, env=_env(cache_home), timeout=self.timeout, cwd=str(ROOT),
                            needles=[needle], on_mark=proxy.snapshot)
        if done.returncode != 0 or needle not in done.marks:
            why = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
            status = f"exit {done.returncode}" if done.returncode else f"{needle!r} not in output"
            raise BenchError(f"{' '.join(argv[2:])}: {status}: {' | '.join(why[-3:])[:300]}")
        return {"seconds": done.marks[needle], "exit_seconds": done.seconds,
                **traffic(done.at_marks[needle]), "total_down": proxy.snapshot()["down"],
                "peak_rss_mb": done.peak_rss_mb,
                "round_trips": _round_trips(done.stdout, done.stderr)}

    def unavailable(self, config: Path, cache_home: Path) -> str | None:
        try:
            done = run_measured(self._tuimail(config, "list", "--help"), env=_env(cache_home),
                                timeout=60, cwd=str(ROOT))
        except BenchError as exc:
            return str(exc)
        if done.returncode != 0:
            return "`tuimail list` not available: " + (done.stderr.strip().splitlines()
                                                       or ["?"])[-1][:200]
        self.stats = "--stats" in done.stdout
        return None

    def startup(self, config: Path, cache_home: Path) -> float | None:
        """Seconds for `tuimail --version`: the interpreter start every CLI figure includes."""
        times = []
        for _ in range(3):
            try:
                done = run_measured(self._tuimail(config, "--version"), env=_env(cache_home),
                                    timeout=60, cwd=str(ROOT))
            except BenchError:
                return None
            times.append(done.seconds)
        return sorted(times)[1]

    def first_screen(self, config: Path, cache_home: Path, proxy: CountingProxy,
                     data: ds.Dataset) -> dict[str, Any]:
        argv = self._tuimail(config, "list", "--account", ds.USER, "--folder", "INBOX",
                             "--limit", "50", "--json")
        return self._run(argv, cache_home, proxy, data.subject_needle)

    def open_message(self, config: Path, cache_home: Path, proxy: CountingProxy,
                     data: ds.Dataset) -> dict[str, Any]:
        argv = self._tuimail(config, "read", str(data.big_uid), "--folder", "INBOX")
        return self._run(argv, cache_home, proxy, data.body_needle)


class TuiDriver:
    """The real TUI, headless in a child process (tests/bench/tui_probe.py)."""
    name = "tui"
    OPENING = "tuimail-probe: opening"

    def __init__(self, timeout: float = 120, python: str = sys.executable):
        self.timeout, self.python = timeout, python

    def _probe(self, mode: str, config: Path, cache_home: Path, proxy: CountingProxy,
               data: ds.Dataset, needles: list[str]):
        modules = "textual.app, textual.widgets._static" if mode == "bare" else \
            "tuimail.cli, tuimail.ui.app, tuimail.store.head_start, tuimail.protocols.imap"
        prime_page_cache([self.python, "-c", f"import {modules}"], env=_env(cache_home))
        proxy.reset()
        argv = [self.python, "-m", "tests.bench.tui_probe", mode, str(config),
                data.subject_needle, data.body_needle]
        done = run_measured(argv, env=_env(cache_home), timeout=self.timeout, cwd=str(ROOT),
                            needles=needles, on_mark=proxy.snapshot)
        missing = [n for n in needles if n not in done.marks]
        if done.returncode != 0 or missing:
            why = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
            raise BenchError(f"tui {mode}: exit {done.returncode}, missing {missing}: "
                             f"{' | '.join(why[-3:])[:300]}")
        figures = {}
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                figures = json.loads(line)
        return done, figures

    def floor(self, config: Path, cache_home: Path, proxy: CountingProxy, data: ds.Dataset
              ) -> dict[str, Any]:
        """A one-line Textual app's first frame, timed the same way: this machine's floor."""
        done, figures = self._probe("bare", config, cache_home, proxy, data, [data.subject_needle])
        return {"seconds": done.marks[data.subject_needle],
                "in_process_seconds": figures.get("in_process_seconds")}

    def unavailable(self, config: Path, cache_home: Path) -> str | None:
        try:
            import tuimail.ui.widgets.message_list  # noqa: F401
        except ImportError as exc:
            return f"the TUI index is not available: {exc}"
        return None

    def first_screen(self, config: Path, cache_home: Path, proxy: CountingProxy,
                     data: ds.Dataset) -> dict[str, Any]:
        from .tui_probe import RESYNCED

        done, figures = self._probe("first", config, cache_home, proxy, data,
                                    [data.subject_needle, RESYNCED])
        needle = data.subject_needle
        at_frame = traffic(done.at_marks[needle])
        # bytes until the server's first screen was in: the same as at the frame when cold;
        # warm, the frame is drawn from the cache and the resync follows it
        return {"seconds": done.marks[needle], **traffic(done.at_marks[RESYNCED]),
                "down_at_frame": at_frame["down"], "turns_at_frame": at_frame["turns"],
                "peak_rss_mb": figures.get("peak_rss_mb"), "rss_mb": figures.get("rss_mb"),
                "peak_rss_scrolled_mb": figures.get("peak_rss_scrolled_mb"),
                "max_stall_ms": figures.get("max_stall_ms"), "loaded_rows": figures.get("loaded_rows"),
                "in_process_seconds": figures.get("in_process_seconds")}

    def open_message(self, config: Path, cache_home: Path, proxy: CountingProxy,
                     data: ds.Dataset) -> dict[str, Any]:
        needles = [data.subject_needle, self.OPENING, data.body_needle]
        done, figures = self._probe("open", config, cache_home, proxy, data, needles)
        before, after = done.at_marks[self.OPENING], done.at_marks[data.body_needle]
        delta = {k: after[k] - before[k] for k in ("down", "up", "turns", "connections")}
        return {"seconds": done.marks[data.body_needle] - done.marks[self.OPENING], **delta,
                "peak_rss_mb": figures.get("peak_rss_mb")}


DRIVERS = {"cli": CliDriver, "tui": TuiDriver}


def measure_tuimail(bed: Testbed, proxy: CountingProxy, data: ds.Dataset, *, scratch: Path,
                    runs: int = 3, slow_proxy: CountingProxy | None = None, slow_runs: int = 1,
                    driver: Driver | None = None, timeout: float = 120, log=print
                    ) -> dict[str, Any]:
    """tuimail's samples and medians, in the same shape as the peers' (Result.to_json())."""
    driver = driver or CliDriver(timeout)
    result = Result("tuimail", note=f"driver: {driver.name}")
    scratch = scratch / "tuimail"
    config = write_config(bed, scratch / "config.toml", proxy.port)
    slow_config = write_config(bed, scratch / "slow.toml", slow_proxy.port) if slow_proxy else None

    program_caches: list[Path] = []  # the warm-up run's code cache, once it has run

    def fresh(tag: str) -> Path:
        """An empty cache directory but for the program's own code cache (made by the warm-up
        run, like the byte-compiled modules below): cold means a mailbox never seen, not a
        program never run. The floor (a bare Textual app) does not use it."""
        path = scratch / f"cache-{tag}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        seed_program_caches(program_caches, path)
        return path

    reason = driver.unavailable(config, fresh("probe"))
    if reason:
        result.available, result.note = False, reason
        log(f"bench: tuimail: {reason}")
        return result.to_json()

    def attempt(label: str, phase: str | None, call) -> bool:
        try:
            sample = call()
        except Exception as exc:  # noqa: BLE001 - record, carry on with the next phase
            result.errors.append(f"{label}: {exc}")
            return False
        if phase:
            result.add(phase, sample)
        return True

    startup = getattr(driver, "startup", None)
    seconds = startup(config, fresh("probe")) if startup else None
    if seconds is not None:
        result.note += f"; process start (`tuimail --version`) {seconds:.3f}s, included"
        result.add("startup", {"seconds": seconds})
    # Byte-compile tuimail as installing a wheel does: with PYTHONDONTWRITEBYTECODE set (as in
    # this workplace) an editable install would otherwise recompile every module at every start.
    compileall.compile_dir(str(ROOT / "tuimail"), quiet=1)
    floor = getattr(driver, "floor", None)
    if floor is not None:
        for _ in range(3):
            attempt("floor", "floor", lambda: floor(config, fresh("floor"), proxy, data))
    log(f"bench: tuimail ({driver.name}): warm-up run (discarded)")
    warm_up = fresh("warmup")
    attempt("warm-up", None, lambda: driver.first_screen(config, warm_up, proxy, data))
    program_caches.extend(cached_programs(warm_up))
    log(f"bench: tuimail: program caches kept for every run: {[p.name for p in program_caches] or 'none'}")
    for run in range(1, runs + 1):
        log(f"bench: tuimail ({driver.name}): run {run}/{runs}")
        cache = fresh(str(run))
        if attempt(f"run {run} cold", "cold",
                   lambda: driver.first_screen(config, cache, proxy, data)):
            attempt(f"run {run} warm", "warm",
                    lambda: driver.first_screen(config, cache, proxy, data))
        attempt(f"run {run} open", "open",
                lambda: driver.open_message(config, cache, proxy, data))
        attempt(f"run {run} restore", None, lambda: ds.restore(bed, data))
    if slow_proxy is not None and slow_config is not None:
        for run in range(1, slow_runs + 1):
            log(f"bench: tuimail ({driver.name}): slow link run {run}/{slow_runs}")
            attempt(f"slow run {run}", "slow",
                    lambda: driver.first_screen(slow_config, fresh(f"slow-{run}"), slow_proxy,
                                                data))
    if not set(result.samples) - {"startup", "floor"}:
        result.available = False
        result.note = "failed: " + (result.errors[-1].splitlines()[0] if result.errors else "?")
    return result.to_json()
