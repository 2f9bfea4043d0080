"""chart.py — a horizontal bar chart of the suite's ratios, as SVG text.

One bar per target: its measured ratio, a black tick at the target, green when
the target is met (at or above it when higher is better, at or below it when
lower is better), red when missed. Standard library only.
"""
import math
from xml.sax.saxutils import escape

ROW = 22
LEFT = 300
WIDTH = 760
TOP = 46


def svg(bars):
    """bars: [(label, value, target, higher_is_better)] -> SVG document."""
    bars = [b for b in bars if isinstance(b[1], float) and not math.isnan(b[1])]
    scale_max = max([2.0] + [min(b[1], 4.0) * 1.05 for b in bars] + [b[2] * 1.2 for b in bars])
    plot = WIDTH - LEFT - 70
    height = TOP + ROW * len(bars) + 40

    def x(v):
        return LEFT + plot * min(v, scale_max) / scale_max

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">'
        "pants vs targets (median of per-round ratios)</text>",
        f'<text x="{WIDTH / 2}" y="34" text-anchor="middle" fill="#555">'
        "green: met, red: missed; black tick: the target</text>",
    ]
    # Grid every 0.5.
    v = 0.0
    while v <= scale_max + 1e-9:
        gx = x(v)
        out.append(f'<line x1="{gx:.1f}" y1="{TOP - 4}" x2="{gx:.1f}" y2="{height - 30}" stroke="#ddd"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 16}" text-anchor="middle" fill="#555">{v:.1f}</text>')
        v += 0.5
    for i, (label, value, target, higher) in enumerate(bars):
        y = TOP + i * ROW
        met = value >= target if higher else value <= target
        color = "#2e7d32" if met else "#c62828"
        out.append(f'<text x="{LEFT - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{LEFT}" y="{y + 3}" width="{x(value) - LEFT:.1f}" height="{ROW - 8}" fill="{color}"/>')
        out.append(f'<line x1="{x(target):.1f}" y1="{y}" x2="{x(target):.1f}" y2="{y + ROW - 2}" '
                   'stroke="black" stroke-width="2"/>')
        shown = f"{value:.2f}" + (" (off scale)" if value > scale_max else "")
        out.append(f'<text x="{x(value) + 4:.1f}" y="{y + 14}">{shown}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
