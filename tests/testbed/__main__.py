"""python -m tests.testbed serve --dir DIR [--fill alice=3000] [--demo]: run the testbed until a signal.

Writes DIR/testbed.json (hosts, ports, CA, users) and DIR/config.toml (a tuimail config with
accounts alice and bob), prints one "ready" line, and stops cleanly on SIGTERM, SIGINT or SIGHUP.
--demo (make demo) adds the showcase messages of demo_mail.py to alice's INBOX, newest of all,
and has alice trust the demo MX's Authentication-Results.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from . import demo_mail
from .bed import Testbed


def _fill_spec(text: str) -> tuple[str, int, str]:
    """USER=COUNT or USER=COUNT:FOLDER."""
    try:
        user, _, rest = text.partition("=")
        count, _, folder = rest.partition(":")
        return user, int(count), folder or "INBOX"
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected USER=COUNT[:FOLDER], got {text!r}") from None


def serve(directory: Path, fills: list[tuple[str, int, str]], seed: int, demo: bool = False) -> int:
    stop = threading.Event()
    # SIGHUP too: closing the demo's terminal hangs up its whole process group, serve included
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    directory.mkdir(parents=True, exist_ok=True)
    info_path, config_path = directory / "testbed.json", directory / "config.toml"
    # The demo's showcase is dated after the fill, so the fill ends demo_mail.SPAN ago.
    end = int(time.time()) - demo_mail.SPAN if demo else None
    with Testbed(directory) as bed:
        for user, count, folder in fills:
            started = time.monotonic()
            summary = bed.fill(user, count, folder=folder, seed=seed, end=end)
            print(f"filled {user}/{folder} with {summary.count} messages "
                  f"({summary.unseen} unseen) in {time.monotonic() - started:.1f}s", flush=True)
        alice = bed.config_toml("alice")
        if demo:
            started = time.monotonic()
            showcase = demo_mail.showcase(end, to=bed.address("alice"), to_name="Alice")
            bed.deliver_files("alice", [m.data for m in showcase])
            print(f"delivered {len(showcase)} showcase messages to alice/INBOX "
                  f"in {time.monotonic() - started:.1f}s", flush=True)
            alice = alice.replace("[accounts.alice]\n", "[accounts.alice]\ntrusted_authserv_ids = "
                                  f'["{demo_mail.TRUSTED_AUTHSERV_ID}"]\n', 1)
        config_path.write_text('default_account = "alice"\n\n' + alice + "\n" + bed.config_toml("bob"))
        info_path.write_text(json.dumps({**bed.info(), "config": str(config_path)}, indent=2))
        print(f"testbed ready: {info_path} ({bed.describe()})", flush=True)
        try:
            while not stop.wait(1.0):
                if not bed.running:
                    print("testbed: dovecot exited; see " + str(bed.dovecot_log), file=sys.stderr)
                    return 1
        finally:
            info_path.unlink(missing_ok=True)
    print("testbed stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testbed")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="run the servers until SIGTERM or SIGINT")
    serve_parser.add_argument("--dir", type=Path, required=True,
                              help="where ca.pem, testbed.json, config.toml and logs go")
    serve_parser.add_argument("--fill", type=_fill_spec, action="append", default=[],
                              metavar="USER=COUNT[:FOLDER]", help="generated messages to add")
    serve_parser.add_argument("--seed", type=int, default=0)
    serve_parser.add_argument("--demo", action="store_true",
                              help="add the demo's showcase messages to alice's INBOX (make demo)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return serve(args.dir.resolve(), args.fill, args.seed, args.demo)


if __name__ == "__main__":
    sys.exit(main())
