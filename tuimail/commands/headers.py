"""`tuimail headers (UID | --file FILE | -)`: every header, the Received route and the
authentication results of one message. --json prints the schema documented in README.md."""
from __future__ import annotations

import argparse
import sys

from tuimail.commands.mailcli import CommandError, add_common, imap_session, print_json, run_guarded
from tuimail.commands.pop3cli import pop3_sync, with_fallback
from tuimail.model.config import Config, ConfigError
from tuimail.model.decode import decode_header
from tuimail.model.forensics import analysis_json
from tuimail.model.route import header_items
from tuimail.model.text import one_line, strip_controls
from tuimail.store.config_file import config_path, load_config

MAX_INPUT = 64 * 1024 * 1024


class _NoConfig(argparse.Action):
    """A message from a file or stdin needs no account: the config is read only if present."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        if option_string or values == "-":
            namespace.no_config = True


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "headers", help="print a message's headers, route and authentication results",
        description="Print every header in order (decoded), the route the message took (its Received "
                    "headers, oldest first, with delays, TLS and oddities) and the SPF/DKIM/DMARC/ARC "
                    "results. Results count only from the account's trusted_authserv_ids; DKIM "
                    "signatures are not verified.")
    parser.add_argument("source", nargs="?", metavar="UID", action=_NoConfig,
                        help="the message's UID (see `tuimail list`), or - for a message on stdin")
    parser.add_argument("--file", metavar="FILE", action=_NoConfig, help="read the message from FILE (.eml)")
    add_common(parser)
    parser.add_argument("--route", action="store_true", help="only the route")
    parser.add_argument("--auth", action="store_true", help="only the authentication results")
    parser.add_argument("--raw", action="store_true", help="only the raw header block, as it is")
    parser.add_argument("--trust", action="append", default=[], metavar="AUTHSERV_ID",
                        help="also trust results from this authserv-id (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config | None) -> int:
    return run_guarded(_run, args, config)


def _trusted(args: argparse.Namespace, config: Config | None) -> list[str]:
    if config is None:
        path = config_path(getattr(args, "config", None))
        if path.is_file():
            try:
                config = load_config(path)
            except ConfigError:
                config = None
    ids = list(args.trust)
    if config is not None and config.accounts:
        try:
            ids += config.account(args.mail_account).trusted_authserv_ids
        except ConfigError:
            pass
    return ids


def _run(args: argparse.Namespace, config: Config | None) -> int:
    if args.file is not None and args.source is not None:
        raise CommandError("give either a UID, --file or -, not both")
    if args.file is not None:
        try:
            with open(args.file, "rb") as handle:
                raw = handle.read(MAX_INPUT)
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        return show(args, raw, _trusted(args, config))
    if args.source == "-":
        return show(args, sys.stdin.buffer.read(MAX_INPUT), _trusted(args, config))
    if args.source is None:
        raise CommandError("name a message: UID, --file FILE or - (stdin)")
    try:
        uid = int(args.source)
    except ValueError:
        raise CommandError(f"not a UID: {args.source!r}") from None
    assert config is not None
    return with_fallback(args, config, lambda: _imap(args, config, uid), lambda account: _pop3(args, account, uid))


def _imap(args: argparse.Namespace, config: Config, uid: int) -> int:
    with imap_session(args, config) as (session, _):
        session.select(args.folder, readonly=True)
        raw = session.fetch_raw(uid)
    return show(args, raw, _trusted(args, config))


def _pop3(args: argparse.Namespace, account, uid: int) -> int:
    with pop3_sync(args, account) as sync:
        raw = sync.raw(uid, force=True)
    return show(args, raw or b"", list(args.trust) + list(account.trusted_authserv_ids))


def _header_block(raw: bytes) -> bytes:
    ends = [e for e in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if e >= 0]
    return raw[: min(ends)] + b"\n" if ends else raw


def show(args: argparse.Namespace, raw: bytes, trusted: list[str]) -> int:
    if args.raw and not args.json:
        text = _header_block(raw).decode("utf-8", "replace")
        sys.stdout.write(strip_controls(text.replace("\r\n", "\n")))
        return 0
    analysis = analysis_json(raw, trusted)
    headers = [{"name": one_line(k, 200), "value": one_line(decode_header(v), 16_384)} for k, v in header_items(raw)]
    if args.json:
        data = dict(analysis)
        if not (args.route or args.auth):
            data["headers"] = headers
        if args.route and not args.auth:
            data = {"schema": data["schema"], "route": data["route"]}
        elif args.auth and not args.route:
            data = {"schema": data["schema"], "auth": data["auth"]}
        print_json(data)
        return 0
    everything = not (args.route or args.auth)
    if everything:
        for header in headers:
            print(f"{header['name']}: {header['value']}")
        print()
    if everything or args.route:
        _print_route(analysis["route"])
    if everything or args.auth:
        _print_auth(analysis["auth"], analysis["forward"])
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    sign = "-" if seconds < 0 else "+"
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _print_route(route: dict) -> None:
    print(f"Route ({len(route['hops'])} hops, oldest first; total {_duration(route['total_seconds'])}):")
    for hop in route["hops"]:
        if not hop["parsed"]:
            print(f"  {hop['index']:>2}. (not understood) {hop['raw']}")
            continue
        source = hop["from_host"] or "?"
        if hop["from_ip"] and hop["from_ip"] != hop["from_host"]:
            source += f" [{hop['from_ip']}]"
        flags = [hop["protocol"] or "?", hop["tls"] or "no TLS"] + (["authenticated"] if hop["authenticated"] else [])
        when = hop["when"] or "no time"
        print(f"  {hop['index']:>2}. {when}  {_duration(hop['delay_seconds']):>9}  {source} -> "
              f"{hop['by_host'] or '?'}  ({', '.join(flags)})")
    for oddity in route["oddities"]:
        print(f"  ! {oddity}")
    print()


def _print_auth(auth: dict, forward: str) -> None:
    print("Authentication:")
    for check in auth["checks"]:
        trust = "trusted" if check["trusted"] else "untrusted claim"
        where = f" ({check['domain']})" if check["domain"] else ""
        print(f"  {check['method']}={check['result']}{where}  by {check['authserv_id'] or '?'} "
              f"[{check['source']}, {trust}]")
    for sig in auth["dkim_signatures"]:
        print(f"  DKIM-Signature d={sig['d']} s={sig['s']} signs: {', '.join(sig['h'])}")
    print(f"  From domain: {auth['from_domain'] or '?'}  Return-Path domain: {auth['return_path_domain'] or '?'}")
    print(f"  Alignment: DKIM {auth['alignment']['dkim']}, SPF {auth['alignment']['spf']}")
    for note in auth["notes"]:
        print(f"  note: {note}")
    print(f"Forwarded original: {forward}")
