"""A small line chart of a segment's daily size, as numbers for an inline SVG (no JS library).

The y-axis shows change: it spans the sizes' own range rounded out to whole ticks (1, 2 or 5
times a power of ten), starting at 0 only when the smallest size is near 0 compared with the
spread, so 10,120 → 10,180 is a visible climb, not a flat line at the top of a 0–10,180 axis."""

from __future__ import annotations

import math

from segments.models import SegmentSize

WIDTH, HEIGHT = 600, 200
LEFT, RIGHT, TOP, BOTTOM = 76, 12, 12, 30  # room for the y labels on the left, dates below
TICKS = 4


def _step(span: float) -> int:
    """A tick step of 1, 2 or 5 × 10^k giving about TICKS intervals over `span` (at least 1)."""
    raw = max(span / TICKS, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def axis(low: int, high: int) -> tuple[int, int, list[int]]:
    """(bottom, top, ticks) for sizes between `low` and `high`."""
    if low == high:  # one value, or a flat line: a band around it
        spread = max(abs(high) // 10, 2)
        low, high = max(low - spread, 0), high + spread
    step = _step(high - low)
    bottom = (low // step) * step
    if bottom <= step * 2:  # close to zero anyway: show the whole
        bottom = 0
    top = -(-high // step) * step
    if top == bottom:
        top = bottom + step
    return bottom, top, list(range(bottom, top + 1, step))


def size_chart(sizes: list[SegmentSize]) -> dict | None:
    points = [(row.date, row.size) for row in sizes if row.size is not None]
    if not points:
        return None
    values = [size for _, size in points]
    bottom, top, ticks = axis(min(values), max(values))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: int) -> float:
        return round(TOP + plot_height - (value - bottom) / (top - bottom) * plot_height, 1)

    if len(points) == 1:
        xs = [LEFT + plot_width / 2]
    else:
        xs = [LEFT + i * plot_width / (len(points) - 1) for i in range(len(points))]
    coords = [(round(x, 1), y(size)) for x, (_, size) in zip(xs, points, strict=True)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "polyline": " ".join(f"{x},{yy}" for x, yy in coords),
        "dots": [
            {"x": x, "y": yy, "date": d, "size": s} for (x, yy), (d, s) in zip(coords, points, strict=True)
        ],
        "ticks": [{"value": value, "y": y(value)} for value in ticks],
        "top": max(values),
        "low": min(values),
        "count": len(points),
        "first": points[0][0],
        "last": points[-1][0],
        "baseline": TOP + plot_height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_x": LEFT - 8,
    }
