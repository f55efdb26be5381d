"""Static SVG charts: no JavaScript and no CDN, so pages work from file:// and on any host.

Points carry a <title> (the browser shows it on hover and keyboard focus) with their parameters;
every chart has role="img", a title and a description, and the page puts a table beside it.
Every algorithm keeps one colour and one marker on every chart of a site (Styles).
"""
import math
from html import escape

WIDTH, HEIGHT = 640, 400
MARGIN = dict(left=64, right=16, top=16, bottom=48)
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173"]
MARKERS = ["circle", "square", "triangle", "diamond", "cross"]


class Styles:
    """A colour and a marker per algorithm, the same on every chart: algorithms sorted by name,
    the i-th gets colour i and marker i (mod their counts), so pairs stay distinct up to 70."""

    def __init__(self, names):
        self.names = sorted(set(names))

    def of(self, name):
        if name not in self.names:
            self.names = sorted(set(self.names) | {name})
        i = self.names.index(name)
        return PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]


def mark(x, y, name, styles, label, size=4.0, cls=""):
    """One point in the algorithm's colour and marker, with its label on hover and focus."""
    colour, marker = styles.of(name)
    title = f"<title>{escape(name)}: {escape(label)}</title>"
    attrs = f'fill="{colour}" class="mark {cls}" tabindex="0"'
    if marker == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" {attrs}>{title}</circle>'
    if marker == "square":
        return f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" height="{2 * size:.1f}" {attrs}>{title}</rect>'
    if marker == "triangle":
        points = [(x, y - size * 1.2), (x - size * 1.1, y + size * 0.8), (x + size * 1.1, y + size * 0.8)]
    elif marker == "diamond":
        points = [(x, y - size * 1.3), (x + size * 1.1, y), (x, y + size * 1.3), (x - size * 1.1, y)]
    else:  # cross
        a, b = size * 1.2, size * 0.45
        points = [(x - b, y - a), (x + b, y - a), (x + b, y - b), (x + a, y - b), (x + a, y + b), (x + b, y + b),
                  (x + b, y + a), (x - b, y + a), (x - b, y + b), (x - a, y + b), (x - a, y - b), (x - b, y - b)]
    return f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" {attrs}>{title}</polygon>'


def legend(series, styles, x0, y0):
    out = []
    for i, s in enumerate(series):
        colour, _ = styles.of(s["name"])
        out.append(mark(x0 + 5, y0 + 5 + i * 16, s["name"], styles, "legend", size=4.5)
                   + f'<text x="{x0 + 14}" y="{y0 + 9 + i * 16}" class="legend">{escape(s["name"])}</text>')
    return "".join(out)


def recall_window(points, floor=0.5):
    """The x range of a QPS-recall chart: from the lowest recall reached at or above `floor`
    (rounded down to 0.05) to 1, where the frontiers are; (0, 1) when no point reaches `floor`."""
    above = [p["x"] for p in points if p["x"] is not None and p["x"] >= floor]
    if not above:
        return 0.0, 1.0
    return math.floor(min(above) * 20) / 20, 1.0


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


def _chart_start(chart_id, title, desc, pw, ph):
    """The opening of every chart: its title above it, an accessible name and description, the plot area."""
    return [f'<p class="chart-title">{escape(title)}</p>',
            f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
            f'<rect x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{pw}" height="{ph}" class="plot-area"/>']


def _y_grid(ticks, y0, y1, sy, pw):
    """Horizontal grid lines with their labels, at the ticks inside [y0, y1]."""
    return [f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" class="grid"/>'
            f'<text x="{MARGIN["left"] - 6}" y="{sy(t) + 4:.1f}" class="tick" text-anchor="end">{_fmt(t)}</text>'
            for t in ticks if y0 <= t <= y1]


