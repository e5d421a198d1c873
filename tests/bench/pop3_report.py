"""The POP3 table, the PIPELINING table and the target checks (issue 4, "Targets")."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .report import KB, _cell, _ratio, value

# (label, phase, key, scale, format)
ROWS = [
    ("cold first screen (s)", "cold", "seconds", 1, "{:.3f}"),
    ("cold first screen, no proxy (s)", "direct", "seconds", 1, "{:.3f}"),
    ("cold server->client (KB)", "cold", "down", KB, "{:,.1f}"),
    ("TUI: cold server->client when open()'s rows came (KB)", "cold", "down_at_rows", KB,
     "{:,.1f}"),
    ("cold round trips (POP3, as the client counts)", "cold", "round_trips", 1, "{:.0f}"),
    ("cold client turns on the wire (incl. TLS)", "cold", "turns", 1, "{:,.0f}"),
    ("reopen from the local store (s) [CLI: --offline]", "reopen", "seconds", 1, "{:.3f}"),
    ("reopen server->client before the rows (KB)", "reopen", "down", KB, "{:,.1f}"),
    ("reopen connections before the rows", "reopen", "connections", 1, "{:.0f}"),
    ("warm first screen, online (s)", "warm", "seconds", 1, "{:.3f}"),
    ("warm server->client (KB)", "warm", "down", KB, "{:,.1f}"),
    ("warm client turns on the wire (incl. TLS)", "warm", "turns", 1, "{:,.0f}"),
    ("peak RSS, cold (MB)", "cold", "peak_rss_mb", 1, "{:.1f}"),
    ("TUI: cold, app created -> rows painted (s)", "cold", "in_process_seconds", 1, "{:.3f}"),
    ("floor: a one-line Textual app's first frame (s)", "floor", "seconds", 1, "{:.3f}"),
]

# (description, phase, key, limit in the key's unit, display scale, display unit)
TARGETS = [
    ("cold first screen < 0.5 s", "cold", "seconds", 0.5, 1, "s"),
    ("cold server->client < 150 KB", "cold", "down", 150 * KB, KB, "KB"),
]


def _window(entry: Mapping[str, Any], key: str) -> float | None:
    return entry.get("medians", {}).get("window", {}).get(key)


def _pipelined(pipelining: Sequence[Mapping[str, Any]], maildrop_messages: int,
               link: str = "loopback", pipelined: bool = True) -> Mapping[str, Any]:
    label = f"{maildrop_messages + 1:,}"
    return next((e for e in pipelining if e["maildrop"] == label and e["link"] == link
                 and e["pipelining"] is pipelined), {})


def _reopen_check(client: Mapping[str, Any], text: str, tui: bool) -> dict[str, Any]:
    """Every reopen sample, not the median: one that touched the network is a failure."""
    samples = client.get("samples", {}).get("reopen", []) if client.get("available") else []
    if not samples:
        return {"target": text, "value": None, "unit": "bytes", "status": "n/a"}
    down = max(s["down"] + s["up"] for s in samples)
    conns = max(s["connections"] for s in samples)
    stored = all(s.get("source", "store") == "store" for s in samples)
    logged_in = sum(s.get("logged_in_at_frame", 0) for s in samples)
    where = (f", rows from the {'local store' if stored else 'server'}, logged in by then in "
             f"{logged_in} of {len(samples)} runs") if tui else ""
    return {"target": text, "value": down, "unit": "bytes", "connections": conns,
            "shown": f" (measured {down} bytes, {conns} connections{where})",
            "status": "PASS" if down == 0 and stored and (tui or conns == 0) else "FAIL"}


def check_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    clients = results["clients"]
    checks = []
    for name, tag in (("tuimail", ""), ("tuimail-tui", "TUI: ")):
        client = clients.get(name, {})
        if name != "tuimail" and not client.get("available"):
            continue
        for text, phase, key, limit, scale, unit in TARGETS:
            got = value(client, phase, key)
            checks.append({"target": tag + text, "value": None if got is None else got / scale,
                           "unit": unit, "status": "n/a" if got is None else (
                               "PASS" if got < limit else "FAIL")})
        floor = value(client, "floor", "seconds")
        if tag and floor:  # as in the IMAP suite: the 0.5 s where a bare app took 0.2 s
            got = value(client, "cold", "seconds")
            ratio = None if got is None else got / floor
            checks.append({"target": tag + "cold first screen < 2.5x the floor (0.5 s there)",
                           "value": ratio, "unit": "x floor", "status": "n/a" if ratio is None
                           else ("PASS" if ratio < 2.5 else "FAIL")})
        checks.append(_reopen_check(client, tag + (
            "reopen shows the rows from the local store before any byte from the server"
            if tag else "reopen (--offline) shows the rows with no network at all"), bool(tag)))
    meta = results["meta"]
    on = _pipelined(results["pipelining"], meta["pipelining_messages"], pipelined=True)
    trips = _window(on, "window_round_trips")
    checks.append({"target": f"PIPELINING: a {meta['window']}-row window in one round trip "
                             f"({meta['pipelining_messages'] + 1:,} messages)",
                   "value": trips, "unit": "round trips",
                   "status": "n/a" if trips is None else ("PASS" if trips == 1 else "FAIL")})
    return checks


def render(results: Mapping[str, Any], peers: Sequence[str]) -> str:
    clients, meta = results["clients"], results["meta"]
    peers = [p for p in peers if clients.get(p, {}).get("available")]
    mine = ["tuimail", *(["tuimail-tui"] if clients.get("tuimail-tui", {}).get("available") else [])]
    names = [*mine, *peers]
    titles = {"tuimail": "tuimail CLI", "tuimail-tui": "tuimail TUI"}
    header = ["", *(titles.get(n, n) for n in names), *(f"{p}/tuimail CLI" for p in peers)]
    rows = [header]
    for label, phase, key, scale, fmt in ROWS:
        ours = value(clients.get("tuimail", {}), phase, key)
        cells = [_cell(value(clients.get(n, {}), phase, key), scale, fmt) for n in names]
        ratios = [_ratio(value(clients.get(p, {}), phase, key), ours) for p in peers]
        rows.append([label, *cells, *ratios])
    lines = [f"tuimail POP3 benchmark: {meta['messages'] + 1:,} messages in the maildrop (one with "
             f"a 10 MB attachment), median of {meta['runs']} run(s); loopback Dovecot POP3S "
             f"through a byte-counting proxy; tuimail CLI `tuimail list --limit {meta['window']} "
             f"--json`, tuimail TUI headless, NeoMutt in tmux"]
    host = meta.get("host", {})
    if host.get("loadavg_before") is not None:
        lines.append(f"host: {host.get('cpus')} CPUs, load average {host['loadavg_before'][0]:.2f} "
                     f"before, {host['loadavg_after'][0]:.2f} after")
    lines += _table(rows) + [""]
    for name, client in clients.items():
        state = client.get("version") or ""
        if not client.get("available", False):
            state = f"not available ({client.get('note') or 'not measured'})"
        elif client.get("note"):
            state = f"{state} {client['note']}".strip()
        lines.append(f"  {name}: {state}")
        lines += [f"    error: {e.splitlines()[0][:160]}" for e in client.get("errors", [])[:5]]
    lines += ["", f"PIPELINING: after login, STAT then UIDL n + LIST n + TOP n 0 for the newest "
                  f"{meta['window']} (Pop3Session.window, in this process), median of "
                  f"{meta['runs']} run(s) on loopback, {meta['slow_runs']} on the slow link "
                  f"(25 ms each way, 10 Mbit/s)"]
    table = [["maildrop", "link", "PIPELINING", "window round trips", "wire turns", "window ms",
              "STAT+window ms", "window KB"]]
    for entry in results["pipelining"]:
        cells = [_cell(_window(entry, k), s, f) for k, s, f in (
            ("window_round_trips", 1, "{:.0f}"), ("window_turns", 1, "{:.0f}"),
            ("window_ms", 1, "{:,.1f}"), ("stat_window_ms", 1, "{:,.1f}"),
            ("window_down", KB, "{:,.1f}"))]
        table.append([entry["maildrop"], entry["link"],
                      "used" if entry["pipelining"] else "hidden", *cells])
    lines += _table(table, left=3)
    for entry in results["pipelining"]:
        lines += [f"  error ({entry['maildrop']} {entry['link']}): {e.splitlines()[0][:160]}"
                  for e in entry.get("errors", [])[:2]]
    lines += ["", "Targets (issue 4), tuimail:"]
    for check in meta.get("targets", []):
        got, unit = check["value"], check.get("unit", "")
        if check.get("shown") or got is None:
            shown = check.get("shown") or ""
        elif unit == "x floor":
            shown = f" (measured {got:.2f}x)"
        elif unit == "round trips":
            shown = f" (measured {got:,.0f})"
        else:
            shown = f" (measured {got:,.3f} {unit})"
        lines.append(f"  [{check['status']:>4}] {check['target']}{shown}")
    return "\n".join(lines)


def _table(rows: list[list[str]], left: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(widths[j]) if j < left else c.rjust(widths[j])
                             for j, c in enumerate(row)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
