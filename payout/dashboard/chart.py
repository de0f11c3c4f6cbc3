"""Server-rendered SVG bar charts (no JavaScript library, nothing fetched).

Geometry is integer arithmetic on the base-unit integers, so no amount goes through a float.
Each chart has a text alternative (``aria-label`` + ``<title>``) and the page shows the same
figures as a table for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 220
PAD_LEFT = 8
PAD_BOTTOM = 28
PAD_TOP = 12


@dataclass(frozen=True)
class Series:
    """One bar per label; ``css`` names the bar colour class in dashboard.css."""

    name: str
    css: str
    values: Sequence[int]
    #: Text of each value (shown as the bar's tooltip), e.g. "1,234.50 USDC".
    texts: Sequence[str] = ()


#: Widest group of bars: a chart of one or two days stays a bar chart, not a wall of colour.
MAX_GROUP_W = 96


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    summary: str,
    peak_text: str = "",
) -> str:
    """Grouped bars (one group per label, one bar per series) as an inline SVG element;
    ``peak_text`` labels the top of the scale (the largest value)."""
    peak = max([v for s in series for v in s.values] + [1])
    groups = max(len(labels), 1)
    plot_w = WIDTH - PAD_LEFT * 2
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    group_w = min(plot_w // groups, MAX_GROUP_W)
    bar_w = max(2, (group_w * 7 // 10) // max(len(series), 1))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}: {escape(summary)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" '
        f'x2="{WIDTH - PAD_LEFT}" y2="{HEIGHT - PAD_BOTTOM}"/>',
    ]
    if peak_text:
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{WIDTH - PAD_LEFT}" '
            f'y2="{PAD_TOP}"/><text class="tick" x="{WIDTH - PAD_LEFT}" y="{PAD_TOP + 12}" '
            f'text-anchor="end">max {escape(peak_text)}</text>'
        )
    for g, label in enumerate(labels):
        x0 = PAD_LEFT + g * group_w + (group_w - bar_w * len(series)) // 2
        for i, s in enumerate(series):
            value = s.values[g] if g < len(s.values) else 0
            text = s.texts[g] if g < len(s.texts) else str(value)
            h = value * plot_h // peak
            if value > 0 and h == 0:
                h = 1  # a non-zero day stays visible
            x = x0 + i * bar_w
            y = HEIGHT - PAD_BOTTOM - h
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x}" y="{y}" width="{bar_w - 1}" height="{h}">'
                f"<title>{escape(label)} {escape(s.name)}: {escape(text)}</title></rect>"
            )
        if groups <= 14 or g % (groups // 7 + 1) == 0:
            cx = PAD_LEFT + g * group_w + group_w // 2
            parts.append(
                f'<text class="tick" x="{cx}" y="{HEIGHT - 10}" text-anchor="middle">'
                f"{escape(label[5:] if len(label) == 10 else label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
