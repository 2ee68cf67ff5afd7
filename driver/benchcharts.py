"""Charts of `daisy bench` results (bench.py): daisy's time over each peer's, and time
against size.

draw_charts(results, out) writes out/ratios.png and out/scaling.png with matplotlib
when it is installed (the `bench` extra), else out/ratios.svg and out/scaling.svg
drawn here, so that a run always leaves its charts. Both use logarithmic axes.
"""
from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

PEERS = ("ghc", "chez", "cpython")
SERIES = (("daisy", 1), ("daisy", 2), ("ghc", 1), ("ghc", 2), ("chez", 1), ("cpython", 1))
COLOURS = ("#1f77b4", "#aec7e8", "#d62728", "#ff9896", "#2ca02c", "#9467bd")
PEER_COLOURS = ("#d62728", "#2ca02c", "#9467bd")          # as the peers' series below
RATIOS_TITLE = "daisy (1 worker) time / peer time, largest size (below 1: daisy faster)"
SCALING_TITLE = "time (s) against size, log-log"


def series_label(engine: str, workers: int) -> str:
    if engine in ("daisy", "ghc"):
        return f"{engine} {workers}w" if engine == "daisy" else f"ghc N{workers}"
    return engine


def ratio_data(results) -> tuple[list[str], dict[str, list[float | None]]]:
    """For each program, at the largest size daisy ran on 1 worker: daisy's time over
    each peer's (1 worker), None where the peer has no time."""
    times = {(r.program, r.size, r.engine, r.workers): r.time
             for r in results if r.time and r.status in ("ok", "unchecked")}
    programs, ratios = [], {peer: [] for peer in PEERS}
    for program in dict.fromkeys(r.program for r in results):
        sizes = [s for (p, s, e, w) in times if p == program and e == "daisy" and w == 1]
        if not sizes:
            continue
        size = max(sizes)
        programs.append(program)
        for peer in PEERS:
            t = times.get((program, size, peer, 1))
            ratios[peer].append(times[(program, size, "daisy", 1)] / t if t else None)
    return programs, ratios


def scaling_data(results) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """program -> series label -> [(size, time)], programs in the order they ran, sizes
    ascending; only positive sizes (the startup row has none to scale)."""
    data: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for r in results:
        if r.time and r.status in ("ok", "unchecked") and r.size > 0:
            label = series_label(r.engine, r.workers)
            data.setdefault(r.program, {}).setdefault(label, []).append((r.size, r.time))
    for series in data.values():
        for points in series.values():
            points.sort()
    return data


def draw_charts(results, out: Path) -> list[Path]:
    try:
        import matplotlib
    except ImportError:
        return [_svg_ratios(results, out / "ratios.svg"),
                _svg_scaling(results, out / "scaling.svg")]
    matplotlib.use("Agg")
    return [_mpl_ratios(results, out / "ratios.png"), _mpl_scaling(results, out / "scaling.png")]


# ---- matplotlib ----

