"""Boxes: IoU, validation, the G×G location grid, and decoding a patch-score map to a box.

Boxes are absolute ``(x0, y0, x1, y1)`` pixel coordinates with ``x0 < x1`` and ``y0 < y1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Box = tuple[float, float, float, float]


def check_box(box: Sequence[float], width: int, height: int, where: str = "box") -> Box:
    """Clip ``box`` to the image; raise ``ValueError`` naming ``where`` if it is malformed."""
    if len(box) != 4:
        raise ValueError(f"{where}={tuple(box)!r} is invalid; allowed: 4 numbers x0, y0, x1, y1")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"{where}={tuple(box)!r} is invalid; allowed: x0 < x1 and y0 < y1")
    x0, x1 = max(0.0, x0), min(float(width), x1)
    y0, y1 = max(0.0, y0), min(float(height), y1)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(
            f"{where}={tuple(box)!r} is invalid; allowed: a box overlapping the "
            f"{width}x{height} image"
        )
    return (x0, y0, x1, y1)


def iou(a: Sequence[float] | None, b: Sequence[float]) -> float:
    """Intersection over union of two xyxy boxes; a missing box (``None``) scores 0."""
    if a is None:
        return 0.0
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_to_cells(box: Box, width: int, height: int, grid: int) -> torch.Tensor:
    """(grid*grid,) bool mask of the grid cells whose centre lies inside ``box``.

    Falls back to the cell holding the box centre for boxes smaller than a cell.
    """
    xs = (torch.arange(grid) + 0.5) * width / grid
    ys = (torch.arange(grid) + 0.5) * height / grid
    inside_x = (xs >= box[0]) & (xs <= box[2])
    inside_y = (ys >= box[1]) & (ys <= box[3])
    mask = inside_y[:, None] & inside_x[None, :]
    if not mask.any():
        cx = min(grid - 1, int((box[0] + box[2]) / 2 * grid / width))
        cy = min(grid - 1, int((box[1] + box[3]) / 2 * grid / height))
        mask[cy, cx] = True
    return mask.flatten()


def box_to_location(box: Box, width: int, height: int, grid: int) -> tuple[int, int]:
    """KOSMOS-2 style: indices of the grid cells holding the top-left and bottom-right corners."""

    def cell(x: float, y: float) -> int:
        cx = min(grid - 1, max(0, int(x * grid / width)))
        cy = min(grid - 1, max(0, int(y * grid / height)))
        return cy * grid + cx

    return cell(box[0], box[1]), cell(box[2] - 1e-6, box[3] - 1e-6)


def location_to_box(first: int, last: int, width: int, height: int, grid: int) -> Box | None:
    """Inverse of :func:`box_to_location` (cell edges); ``None`` when the corners are reversed."""
    (y0, x0), (y1, x1) = divmod(first, grid), divmod(last, grid)
    if x1 < x0 or y1 < y0:
        return None
    w, h = width / grid, height / grid
    return (x0 * w, y0 * h, (x1 + 1) * w, (y1 + 1) * h)


def decode_region(
    scores: torch.Tensor, grid: int, level: float = 0.5
) -> tuple[torch.Tensor, float]:
    """Decode one (grid*grid,) patch-score map to a region mask and its score.

    The region is the 4-connected set of cells around the best cell whose scores are at least
    median + level·(max − median) — relative to the image's own scores, so phrases never seen
    in training (whose scores can sit below zero everywhere) still decode. The score is the
    region's softmax mass.
    """
    scores = scores.float()
    threshold = scores.median() + level * (scores.max() - scores.median())
    keep = (scores >= threshold).view(grid, grid).tolist()
    best = int(scores.argmax())
    region = torch.zeros(grid * grid, dtype=torch.bool)
    stack = [divmod(best, grid)]
    while stack:
        y, x = stack.pop()
        if not (0 <= y < grid and 0 <= x < grid) or region[y * grid + x] or not keep[y][x]:
            continue
        region[y * grid + x] = True
        stack += [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
    mass = torch.softmax(scores, 0)[region].sum().item()
    return region, mass


def region_to_box(region: torch.Tensor, width: int, height: int, grid: int) -> Box:
    """Bounding box (absolute xyxy) of the cells set in a (grid*grid,) mask."""
    cells = region.view(grid, grid).nonzero()
    (y0, x0), (y1, x1) = cells.min(0).values.tolist(), cells.max(0).values.tolist()
    w, h = width / grid, height / grid
    return (x0 * w, y0 * h, (x1 + 1) * w, (y1 + 1) * h)
