"""The route view: the Received chain as a table and a bar timeline, the total transit time and
the oddities, then the authentication claims (SPF, DKIM, DMARC, alignment) and whether the
message carries a forwarded original. Every string from the message is shown inert.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta, timezone

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuimail.model.authres import NOT_VERIFIED, AuthReport, auth_report
from tuimail.model.forensics import forward_kind
from tuimail.model.mime import MimePart
from tuimail.model.received import Hop
from tuimail.model.route import Route, route_of
from tuimail.ui.render import line
from tuimail.ui.widgets.source_fetch import HEADER, WHOLE, SourceFetched, describe
from tuimail.ui.widgets.status import StatusLine

BAR_WIDTH = 40
WHOLE_UP_TO = 4 * 1024 * 1024  # above this only the header block is fetched (no inline-forward check)
FORWARD_TEXT = {
    "attachment": "contains a forwarded original as an attachment (message/rfc822): {keys} (or Enter on it in "
                  "the attachment list) opens it with its own route",
    "inline": "contains an inline-forwarded original (a forward block in the text): its route is not kept",
    "none": "no forwarded original found",
}


def human(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    sign = "-" if delta < timedelta(0) else ""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min {secs} s"
    return f"{sign}{secs} s"


def _cell(text: str | None, width: int) -> str:
    text = (text or "—").replace("\n", " ")
    return (text[: width - 1] + "…" if len(text) > width else text).ljust(width)


def _from(hop: Hop) -> str:
    if hop.from_host and hop.from_ip and hop.from_ip not in hop.from_host:
        return f"{hop.from_host} [{hop.from_ip}]"
    return hop.from_host or (f"[{hop.from_ip}]" if hop.from_ip else "")


COLUMNS = (("#", 3), ("from", 34), ("by", 26), ("protocol", 9), ("TLS", 34), ("delay", 11), ("time (UTC)", 19))


def route_table(route: Route) -> list[Content]:
    rows = [line(("  ".join(_cell(name, width) for name, width in COLUMNS).rstrip(), "bold underline"))]
    for hop in route.hops:
        if not hop.parsed:
            rows.append(line((_cell(str(hop.index), 3), "bold"), "  ", ("not understood: ", "italic"), hop.raw))
            continue
        protocol = (hop.protocol or "") + (" auth" if hop.authenticated and "A" not in (hop.protocol or "")[-2:]
                                           else "")
        when = hop.when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if hop.when else None
        cells = [str(hop.index), _from(hop), hop.by_host, protocol, hop.tls or "no TLS", human(hop.delay), when]
        tls_style = "" if hop.tls else "$warning"
        pieces: list[str | tuple[str, str]] = []
        for (name, width), value in zip(COLUMNS, cells):
            style = tls_style if name == "TLS" else "bold" if name == "#" else ""
            pieces += [(_cell(value, width), style), "  "]
        rows.append(line(*pieces[:-1]))
        for note in hop.notes:
            rows.append(line("     ", (note, "dim")))
    return rows


def timeline(route: Route, width: int = BAR_WIDTH) -> list[Content]:
    """A bar per hop, as long as its delay relative to the slowest hop."""
    longest = max((h.delay for h in route.hops if h.delay is not None and h.delay > timedelta(0)),
                  default=timedelta(0))
    rows = []
    for hop in route.hops:
        label = _cell(f"{hop.index} {hop.by_host or hop.from_host or '?'}", 28)
        if hop.delay is None:
            rows.append(line(label, ("·", "dim"), ("  (no time)" if hop.when is None else "  (start)", "dim")))
        elif hop.delay < timedelta(0):
            rows.append(line(label, ("◀ ", "$mail-route-backwards"),
                             (f"{human(hop.delay)} (clock goes backwards)", "$mail-route-backwards")))
        else:
            size = 0 if not longest else round(width * hop.delay / longest)
            bar = "█" * size if size else "▏"
            rows.append(line(label, (bar, "$mail-route-bar"), f" {human(hop.delay)}"))
    return rows


def auth_lines(report: AuthReport) -> list[Content]:
    rows: list[Content] = []
    if not report.checks:
        rows.append(line(("no Authentication-Results or Received-SPF header", "dim")))
    for check in report.checks:
        if check.method not in ("spf", "dkim", "dmarc", "arc") and len(rows) > 40:
            continue
        result_style = "$success" if check.result == "pass" else "$error" if check.result in (
            "fail", "permerror", "temperror", "softfail") else ""
        trust = ("trusted", "") if check.trusted else ("untrusted claim", "$warning")
        domain = check.domain or ""
        if check.selector:
            domain += f" (selector {check.selector})"
        rows.append(line((_cell(check.method.upper(), 6), "bold"), (_cell(check.result, 10), result_style),
                         _cell(domain, 40), " by ", check.authserv_id or "(no id)", "  ", trust,
                         (f"  [{check.source}]" if check.source != "Authentication-Results" else "", "dim")))
    for signature in report.dkim_signatures:
        headers = ", ".join(signature.get("h") or ()) or "—"
        rows.append(line(("DKIM-Signature ", "bold"), f"d={signature.get('d') or '—'} s={signature.get('s') or '—'}",
                         f"  a={signature.get('a') or '—'}", ("  signs: ", "dim"), (headers, "dim")))
    rows.append(line(("From domain ", "bold"), report.from_domain or "—", ("   Return-Path domain ", "bold"),
                     report.return_path_domain or "—"))
    rows.append(line(("Alignment   ", "bold"), "  ".join(f"{k.upper()} {v}" for k, v in report.alignment.items())))
    notes = list(report.notes)
    if NOT_VERIFIED not in notes:
        notes.insert(0, NOT_VERIFIED)
    rows.extend(line(("note: ", "dim"), (note, "dim")) for note in notes)
    return rows


def analysis(raw: bytes, trusted: Iterable[str], whole: bool, structure: MimePart | None,
             open_keys: str = "v") -> list[Content]:
    """Everything the route view shows, from raw (the whole message, or only its header block);
    open_keys: the keys that open an attached message, as the forwarding note names them."""
    route = route_of(raw)
    report = auth_report(raw, tuple(trusted))
    if whole:
        kind = forward_kind(raw)
    elif structure is not None and any(p.content_type == "message/rfc822" for p in structure.walk()
                                       if p is not structure):
        kind = "attachment"
    else:
        kind = ""
    out = [line((f"Route: {len(route.hops)} hop{'s' if len(route.hops) != 1 else ''}, oldest first", "bold"),
                "   total transit ", (human(route.total), "bold"))]
    out += route_table(route) if route.hops else [line(("no Received headers", "dim"))]
    if route.hops:
        out += [Content(""), line(("Timeline (delay since the previous hop)", "bold"))] + timeline(route)
    out += [Content(""), line(("Oddities", "bold"))]
    out += [line(("! ", "$warning"), odd) for odd in route.oddities] or [line(("none", "dim"))]
    out += [Content(""), line(("Authentication", "bold"))] + auth_lines(report)
    out += [Content(""), line(("Forwarding  ", "bold"),
                              FORWARD_TEXT.get(kind, "not checked for an inline forward (the message is large: "
                                                     "only its header block was fetched)").format(keys=open_keys))]
    return out


class RouteScreen(Screen[None]):
    CSS_PATH = "../styles/source.tcss"
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="route.close", tooltip="Back to the message"),
        Binding("down,j", "scroll_down", "Down", id="route.down", show=False, tooltip="Scroll one line down"),
        Binding("up,k", "scroll_up", "Up", id="route.up", show=False, tooltip="Scroll one line up"),
    ]

    def __init__(self, reader, trusted: Iterable[str], size: int, structure: MimePart | None) -> None:
        super().__init__()
        self.reader = reader
        self.trusted = tuple(trusted)
        self.section = WHOLE if size <= WHOLE_UP_TO else HEADER
        self.structure = structure
        self.lines: list[Content] = []

    def compose(self) -> ComposeResult:
        yield Static(line(("Route and authentication", "bold")), id="source-title", markup=False)
        with VerticalScroll(id="route-scroll"):
            yield Static(Content(""), id="route", markup=False)
        yield StatusLine(id="source-status")
        yield Footer()

    @property
    def status(self) -> StatusLine:
        return self.query_one("#source-status", StatusLine)

    def on_mount(self) -> None:
        self.query_one("#route-scroll").focus()
        self.status.show(f"fetching {describe(self.section)}…", "busy")
        self.reader.request_source(self.section, self)

    def source_arrived(self, fetched: SourceFetched) -> None:
        if fetched.data is None:
            self.status.show(f"cannot fetch {describe(fetched.section)}: {fetched.error}", "error")
            return
        self.status.show(f"analysing {describe(fetched.section)}…", "busy")
        self._analyse(fetched.data, fetched.section == WHOLE, self._open_keys())

    def _open_keys(self) -> str:
        """The keys of the reader's 'view attached message', as the [keymap] may have changed them."""
        from tuimail.ui.screens.message import VIEW_ATTACHED

        keymap = getattr(getattr(self.app, "config", None), "keymap", None) or {}
        keys = keymap.get(VIEW_ATTACHED.id, VIEW_ATTACHED.key).split(",")
        return " / ".join(self.app.get_key_display(Binding(key.strip(), "")) for key in keys)

    @work(thread=True, exclusive=True, group="route-analysis", exit_on_error=False)
    def _analyse(self, data: bytes, whole: bool, open_keys: str) -> None:
        """Parsing a whole message (forward check) and every Received line takes seconds on a
        hostile one: on a thread, so the screen keeps answering."""
        lines = analysis(data, self.trusted, whole, self.structure, open_keys)
        self.app.call_from_thread(self._show_analysis, lines)

    def _show_analysis(self, lines: list[Content]) -> None:
        if not self.is_attached:
            return
        self.lines = lines
        self.query_one("#route", Static).update(Content("\n").join(self.lines))
        self.status.show("DKIM signatures are not verified cryptographically; results are the servers' claims", "info")

    @property
    def text(self) -> str:
        return "\n".join(content.plain for content in self.lines)

    def action_scroll_down(self) -> None:
        self.query_one("#route-scroll", VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#route-scroll", VerticalScroll).scroll_up(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

