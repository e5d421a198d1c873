"""Shared pieces: per-client results, medians, RSS, a tmux driver, and a measured subprocess."""
from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COLUMNS, ROWS = 200, 60
POLL = 0.01  # seconds between screen captures


class BenchError(RuntimeError):
    """A measurement failed; the message says what the client showed or printed."""


@dataclass
class Result:
    """What one client measured: samples per phase (cold, warm, open, slow), errors, notes."""
    client: str
    available: bool = True
    version: str = ""
    note: str = ""
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, phase: str, sample: dict[str, Any]) -> None:
        self.samples.setdefault(phase, []).append(sample)

    def median(self, phase: str, key: str) -> float | None:
        values = [s[key] for s in self.samples.get(phase, []) if s.get(key) is not None]
        return statistics.median(values) if values else None

    def medians(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for phase, samples in self.samples.items():
            keys = {k for s in samples for k, v in s.items() if isinstance(v, (int, float))}
            out[phase] = {k: self.median(phase, k) for k in sorted(keys)}
        return out

    def to_json(self) -> dict[str, Any]:
        return {"available": self.available, "version": self.version, "note": self.note,
                "errors": self.errors, "medians": self.medians(), "samples": self.samples}


def traffic(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The proxy figures a sample keeps."""
    return {k: snapshot[k] for k in ("down", "up", "turns", "connections")}


def rss_mb(pid: int) -> dict[str, float | None]:
    """Current and peak resident set size of a live process, in MB (10^6 bytes)."""
    figures: dict[str, float | None] = {"rss_mb": None, "peak_rss_mb": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                kb = int(value.split()[0])
                figures["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = kb * 1024 / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return figures


def version_of(command: Sequence[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


class Tmux:
    """A private tmux server (own socket, no user config) for driving terminal clients."""

    def __init__(self, name: str | None = None):
        self.socket = name or f"tuimail-bench-{os.getpid()}"
        self._started = False
        self._path = ""
        self._pids: dict[str, int] = {}  # session -> the client's pid

    def run(self, *args: str, timeout: float = 10, check: bool = True
            ) -> subprocess.CompletedProcess:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                                capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise BenchError(f"tmux {args[0]}: {result.stderr.strip()}")
        return result

    def start(self) -> None:
        # A parked session keeps the server up, so sessions under test do not pay for its start.
        # It is also a watchdog: if this process dies without stop(), it kills the server (and
        # the clients in it) within a second.
        tmux = f"tmux -L {shlex.quote(self.socket)}"
        watchdog = (f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
                    f"for p in $({tmux} list-panes -a -F '#{{pane_pid}}'); do "
                    f'[ "$p" = $$ ] || kill -9 "$p"; done; {tmux} kill-server')
        self.run("new-session", "-d", "-s", "keepalive", "-x", str(COLUMNS), "-y", str(ROWS),
                 watchdog)
        self._started = True
        self._path = self.run("display-message", "-p", "#{socket_path}").stdout.strip()
        self.run("set-option", "-g", "remain-on-exit", "on")

    def stop(self) -> None:
        if self._started:
            self._started = False
            for session in list(self._pids):
                self.kill(session)
            try:
                self.run("kill-server", check=False)
            except (OSError, subprocess.TimeoutExpired):
                pass
            if self._path:  # kill-server leaves the socket file behind
                Path(self._path).unlink(missing_ok=True)

    def spawn(self, session: str, argv: Sequence[str], env: Mapping[str, str]) -> float:
        """Start argv in a new detached session; returns the monotonic time just before."""
        self.kill(session)
        env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        started = time.monotonic()
        self.run("new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(ROWS),
                 *env_args, "exec " + shlex.join(argv))
        self._pids[session] = self.pane(session)[0]
        return started

    def kill(self, session: str) -> None:
        """Remove the session and make sure its client is gone (a SIGHUP may not stop it)."""
        try:
            self.run("kill-session", "-t", session, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass
        pid = self._pids.pop(session, None)
        deadline = time.monotonic() + 1
        while pid is not None and _alive(pid):
            if time.monotonic() > deadline:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
                break
            time.sleep(0.02)

    def capture(self, session: str) -> str:
        return self.run("capture-pane", "-p", "-t", session, timeout=5).stdout

    def pane(self, session: str) -> tuple[int, bool]:
        """(pid, dead) of the session's pane."""
        out = self.run("display-message", "-p", "-t", session,
                       "#{pane_pid} #{pane_dead}", timeout=5).stdout.split()
        return int(out[0]), out[1] == "1"

    def wait_for(self, session: str, needle: str, started: float, timeout: float,
                 on_poll: Callable[[], None] | None = None) -> float:
        """Seconds from started until needle is on the screen; BenchError when it never is."""
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            screen = self.capture(session)
            if needle in screen:
                return time.monotonic() - started
            polls += 1
            if polls % 20 == 0 and self.pane(session)[1]:
                raise BenchError(f"exited before showing {needle!r}; screen:\n{_tail(screen)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{needle!r} not shown after {timeout:.0f}s; screen:\n"
                                 f"{_tail(screen)}")
            if on_poll:
                on_poll()
            time.sleep(POLL)

    def settle(self, proxy: Any, quiet: float = 0.3, timeout: float = 10) -> None:
        """Wait until no bytes moved through proxy for quiet seconds (background fetches done)."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = proxy.snapshot()
            figures = (now["down"], now["up"])
            if figures != last:
                last, since = figures, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.02)

    def keys(self, session: str, *keys: str) -> None:
        self.run("send-keys", "-t", session, *keys)

    def close(self, session: str, quit_keys: Sequence[str], timeout: float = 10) -> bool:
        """Ask the client to quit (so it writes its caches), then remove the session.

        True when it exited by itself within timeout.
        """
        clean = False
        try:
            self.keys(session, *quit_keys)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.pane(session)[1]:
                    clean = True
                    break
                time.sleep(0.05)
        except (BenchError, OSError, subprocess.TimeoutExpired, ValueError, IndexError):
            pass
        finally:
            self.kill(session)
        return clean


def _alive(pid: int) -> bool:
    """True while pid runs (a zombie no longer counts: here nobody may reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _tail(screen: str, lines: int = 12) -> str:
    return "\n".join(line.rstrip() for line in screen.rstrip().splitlines()[-lines:])


@dataclass
class Finished:
    returncode: int
    seconds: float  # until exit
    stdout: str
    stderr: str
    peak_rss_mb: float | None  # VmHWM, sampled every ~2 ms while it ran
    marks: dict[str, float]  # needle -> seconds until it appeared on stdout
    at_marks: dict[str, Any]  # needle -> whatever on_mark returned then


def run_measured(argv: Sequence[str], *, env: Mapping[str, str], timeout: float,
                 needles: Sequence[str] = (), on_mark: Callable[[], Any] | None = None,
                 cwd: str | None = None) -> Finished:
    """Run argv to completion with a timeout; time when each needle first shows on stdout.

    """
    started = time.monotonic()
    process = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    out, err = bytearray(), bytearray()
    marks: dict[str, float] = {}
    at_marks: dict[str, Any] = {}
    pending = [n.encode() for n in needles]

    def read_out() -> None:
        while chunk := os.read(process.stdout.fileno(), 65536):
            out.extend(chunk)
            for needle in list(pending):
                if needle in out:
                    marks[needle.decode()] = time.monotonic() - started
                    at_marks[needle.decode()] = on_mark() if on_mark else None
                    pending.remove(needle)

    def read_err() -> None:
        while chunk := os.read(process.stderr.fileno(), 65536):
            err.extend(chunk)

    readers = [threading.Thread(target=f, daemon=True) for f in (read_out, read_err)]
    for reader in readers:
        reader.start()
    deadline = started + timeout
    status = None
    peak = 0.0
    try:
        while True:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            # Not wait4's ru_maxrss: after a vfork+exec Linux counts the parent's peak in it.
            peak = max(peak, rss_mb(process.pid)["peak_rss_mb"] or 0.0)
            if time.monotonic() > deadline:
                os.killpg(process.pid, 9)
                _, status = os.waitpid(process.pid, 0)
                raise BenchError(f"timed out after {timeout:.0f}s: {shlex.join(argv)}")
            time.sleep(0.002)
        seconds = time.monotonic() - started
    finally:
        process.returncode = -1 if status is None else os.waitstatus_to_exitcode(status)
        for reader in readers:
            reader.join(timeout=5)
        process.stdout.close()
        process.stderr.close()
    return Finished(process.returncode, seconds, out.decode(errors="replace"),
                    err.decode(errors="replace"), peak or None, marks, at_marks)


def program_caches(cache_home: Path) -> list[Path]:
    """tuimail's own code cache in cache_home ($XDG_CACHE_HOME): it belongs to the installed
    program, like byte-compiled modules, not to a mailbox (tuimail/store/code_cache.py)."""
    return sorted((cache_home / "tuimail").glob("dataclass-code.*"))


def seed_program_caches(kept: list[Path], cache_home: Path) -> None:
    """Put the warm-up run's program caches into a fresh cache_home: a cold run is a mailbox
    never seen, not a program never run."""
    for path in kept:
        (cache_home / "tuimail").mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(path, cache_home / "tuimail" / path.name)


def prime_page_cache(argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 60) -> None:
    """Run argv once, untimed, just before a timed start: its files are then in the page cache,
    as they are on any machine where the program ran a moment ago. Machines of this workplace
    evict files idle for ~30 s (DAMON reclaim), and a start then waits on the disk: `import
    textual.app` took 190 ms hot and 320-385 ms after a 30 s pause. Every client, and the
    floor, is primed the same way before each timed start."""
    subprocess.run(argv, env=dict(env) if env is not None else None, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=timeout, check=False)
