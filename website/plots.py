"""Static SVG charts: no JavaScript and no CDN, so pages work from file:// and on any host.

Points carry a <title> (the browser shows it on hover and keyboard focus) with their parameters;
every chart has role="img", a title and a description, and the page puts a table beside it.
"""
import math
from html import escape

WIDTH, HEIGHT = 640, 400
MARGIN = dict(left=64, right=16, top=16, bottom=48)
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173"]


def color(i):
    return PALETTE[i % len(PALETTE)]


def pareto(points):
    """The points no other point beats on both x (higher is better) and y (higher is better)."""
    best, front = -math.inf, []
    for p in sorted(points, key=lambda p: (-p["x"], -p["y"])):
        if p["y"] > best:
            front.append(p)
            best = p["y"]
    return sorted(front, key=lambda p: p["x"])


def _ticks_log(lo, hi):
    return [10 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def _ticks_linear(lo, hi, n=5):
    step = (hi - lo) / n
    return [lo + i * step for i in range(n + 1)]


def _fmt(v):
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def scatter(chart_id, title, series, x_label, y_label, log_y=True, x_range=None, lower_is_better=False):
    """series: [{"name", "points": [{"x", "y", "label"}]}]. All points faded, each series' Pareto
    frontier bold (for lower_is_better, the frontier minimises y)."""
    usable = lambda p: p["y"] is not None and math.isfinite(p["y"]) and (p["y"] > 0 or not log_y)
    pts = [p for s in series for p in s["points"] if usable(p)]
    if not pts:
        return f'<p class="empty">No data for {escape(title)}.</p>'
    xs, ys = [p["x"] for p in pts], [p["y"] for p in pts]
    x0, x1 = x_range or (min(xs), max(xs))
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if log_y:
        y0, y1 = 10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys)))
        if y1 <= y0:
            y1 = y0 * 10
        fy = lambda v: math.log10(v)
    else:
        y0, y1 = 0.0, max(ys) * 1.05 or 1.0
        fy = lambda v: v
    pw = WIDTH - MARGIN["left"] - MARGIN["right"]
    ph = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    sx = lambda v: MARGIN["left"] + (v - x0) / (x1 - x0) * pw
    sy = lambda v: MARGIN["top"] + ph - (fy(v) - fy(y0)) / (fy(y1) - fy(y0)) * ph
    desc = (f"{y_label} against {x_label} for {len(series)} algorithms; faded points are all "
            f"configurations, bold lines the best trade-off of each algorithm. The table below has the numbers.")
    out = [f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
           f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{pw}" height="{ph}" class="plot-area"/>']
    for t in (_ticks_log(y0, y1) if log_y else _ticks_linear(y0, y1)):
        if y0 <= t <= y1:
            y = sy(t)
            out.append(f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                       f'<text x="{MARGIN["left"] - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks_linear(x0, x1):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + ph}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{MARGIN["top"] + ph + 16}" class="tick" text-anchor="middle">{t:.2f}</text>')
    out.append(f'<text x="{MARGIN["left"] + pw / 2}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">{escape(x_label)}</text>'
               f'<text x="14" y="{MARGIN["top"] + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {MARGIN["top"] + ph / 2})">{escape(y_label)}</text>')
    for i, s in enumerate(series):
        c = color(i)
        good = [p for p in s["points"] if usable(p)]
        for p in good:
            out.append(f'<circle cx="{sx(p["x"]):.1f}" cy="{sy(p["y"]):.1f}" r="3.5" fill="{c}" class="faded" '
                       f'tabindex="0"><title>{escape(s["name"])}: {escape(p["label"])}</title></circle>')
        front = pareto([{**p, "y": -p["y"]} for p in good]) if lower_is_better else pareto(good)
        front = [{**p, "y": -p["y"]} for p in front] if lower_is_better else front
        if front:
            path = " ".join(f'{sx(p["x"]):.1f},{sy(p["y"]):.1f}' for p in front)
            out.append(f'<polyline points="{path}" stroke="{c}" class="frontier"><title>{escape(s["name"])}</title></polyline>')
        out.append(f'<rect x="{MARGIN["left"] + 8}" y="{MARGIN["top"] + 8 + i * 16}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{MARGIN["left"] + 22}" y="{MARGIN["top"] + 17 + i * 16}" class="legend">{escape(s["name"])}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(chart_id, title, values, x_label):
    """A bar chart of counts; values are already binned: [(label, count)]."""
    if not values:
        return f'<p class="empty">No data for {escape(title)}.</p>'
    top = max(c for _, c in values) or 1
    pw = WIDTH - MARGIN["left"] - MARGIN["right"]
    ph = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    bw = pw / len(values)
    out = [f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">Number of queries per '
           f'{escape(x_label)} bin; the table below has the numbers.</desc>',
           f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{pw}" height="{ph}" class="plot-area"/>']
    for i, (label, count) in enumerate(values):
        h = count / top * ph
        x = MARGIN["left"] + i * bw
        out.append(f'<rect x="{x + 1:.1f}" y="{MARGIN["top"] + ph - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                   f'class="bar"><title>{escape(label)}: {count}</title></rect>')
        if len(values) <= 12 or i % max(1, len(values) // 8) == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{MARGIN["top"] + ph + 16}" class="tick" '
                       f'text-anchor="middle">{escape(label)}</text>')
    out.append(f'<text x="{MARGIN["left"] + pw / 2}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">{escape(x_label)}</text>'
               f'<text x="{MARGIN["left"] - 6}" y="{MARGIN["top"] + 10}" class="tick" text-anchor="end">{top}</text>')
    out.append("</svg>")
    return "".join(out)
