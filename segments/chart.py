"""A small line chart of a segment's daily size, as numbers for an inline SVG (no JS library)."""

from __future__ import annotations

from segments.models import SegmentSize

WIDTH, HEIGHT, PAD = 600, 140, 24


def size_chart(sizes: list[SegmentSize]) -> dict | None:
    points = [(row.date, row.size) for row in sizes if row.size is not None]
    if not points:
        return None
    top = max(size for _, size in points) or 1
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    coords = [
        (round(PAD + i * step, 1), round(HEIGHT - PAD - (size / top) * (HEIGHT - 2 * PAD), 1))
        for i, (_, size) in enumerate(points)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "polyline": " ".join(f"{x},{y}" for x, y in coords),
        "dots": [
            {"x": x, "y": y, "date": d, "size": s} for (x, y), (d, s) in zip(coords, points, strict=True)
        ],
        "top": top,
        "first": points[0][0],
        "last": points[-1][0],
        "baseline": HEIGHT - PAD,
        "pad": PAD,
        "right": WIDTH - PAD,
    }
