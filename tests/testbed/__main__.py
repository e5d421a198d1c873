"""python -m tests.testbed serve --dir DIR [--fill alice=300]: run the testbed until a signal.

Writes DIR/testbed.json (hosts, ports, CA, users) and DIR/config.toml (a tuimail config with
accounts alice and bob), prints one "ready" line, and stops cleanly on SIGTERM or SIGINT.
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

from .bed import Testbed


def _fill_spec(text: str) -> tuple[str, int, str]:
    """USER=COUNT or USER=COUNT:FOLDER."""
    try:
        user, _, rest = text.partition("=")
        count, _, folder = rest.partition(":")
        return user, int(count), folder or "INBOX"
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected USER=COUNT[:FOLDER], got {text!r}") from None


def serve(directory: Path, fills: list[tuple[str, int, str]], seed: int) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    directory.mkdir(parents=True, exist_ok=True)
    info_path, config_path = directory / "testbed.json", directory / "config.toml"
    with Testbed(directory) as bed:
        for user, count, folder in fills:
            started = time.monotonic()
            summary = bed.fill(user, count, folder=folder, seed=seed)
            print(f"filled {user}/{folder} with {summary.count} messages "
                  f"({summary.unseen} unseen) in {time.monotonic() - started:.1f}s", flush=True)
        config_path.write_text('default_account = "alice"\n\n' + bed.config_toml("alice") + "\n"
                               + bed.config_toml("bob"))
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return serve(args.dir.resolve(), args.fill, args.seed)


if __name__ == "__main__":
    sys.exit(main())
