"""Inline SVG charts of a column's reference and current shares, drawn in Python so that
the HTML report needs no script, font or stylesheet from anywhere."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 58
REFERENCE_COLOR, CURRENT_COLOR = "#4c78a8", "#f58518"


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _frame(name: str, body: list[str], top_share: float) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    axis = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" class="tick">{_percent(top_share)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" class="tick">0%</text>',
        f'<rect x="{LEFT}" y="6" width="10" height="10" fill="{REFERENCE_COLOR}"/>',
        f'<text x="{LEFT + 14}" y="15" class="legend">reference</text>',
        f'<rect x="{LEFT + 90}" y="6" width="10" height="10" fill="{CURRENT_COLOR}"/>',
        f'<text x="{LEFT + 104}" y="15" class="legend">current</text>',
    ]
    return (
        f'<svg class="feature-chart" data-feature="{_attr(name)}" role="img" '
        f'aria-label="{_attr(name)}: reference and current distribution" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">' + "".join(axis + body) + "</svg>"
    )


def _bar(x: float, width: float, share: float, top_share: float, color: str, tip: str, opacity: float) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    h = plot_h * share / top_share if top_share else 0.0
    return (
        f'<rect x="{x:.2f}" y="{TOP + plot_h - h:.2f}" width="{max(width, 0.5):.2f}" height="{h:.2f}" '
        f'fill="{color}" fill-opacity="{opacity}"><title>{escape(tip)}</title></rect>'
    )


def _histogram(name: str, chart: dict[str, Any]) -> str:
    edges, ref, cur = chart["edges"], chart["reference"], chart["current"]
    top = max([*ref, *cur, 1e-12])
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / len(ref)
    body = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        span = f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}{']' if i == len(ref) - 1 else ')'}"
        body.append(_bar(LEFT + i * step, step - 1, r, top, REFERENCE_COLOR, f"{span} reference {_percent(r)}", 0.6))
        body.append(_bar(LEFT + i * step, step - 1, c, top, CURRENT_COLOR, f"{span} current {_percent(c)}", 0.6))
    base = HEIGHT - BOTTOM + 14
    for i in sorted({0, len(edges) // 2, len(edges) - 1}):
        anchor = "start" if i == 0 else "end" if i == len(edges) - 1 else "middle"
        x = LEFT + i * step
        body.append(f'<text x="{x:.2f}" y="{base}" text-anchor="{anchor}" class="tick">{_fmt(edges[i])}</text>')
    return _frame(name, body, top)


def _bars(name: str, chart: dict[str, Any]) -> str:
    labels, ref, cur = chart["labels"], chart["reference"], chart["current"]
    top = max([*ref, *cur, 1e-12])
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(len(labels), 1)
    half = max((step - 4) / 2, 0.5)
    body = []
    for i, (label, r, c) in enumerate(zip(labels, ref, cur, strict=True)):
        x = LEFT + i * step + 2
        body.append(_bar(x, half, r, top, REFERENCE_COLOR, f"{label}: reference {_percent(r)}", 1.0))
        body.append(_bar(x + half, half, c, top, CURRENT_COLOR, f"{label}: current {_percent(c)}", 1.0))
        short = label if len(label) <= 14 else label[:13] + "…"
        cx, cy = x + half, HEIGHT - BOTTOM + 12
        body.append(
            f'<text x="{cx:.2f}" y="{cy}" text-anchor="end" transform="rotate(-30 {cx:.2f} {cy})" '
            f'class="tick">{escape(short)}</text>'
        )
    return _frame(name, body, top)


def chart_svg(name: str, chart: dict[str, Any] | None) -> str:
    """One chart per column; a column without any value to draw gets a frame that says so."""
    if chart is None:
        note = f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="note">no values to draw</text>'
        return _frame(name, [note], 0.0)
    return _histogram(name, chart) if chart["type"] == "histogram" else _bars(name, chart)
