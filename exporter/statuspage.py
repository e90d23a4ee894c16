"""The HTML status page served at `/` when `web.enableStats` is on. Every value is HTML-escaped.

Its size does not grow with the number of bundles: one summary row per source, the errors by
reason, and at most `STATUS_ROWS` bundles, the failing ones first, with the count of those
not shown (/metrics has them all).
"""

from __future__ import annotations

import datetime as dt
from html import escape


def _t(ts: float) -> str:
    if not ts:
        return "never"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(s: dict) -> str:
    if s["stuck"]:
        return f'<span class="ko">stalled: poll running for {s["running_for"]:.0f} s</span>'
    if s["running_for"]:
        return f"polling ({s['running_for']:.0f} s)"
    return "idle" if s["synced"] else "first poll pending"


def render_status(snap: dict, ready: bool) -> str:
    e = escape
    stuck = [s["name"] for s in snap["sources"] if s["stuck"]]
    readiness = "ready" if ready else ("stalled: " + ", ".join(stuck) if stuck else "syncing")
    rows_src = "".join(
        f'<tr class="source{" stuck" if s["stuck"] else ""}" data-name="{e(s["name"])}"><td>{e(s["name"])}</td>'
        f'<td>{e(s["kind"])}</td><td class="up">{"-" if s["up"] is None else s["up"]}</td>'
        f'<td class="state">{_state(s)}</td><td class="bundles">{s["bundles"]}</td>'
        f'<td class="certificates">{s["certificates"]}</td><td class="failing">{s["failing"]}</td>'
        f"<td>{s['polls']}</td><td>{s['parsed']}</td><td>{s['skipped_unchanged']}</td>"
        f"<td>{s['last_poll_seconds'] * 1000:.1f} ms</td><td>{_t(s['last_poll_at'])}</td></tr>"
        for s in snap["sources"]
    )
    rows_err = (
        "".join(
            f'<tr class="error"><td>{e(k[1])}</td><td>{e(k[0])}</td><td class="reason">{e(k[2])}</td>'
            f'<td class="count">{v}</td></tr>'
            for k, v in snap["errors"].items()
        )
        or '<tr><td colspan="4">no errors</td></tr>'
    )
    shown = snap["bundles"]
    rows_b = "".join(
        f'<tr class="bundle{" failed" if b["errors"] else ""}"><td>{e(b["source"])}</td>'
        f'<td class="place">{e(b["place"])}</td><td>{e(b["format"])}</td><td>{b["certificates"]}</td>'
        f'<td>{b["crls"]}</td><td class="reasons">{e(", ".join(b["errors"]))}</td>'
        f'<td class="detail">{e(b["detail"])}</td></tr>'
        for b in shown
    )
    hidden = snap["bundles_total"] - len(shown)
    summary = (
        f'<p id="bundles-summary">{len(shown)} of {snap["bundles_total"]} bundles shown, failing first '
        f"({snap['failing_total']} failing)"
        + (f'; <span id="bundles-hidden">{hidden}</span> not shown (every series is on /metrics)' if hidden else "")
        + ".</p>"
    )
    c = snap["cache"]
    fmts = ", ".join(f"{e(k)}: {v}" for k, v in sorted(c["by_format"].items())) or "none"
    panics = ", ".join(f"{e(k)}: {v}" for k, v in sorted(snap["panics"].items())) or "none"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>x509 certificate exporter (reference)</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}} table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:90%}} th{{background:#eee}}
tr.failed td,tr.stuck td{{background:#fdecea}} .ok{{color:#1a7f37}} .ko{{color:#b42318}}
</style></head>
<body>
<h1>x509 certificate exporter <small>(x509-mixin reference)</small></h1>
<p id="readiness" class="{"ok" if ready else "ko"}">{e(readiness)}</p>
<p><a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></p>
<h2>Cache statistics</h2>
<table id="cache"><tr><th>bundles</th><td id="cache-bundles">{c["bundles"]}</td></tr>
<tr><th>certificates</th><td id="cache-certificates">{c["certificates"]}</td></tr>
<tr><th>certificate series</th><td>{c["visible_series"]}</td></tr>
<tr><th>CRLs</th><td>{c["crls"]}</td></tr><tr><th>bundles by format</th><td>{fmts}</td></tr>
<tr><th>scrapes</th><td>{c["scrapes"]}</td></tr>
<tr><th>last scrape</th><td>{c["last_scrape_seconds"] * 1000:.2f} ms</td></tr>
<tr><th>panics</th><td>{panics}</td></tr></table>
<h2>Sources</h2>
<table id="sources"><tr><th>name</th><th>kind</th><th>up</th><th>state</th><th>bundles</th><th>certificates</th>
<th>failing</th><th>polls</th><th>parsed</th><th>skipped unchanged</th><th>last poll</th><th>at</th></tr>
{rows_src}</table>
<h2>Errors by reason</h2>
<table id="errors"><tr><th>source</th><th>kind</th><th>reason</th><th>count</th></tr>{rows_err}</table>
<h2>Bundles</h2>
{summary}
<table id="bundles"><tr><th>source</th><th>place</th><th>format</th><th>certificates</th><th>CRLs</th>
<th>errors</th><th>detail</th></tr>{rows_b}</table>
</body></html>
"""