def scatter(chart_id, title, series, x_label, y_label, log_y=True, x_range=None, lower_is_better=False, styles=None):
    """series: [{"name", "points": [{"x", "y", "label"}]}]. All points faded, each series' Pareto
    frontier bold (for lower_is_better, the frontier minimises y). x_range "recall": zoomed on
    the recall window where the frontiers are (recall_window); points left of it are counted in
    the description, and the table beside the chart has them."""
    styles = styles or Styles(s["name"] for s in series)
    usable = lambda p: p["y"] is not None and math.isfinite(p["y"]) and (p["y"] > 0 or not log_y)
    pts = [p for s in series for p in s["points"] if usable(p)]
    if not pts:
        return f'<p class="empty">No data for {escape(title)}.</p>'
    if x_range == "recall":
        x_range = recall_window(pts)
    xs, ys = [p["x"] for p in pts], [p["y"] for p in pts]
    x0, x1 = x_range or (min(xs), max(xs))
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    hidden = sum(1 for p in pts if not x0 <= p["x"] <= x1)
    pts = [p for p in pts if x0 <= p["x"] <= x1] or pts
    ys = [p["y"] for p in pts]
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
            f"configurations, bold lines the best trade-off of each algorithm."
            + (f" {hidden} configurations below {x_label} {x0:.2f} are not drawn." if hidden else "")
            + " The table below has the numbers.")
    out = _chart_start(chart_id, title, desc, pw, ph)
    out += _y_grid(_ticks_log(y0, y1) if log_y else _ticks_linear(y0, y1), y0, y1, sy, pw)
    for t in _ticks_linear(x0, x1):
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + ph}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{MARGIN["top"] + ph + 16}" class="tick" text-anchor="middle">{t:.2f}</text>')
    out.append(f'<text x="{MARGIN["left"] + pw / 2}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">{escape(x_label)}</text>'
               f'<text x="14" y="{MARGIN["top"] + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {MARGIN["top"] + ph / 2})">{escape(y_label)}</text>')
    for s in series:
        colour, _ = styles.of(s["name"])
        good = [p for p in s["points"] if usable(p) and x0 <= p["x"] <= x1]
        for p in good:
            out.append(mark(sx(p["x"]), sy(p["y"]), s["name"], styles, p["label"], cls="faded"))
        front = pareto([{**p, "y": -p["y"]} for p in good]) if lower_is_better else pareto(good)
        front = [{**p, "y": -p["y"]} for p in front] if lower_is_better else front
        if front:
            path = " ".join(f'{sx(p["x"]):.1f},{sy(p["y"]):.1f}' for p in front)
            out.append(f'<polyline points="{path}" stroke="{colour}" class="frontier"><title>{escape(s["name"])}</title></polyline>')
    out.append(legend(series, styles, MARGIN["left"] + 8, MARGIN["top"] + 8))
    out.append("</svg>")
    return "".join(out)


