"""NeoMutt over POP3 (pops:// spoolfile), driven in tmux like the IMAP peers (peers.py): until
its index shows the newest subject, cold (empty header cache), warm (that cache), and cold
straight to Dovecot (the time without the proxy's cost per round trip)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.testbed import Testbed

from . import dataset as ds
from .common import Result, Tmux, version_of
from .peers import Peer, PeerRunner
from .proxy import CountingProxy


def neomutt_pop3_setup(home: Path, bed: Testbed, port: int, cache: Path
                       ) -> tuple[list[str], dict[str, str]]:
    """As peers.neomutt_setup for IMAP (the testbed CA, certificates checked), on pops://."""
    rc = home / "neomuttrc"
    url = f"pops://{ds.USER}@127.0.0.1:{port}/"
    rc.write_text(f"""\
set ssl_ca_certificates_file="{bed.ca_pem}"
set certificate_file="{home}/certificates"
set ssl_force_tls=yes
set pop_user="{ds.USER}"
set pop_pass="{ds.PASSWORD}"
set pop_host="{url}"
set folder="{url}"
set spoolfile="{url}"
set header_cache="{cache}/"
set message_cachedir="{cache}/bodies"
set pop_delete=no
set sort=reverse-date
set quit=yes
set move=no
set mail_check_stats=no
set wait_key=no
set sleep_time=0
set sidebar_visible=no
push <first-entry>
""")
    return ["neomutt", "-n", "-F", str(rc)], {"HOME": str(home)}


NEOMUTT_POP3 = Peer("neomutt", "neomutt", ("-v",), neomutt_pop3_setup, ("q",), ("q",))


def measure_neomutt(bed: Testbed, data: ds.Dataset, proxy: CountingProxy, direct: Any,
                    tmux: Tmux, scratch: Path, runs: int, timeout: float, log) -> dict[str, Any]:
    result = Result("neomutt")
    if shutil.which("neomutt") is None:
        result.available, result.note = False, "neomutt not installed"
        return result.to_json()
    result.version = version_of(["neomutt", "-v"])
    runner = PeerRunner(NEOMUTT_POP3, bed, data, tmux, scratch / "pop3", timeout)
    for run in range(runs + 1):
        log("bench: pop3: neomutt: " + ("warm-up run (discarded)" if run == 0 else
                                        f"run {run}/{runs}"))
        phases = (("cold", proxy), ("warm", proxy), ("direct", direct)) if run else (
            ("cold", proxy),)
        try:
            cache = runner._fresh_cache()
            for phase, via in phases:
                if phase == "direct":  # cold again
                    cache = runner._fresh_cache()
                _, sample = runner._start(via, cache)
                sample["clean_exit"] = tmux.close(runner.session, NEOMUTT_POP3.quit_keys)
                if run:
                    result.add(phase, sample)
        except Exception as exc:  # noqa: BLE001 - one failing peer must not abort the rest
            result.errors.append(f"{'warm-up' if run == 0 else f'run {run}'}: {exc}")
        finally:
            tmux.kill(runner.session)
    if not result.samples:
        result.available = False
        result.note = "failed: " + (result.errors[-1].splitlines()[0] if result.errors else "?")
    return result.to_json()
