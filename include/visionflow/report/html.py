"""``report.html``: one self-contained page per run (inline CSS, plots and sheets as PNG data URIs)."""
from __future__ import annotations

import base64
import html
import logging
import time
from typing import Iterable

from include.visionflow.report.data import RunData
from include.visionflow.report.plots import Bars, Figure, Histogram, render
from include.visionflow.report.sheets import Sheet, render_sheet
from include.visionflow.storage import Storage

log = logging.getLogger(__name__)

MAX_FAILED_ROWS = 500
CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0}img{max-width:100%;border:1px solid #eee}
.muted{color:#777}code{background:#f4f4f4;padding:0 3px}"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str, cls: str = "plot") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img class="{cls}" alt="{_e(alt)}" src="data:image/png;base64,{data}"></figure>'


def _counts_table(run: RunData) -> str:
    counts = run.counts()
    statuses = sorted({s for c in counts.values() for s in c}, key=lambda s: (s != "ok", s))
    head = "".join(f"<th>{_e(s)}</th>" for s in statuses)
    lines = [f'<table id="counts"><tr><th>group</th>{head}<th>total</th></tr>']
    for group, c in counts.items():
        cells = "".join(f'<td class="n" data-group="{_e(group)}" data-status="{_e(s)}">{c.get(s, 0)}</td>'
                        for s in statuses)
        lines.append(f'<tr><td>{_e(group)}</td>{cells}<td class="n" data-group="{_e(group)}" '
                     f'data-status="total">{sum(c.values())}</td></tr>')
    lines.append("</table>")
    return "".join(lines)


def _kv_table(values: dict, table_id: str) -> str:
    rows = "".join(f'<tr><th>{_e(k)}</th><td data-key="{_e(k)}">{_e(v)}</td></tr>' for k, v in values.items())
    return f'<table id="{table_id}">{rows}</table>'


def _failed_table(run: RunData) -> str:
    failed = run.failed()
    if not failed:
        return '<p id="no-failures">No failed items.</p>'
    rows = "".join(
        f"<tr><td>{_e(r['group'])}</td><td>{_e(r.get('key', ''))}</td><td>{_e(r.get('status', ''))}</td>"
        f"<td>{_e(r.get('reason', ''))}</td><td>{_e(str(r.get('detail') or '')[:300])}</td></tr>"
        for r in failed[:MAX_FAILED_ROWS])
    more = (f'<p class="muted">{len(failed) - MAX_FAILED_ROWS} more failed items are in the manifests.</p>'
            if len(failed) > MAX_FAILED_ROWS else "")
    return (f'<table id="failed"><tr><th>group</th><th>key</th><th>status</th><th>reason</th><th>detail</th></tr>'
            f"{rows}</table>{more}")


def _shard_durations(run: RunData) -> Figure | None:
    shards = sorted(run.shards, key=lambda s: (s["group"], s["shard"]))
    if not shards:
        return None

    def draw(ax):
        groups = sorted({s["group"] for s in shards})
        palette = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457"]
        for i, group in enumerate(groups):
            xs = [n for n, s in enumerate(shards) if s["group"] == group]
            ax.bar(xs, [float(shards[n].get("seconds", 0)) for n in xs], color=palette[i % len(palette)],
                   label=group)
        ax.set_xlabel("shard")
        ax.set_ylabel("seconds")
        if len(groups) > 1:
            ax.legend(fontsize=8)

    return Figure("Duration per shard", draw)


def _size_plot(run: RunData) -> Figure | None:
    widths, heights = run.column("width"), run.column("height")
    if not widths or len(widths) != len(heights):
        return None

    def draw(ax):
        ax.scatter(widths, heights, s=10, alpha=0.6, color="#1565c0")
        ax.set_xlabel("width (px)")
        ax.set_ylabel("height (px)")

    return Figure(f"Output sizes ({len(widths)} items)", draw)


def standard_plots(run: RunData) -> list:
    counts = run.counts()
    plots = [
        Bars("Items per status", {f"{g}: {s}": n for g, c in counts.items()
                                  for s, n in sorted(c.items(), key=lambda x: (x[0] != "ok", x[0]))}, "items"),
        Bars("Failures per reason", dict(run.reasons().most_common(25)), "items"),
        _shard_durations(run),
        _size_plot(run),
        Histogram("Bytes per item (ok)", [b / 1024 for b in run.column("bytes") if b], "KiB"),
        Histogram("Frames per item", run.frames(), "frames"),
        Histogram("Duration per item", run.column("duration"), "seconds"),
    ]
    return [p for p in plots if p is not None]


def _figures(plots: Iterable) -> str:
    parts = []
    for plot in plots:
        png = render(plot)
        if png:
            parts.append(_img(png, plot.title))
    return f'<div class="plots">{"".join(parts)}</div>' if parts else ""


def build_html(title: str, run: RunData | None = None, summary: dict | None = None, samples: Iterable[Sheet] = (),
               extra_plots: Iterable = (), notes: Iterable[str] = ()) -> str:
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="muted">Generated {time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())} by visionflow.</p>']
    body += [f"<p>{_e(n)}</p>" for n in notes]
    if summary:
        body += ["<h2>Summary</h2>", _kv_table({k: v for k, v in summary.items()
                                                 if not isinstance(v, (dict, list))}, "summary")]
    if run is not None:
        body += ["<h2>Items per status</h2>", _counts_table(run), "<h2>Throughput</h2>",
                 _kv_table(run.throughput(), "throughput"), "<h2>Plots</h2>", _figures(standard_plots(run))]
    extra = _figures(extra_plots)
    if extra:
        body += ["<h2>More plots</h2>", extra]
    sheets = []
    for sheet in samples:
        png = render_sheet(sheet)
        if png:
            sheets += [f"<h3>{_e(sheet.title)}</h3>", _img(png, sheet.title, "sheet")]
    if sheets:
        body += ["<h2>Samples</h2>", *sheets]
    if run is not None:
        body += [f"<h2>Failed items ({len(run.failed())})</h2>", _failed_table(run)]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


def write_report(storage: Storage, title: str, *, run: RunData | None = None, summary: dict | None = None,
                 samples: Iterable[Sheet] = (), extra_plots: Iterable = (), notes: Iterable[str] = (),
                 out_rel: str = "report.html") -> str:
    """Render and write the report (atomically) to ``out_rel`` in ``storage``; return its URI."""
    text = build_html(title, run, summary, samples, extra_plots, notes)
    storage.write_text(out_rel, text)
    return storage.uri(out_rel)