def _mpl_ratios(results, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter
    programs, ratios = ratio_data(results)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(programs) + 2), 4.5))
    width = 0.8 / len(PEERS)
    for i, peer in enumerate(PEERS):
        xs = [k + (i - 1) * width for k, v in enumerate(ratios[peer]) if v]
        ax.bar(xs, [v for v in ratios[peer] if v], width, label=peer, color=PEER_COLOURS[i])
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xticks(range(len(programs)), programs, rotation=30, ha="right")
    ax.set_title(RATIOS_TITLE, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _mpl_scaling(results, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
    data = scaling_data(results)
    cols = 4
    rows = max(1, math.ceil(len(data) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (program, series) in zip(axes.flat, data.items()):
        for (engine, workers), colour in zip(SERIES, COLOURS):
            points = series.get(series_label(engine, workers))
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, color=colour,
                        label=series_label(engine, workers))
        ax.set_xscale("log")
        ax.set_yscale("log")
        sizes = sorted({s for points in series.values() for s, _ in points})
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(program, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(data):]:
        ax.axis("off")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines()}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(SERIES),
               fontsize=8)
    fig.suptitle(SCALING_TITLE, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---- plain SVG, when matplotlib is missing ----

def _log_scale(values, lo_px: float, hi_px: float):
    """A function mapping values (> 0) to pixels on a log scale spanning them."""
    lo, hi = math.log10(min(values)), math.log10(max(values))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return lambda v: lo_px + (math.log10(v) - lo) / (hi - lo) * (hi_px - lo_px)


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">'
            f'{escape(title)}</text>\n' + "\n".join(body) + "\n</svg>\n")


def _svg_legend(labels, colours, x: float, y: float) -> list[str]:
    out = []
    for i, (label, colour) in enumerate(zip(labels, colours)):
        out.append(f'<rect x="{x + 90 * i}" y="{y - 9}" width="10" height="10" '
                   f'fill="{colour}"/><text x="{x + 90 * i + 14}" y="{y}">{escape(label)}</text>')
    return out


def _svg_ratios(results, path: Path) -> Path:
    programs, ratios = ratio_data(results)
    values = [v for vs in ratios.values() for v in vs if v] + [1.0]
    width, height, left, top, bottom = max(400, 70 * len(programs) + 80), 360, 60, 40, 290
    y = _log_scale(values, bottom, top)
    body = []
    for k in range(math.floor(math.log10(min(values))), math.ceil(math.log10(max(values))) + 1):
        if min(values) <= 10 ** k <= max(values):
            body.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(10 ** k):.1f}" '
                        f'y2="{y(10 ** k):.1f}" stroke="{"black" if k == 0 else "#ccc"}"/>'
                        f'<text x="{left - 4}" y="{y(10 ** k) + 4:.1f}" text-anchor="end">'
                        f'{10 ** k:g}</text>')
    for k, program in enumerate(programs):
        x0 = left + 70 * k + 8
        for i, peer in enumerate(PEERS):
            v = ratios[peer][k]
            if v:
                top_px, base = sorted((y(v), y(1)))
                body.append(f'<rect x="{x0 + 18 * i}" y="{top_px:.1f}" width="16" '
                            f'height="{max(base - top_px, 1):.1f}" fill="{PEER_COLOURS[i]}">'
                            f'<title>{escape(program)} vs {peer}: {v:.3g}</title></rect>')
        body.append(f'<text x="{x0}" y="{bottom + 14}" transform="rotate(30 {x0} '
                    f'{bottom + 14})">{escape(program)}</text>')
    body += _svg_legend(PEERS, PEER_COLOURS, left, height - 8)
    path.write_text(_svg(width, height, body, RATIOS_TITLE), encoding="utf-8")
    return path


def _svg_scaling(results, path: Path) -> Path:
    data = scaling_data(results)
    cols, pw, ph = 4, 220, 170
    rows = max(1, math.ceil(len(data) / cols))
    width, height = cols * pw + 20, rows * ph + 70
    body = []
    for n, (program, series) in enumerate(data.items()):
        ox, oy = 10 + (n % cols) * pw, 30 + (n // cols) * ph
        points = [p for ps in series.values() for p in ps]
        x = _log_scale([s for s, _ in points], ox + 40, ox + pw - 10)
        y = _log_scale([t for _, t in points], oy + ph - 25, oy + 20)
        body.append(f'<rect x="{ox + 40}" y="{oy + 20}" width="{pw - 50}" height="{ph - 45}" '
                    f'fill="none" stroke="#999"/><text x="{ox + pw / 2}" y="{oy + 14}" '
                    f'text-anchor="middle">{escape(program)}</text>')
        for (engine, workers), colour in zip(SERIES, COLOURS):
            ps = series.get(series_label(engine, workers), [])
            coords = " ".join(f"{x(s):.1f},{y(t):.1f}" for s, t in ps)
            if ps:
                body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}"/>')
                body += [f'<circle cx="{c.split(",")[0]}" cy="{c.split(",")[1]}" r="2.5" '
                         f'fill="{colour}"/>' for c in coords.split()]
        lo, hi = min(t for _, t in points), max(t for _, t in points)
        body.append(f'<text x="{ox + 36}" y="{oy + ph - 25}" text-anchor="end" '
                    f'font-size="9">{lo:.2g}</text><text x="{ox + 36}" y="{oy + 28}" '
                    f'text-anchor="end" font-size="9">{hi:.2g}</text>')
    body += _svg_legend([series_label(e, w) for e, w in SERIES], COLOURS, 20, height - 10)
    path.write_text(_svg(width, height, body, SCALING_TITLE), encoding="utf-8")
    return path
