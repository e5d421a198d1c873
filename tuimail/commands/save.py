"""`tuimail save UID PART`: stream one attachment into a directory under a safe name."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuimail.commands.mailcli import CommandError, add_common, imap_session, print_json, run_guarded
from tuimail.commands.pop3cli import save_pop3, with_fallback
from tuimail.model.config import Config
from tuimail.store.attachments import SaveError, save_attachment


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "save", help="save one attachment",
        description="Save part PART (as `tuimail read` lists it, e.g. 2 or 1.3) of message UID into "
                    "DIR. The name comes from the message but is made safe: the file is always created "
                    "new, directly inside DIR, mode 0600; an existing file is never overwritten.")
    parser.add_argument("uid", type=int, metavar="UID")
    parser.add_argument("part", metavar="PART")
    add_common(parser)
    parser.add_argument("--dir", "-d", default=".", metavar="DIR", help="target directory (default: .)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    return run_guarded(_run, args, config)


def _run(args: argparse.Namespace, config: Config) -> int:
    directory = Path(args.dir)
    return with_fallback(args, config, lambda: _imap(args, config, directory),
                         lambda account: _report(args, *save_pop3(args, account, directory)))


def _imap(args: argparse.Namespace, config: Config, directory: Path) -> int:
    with imap_session(args, config) as (session, sync):
        sync.open(args.folder, first=0, readonly=True)
        summary = sync.summary(args.uid)
        if summary is None or summary.structure is None:
            raise CommandError(f"no message with UID {args.uid} in {args.folder!r}")
        part = next((p for p in summary.structure.walk() if p.part_id == args.part and not p.is_multipart), None)
        if part is None:
            raise CommandError(f"message {args.uid} has no part {args.part!r}; `tuimail read {args.uid}` lists them")
        try:
            path = save_attachment(directory, part.filename, session.iter_decoded(args.uid, part))
        except SaveError as exc:
            raise CommandError(str(exc)) from None
    return _report(args, {"uid": args.uid, "part": part.part_id, "filename": part.filename,
                          "path": str(path), "bytes": path.stat().st_size}, part.filename)


def _report(args: argparse.Namespace, saved: dict, filename: str | None) -> int:
    path = Path(saved["path"])
    if args.json:
        print_json(saved)
    else:
        print(f"saved {path} ({saved['bytes']} bytes)")
    if filename and path.name != filename:
        print(f"tuimail: note: saved under a safe name: {path.name}", file=sys.stderr)
    return 0
