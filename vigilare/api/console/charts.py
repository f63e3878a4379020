"""Score charts drawn on the server as inline SVG: no JavaScript, no chart library.

Scores run 0-100, higher is safer; below 40 an account is at risk, below 70 it needs attention
(the bands the scoring documentation uses). Colours come from the stylesheet through classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

AT_RISK, ATTENTION = 40, 70


def risk_class(score: int | None) -> str:
    if score is None:
        return "risk-none"
    if score < AT_RISK:
        return "risk-high"
    if score < ATTENTION:
        return "risk-mid"
    return "risk-low"


def _y(score: float, top: float, height: float) -> float:
    return top + (100 - score) / 100 * height


def sparkline(scores: Sequence[int], width: int = 120, height: int = 32) -> Markup:
    """A small trend line of daily scores, oldest first."""
    if not scores:
        return Markup('<span class="muted">no history yet</span>')
    pad = 3.0
    step = (width - 2 * pad) / max(len(scores) - 1, 1)
    points = [(pad + index * step, _y(score, pad, height - 2 * pad)) for index, score in enumerate(scores)]
    if len(points) == 1:
        points.append((width - pad, points[0][1]))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    label = (
        f"Score over the last {len(scores)} days: {scores[0]} to {scores[-1]}"
        if len(scores) > 1
        else f"Score so far: {scores[0]}"
    )
    # Every value written below is a number or escaped text.
    return Markup(  # noqa: S704
        f'<svg class="sparkline {risk_class(scores[-1])}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="2" points="{path}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="currentColor"/></svg>'
    )


def history_chart(points: Sequence[tuple[date, int]], days: int, today: date) -> Markup:
    """The daily score over ``days`` days ending today, with the risk bands and a few date labels."""
    width, height = 640, 220
    left, right, top, bottom = 36, 12, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    first = today - timedelta(days=days - 1)

    def x_of(day: date) -> float:
        return left + (day - first).days / max(days - 1, 1) * plot_w

    parts = [
        f'<svg class="history" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="history-title" preserveAspectRatio="xMidYMid meet">'
    ]
    shown = sorted((day, score) for day, score in points if day >= first)
    if shown:
        summary = (
            f"Security Risk Score, last {days} days: {shown[0][1]} on {shown[0][0].isoformat()}, "
            f"{shown[-1][1]} on {shown[-1][0].isoformat()}"
        )
    else:
        summary = f"Security Risk Score, last {days} days: no score recorded yet"
    parts.append(f'<title id="history-title">{escape(summary)}</title>')
    band_top = _y(AT_RISK, top, plot_h)
    parts.append(
        f'<rect class="band-risk" x="{left}" y="{band_top:.1f}" width="{plot_w}" '
        f'height="{top + plot_h - band_top:.1f}"/>'
    )
    for level in (0, AT_RISK, ATTENTION, 100):
        y = _y(level, top, plot_h)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{level}</text>')
    for day in (first, first + timedelta(days=(days - 1) // 2), today):
        anchor = "start" if day == first else "end" if day == today else "middle"
        parts.append(
            f'<text class="axis" x="{x_of(day):.1f}" y="{height - 8}" text-anchor="{anchor}">'
            f"{day:%d %b}</text>"
        )
    if shown:
        path = " ".join(f"{x_of(day):.1f},{_y(score, top, plot_h):.1f}" for day, score in shown)
        parts.append(
            f'<polyline class="line {risk_class(shown[-1][1])}" fill="none" stroke="currentColor" '
            f'stroke-width="2.5" points="{path}"/>'
        )
        for day, score in shown:
            parts.append(
                f'<circle class="{risk_class(score)}" cx="{x_of(day):.1f}" cy="{_y(score, top, plot_h):.1f}" '
                f'r="3" fill="currentColor"><title>{day.isoformat()}: {score}</title></circle>'
            )
    else:
        parts.append(
            f'<text class="axis" x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
            f'text-anchor="middle">No score yet: it appears after the first scan.</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only