def bars(chart_id, title, categories, series, y_label, styles=None, missing="not reached"):
    """Grouped bars, log scale: one group per category (e.g. scenario), one bar per series (an
    algorithm) with value series["values"][category] (None: `missing`, drawn as a small mark)."""
    styles = styles or Styles(s["name"] for s in series)
    values = [v for s in series for v in s["values"].values() if v]
    if not values or not categories:
        return f'<p class="empty">No data for {escape(title)}.</p>'
    y0, y1 = 10 ** math.floor(math.log10(min(values))), 10 ** math.ceil(math.log10(max(values)))
    y1 = y1 * 10 if y1 <= y0 else y1
    pw = WIDTH - MARGIN["left"] - MARGIN["right"]
    ph = HEIGHT - MARGIN["top"] - MARGIN["bottom"] - 16 * ((len(series) + 3) // 4)
    sy = lambda v: MARGIN["top"] + ph - (math.log10(v) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * ph
    group = pw / len(categories)
    bar = group * 0.8 / max(1, len(series))
    desc = f"{y_label} per {len(categories)} categories and {len(series)} algorithms; the table below has the numbers."
    out = _chart_start(chart_id, title, desc, pw, ph)
    out += _y_grid(_ticks_log(y0, y1), y0, y1, sy, pw)
    for c, category in enumerate(categories):
        gx = MARGIN["left"] + c * group + group * 0.1
        for i, s in enumerate(series):
            colour, _ = styles.of(s["name"])
            v = s["values"].get(category)
            x = gx + i * bar
            if v:
                out.append(f'<rect x="{x:.1f}" y="{sy(v):.1f}" width="{max(bar - 1, 1):.1f}" '
                           f'height="{MARGIN["top"] + ph - sy(v):.1f}" style="fill:{colour}" class="bar" tabindex="0">'
                           f'<title>{escape(s["name"])}, {escape(category)}: {_fmt(v)}</title></rect>')
            else:
                out.append(f'<text x="{x + bar / 2:.1f}" y="{MARGIN["top"] + ph - 3:.1f}" class="tick" '
                           f'text-anchor="middle" fill="{colour}">×<title>{escape(s["name"])}, {escape(category)}: '
                           f'{escape(missing)}</title></text>')
        out.append(f'<text x="{gx + group * 0.4:.1f}" y="{MARGIN["top"] + ph + 14}" class="tick" '
                   f'text-anchor="middle">{escape(category)}</text>')
    out.append(f'<text x="14" y="{MARGIN["top"] + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {MARGIN["top"] + ph / 2})">{escape(y_label)}</text>')
    for i, s in enumerate(series):  # legend under the plot, four to a row
        colour, _ = styles.of(s["name"])
        lx = MARGIN["left"] + (i % 4) * (pw / 4)
        ly = MARGIN["top"] + ph + 28 + (i // 4) * 16
        out.append(f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="10" height="10" style="fill:{colour}" class="bar"/>'
                   f'<text x="{lx + 14:.1f}" y="{ly:.1f}" class="legend">{escape(s["name"])}</text>')
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
    out = _chart_start(chart_id, title, f"Number of queries per {x_label} bin; the table below has the numbers.",
                       pw, ph)
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


def lines(chart_id, title, series, x_label, y_label, styles=None, x_labels=None):
    """One line per series through its points, both axes logarithmic (selectivity levels against
    QPS): series [{"name", "points": [{"x", "y", "label"}]}]; a missing point (a level the
    algorithm never reaches the target at) breaks nothing, its line just skips it."""
    styles = styles or Styles(s["name"] for s in series)
    pts = [p for s in series for p in s["points"] if p["y"] and p["y"] > 0 and p["x"] > 0]
    if not pts:
        return f'<p class="empty">No data for {escape(title)}.</p>'
    fx, fy = math.log10, math.log10
    x0, x1 = 10 ** math.floor(fx(min(p["x"] for p in pts))), 10 ** math.ceil(fx(max(p["x"] for p in pts)))
    y0, y1 = 10 ** math.floor(fy(min(p["y"] for p in pts))), 10 ** math.ceil(fy(max(p["y"] for p in pts)))
    x1, y1 = (x1 * 10 if x1 <= x0 else x1), (y1 * 10 if y1 <= y0 else y1)
    pw = WIDTH - MARGIN["left"] - MARGIN["right"]
    ph = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    sx = lambda v: MARGIN["left"] + (fx(v) - fx(x0)) / (fx(x1) - fx(x0)) * pw
    sy = lambda v: MARGIN["top"] + ph - (fy(v) - fy(y0)) / (fy(y1) - fy(y0)) * ph
    desc = f"{y_label} against {x_label}, one line per algorithm; the table below has the numbers."
    out = _chart_start(chart_id, title, desc, pw, ph)
    out += _y_grid(_ticks_log(y0, y1), y0, y1, sy, pw)
    for t in _ticks_log(x0, x1):
        if x0 <= t <= x1:
            x = sx(t)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + ph}" class="grid"/>'
                       f'<text x="{x:.1f}" y="{MARGIN["top"] + ph + 16}" class="tick" text-anchor="middle">'
                       f'{escape((x_labels or {}).get(t, f"{t:g}"))}</text>')
    out.append(f'<text x="{MARGIN["left"] + pw / 2}" y="{HEIGHT - 8}" class="axis" text-anchor="middle">{escape(x_label)}</text>'
               f'<text x="14" y="{MARGIN["top"] + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {MARGIN["top"] + ph / 2})">{escape(y_label)}</text>')
    for s in series:
        colour, _ = styles.of(s["name"])
        good = sorted((p for p in s["points"] if p["y"] and p["y"] > 0 and p["x"] > 0), key=lambda p: p["x"])
        if len(good) > 1:
            path = " ".join(f'{sx(p["x"]):.1f},{sy(p["y"]):.1f}' for p in good)
            out.append(f'<polyline points="{path}" stroke="{colour}" class="frontier"><title>{escape(s["name"])}</title></polyline>')
        for p in good:
            out.append(mark(sx(p["x"]), sy(p["y"]), s["name"], styles, p["label"]))
    out.append(legend(series, styles, MARGIN["left"] + 8, MARGIN["top"] + 8))
    out.append("</svg>")
    return "".join(out)
