"""The layout check of a matplotlib figure, as the book saves it: no two text boxes overlap, no text lies outside
the canvas, no legend covers plotted data.

`gitscore.report.figure` runs `check(fig, name)` on every figure after sizing it to the text column, so a figure
that a reader could not read fails its cell (and with it nbval and `make book`). The figure is drawn once with the
Agg canvas; the boxes are the artists' window extents in pixels at the figure's dpi (rotated text as its rotated
rectangle, not the envelope). Text boxes: tick labels of the ticks in view, axis labels, offset texts ("1e-3"),
titles, texts and annotations, legends (the frame, as one box), figure texts (suptitle, supxlabel) and figure
legends. Plotted data: line vertices and the segments between them (sampled every pixel), scatter points, the
paths of line collections, bars, images and meshes, where they are drawn (inside their axes).
"""
from __future__ import annotations

import numpy as np

__all__ = ["LayoutError", "TEXT_TOL_PX", "LEGEND_TOL_PX", "problems", "check"]

TEXT_TOL_PX = 1.0  # two text boxes may share this many pixels at their edges (glyph boxes include blank bearings)
LEGEND_TOL_PX = 2.0  # data within this many pixels of a legend's frame edge is not counted as covered


class LayoutError(ValueError):
    """A figure a reader could not read: the message names the figure, the artists and their texts."""


class _Box:
    """A text artist's box: its four corners in display pixels, what it is, and its text."""

    def __init__(self, corners: np.ndarray, kind: str, text: str, group: object = None):
        self.corners, self.kind, self.text, self.group = corners, kind, text, group
        self.lo, self.hi = corners.min(axis=0), corners.max(axis=0)

    def describe(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"{self.kind} {text!r}"


def _renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _text_box(t, renderer, kind: str, group=None) -> _Box | None:
    if t is None or not t.get_visible() or not t.get_text().strip():
        return None
    angle = t.get_rotation() % 180.0
    ext = t.get_window_extent(renderer)
    if min(angle, 180.0 - angle) < 0.01 or abs(angle - 90.0) < 0.01:
        corners = np.array([[ext.x0, ext.y0], [ext.x1, ext.y0], [ext.x1, ext.y1], [ext.x0, ext.y1]])
    else:  # the rotated rectangle around the envelope's centre, sized as the text laid out flat
        rotation = t.get_rotation()
        t.set_rotation(0)
        flat = t.get_window_extent(renderer)
        t.set_rotation(rotation)
        w, h, a = flat.width / 2, flat.height / 2, np.deg2rad(rotation)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        half = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) @ rot.T
        corners = half + [(ext.x0 + ext.x1) / 2, (ext.y0 + ext.y1) / 2]
    return _Box(corners, kind, " ".join(t.get_text().split()), group)


def _ticks_in_view(axis):
    """The ticks whose labels the axis draws: those whose location lies in the view interval."""
    scale = axis.get_transform()
    lo, hi = sorted(scale.transform(np.asarray(axis.get_view_interval(), float).reshape(-1, 1)).ravel())
    eps = 1e-9 * max(hi - lo, 1e-300)
    out = []
    for ticks, locs in ((axis.get_major_ticks, axis.get_majorticklocs()),
                        (axis.get_minor_ticks, axis.get_minorticklocs())):
        locs = np.asarray(locs, float)
        if not len(locs):
            continue
        with np.errstate(all="ignore"):
            where = scale.transform(locs.reshape(-1, 1)).ravel()
        out += [t for t, x in zip(ticks(len(locs)), where) if np.isfinite(x) and lo - eps <= x <= hi + eps]
    return out


def _axes_name(fig, ax) -> str:
    i = fig.axes.index(ax) + 1
    title = " ".join(ax.get_title().split())
    return f"axes {i}" + (f" ({title[:30]!r})" if title else "")


def _text_boxes(fig, renderer) -> list[_Box]:
    boxes = []

    def add(t, kind, group=None):
        b = _text_box(t, renderer, kind, group)
        if b is not None:
            boxes.append(b)

    for ax in fig.axes:
        if not ax.get_visible():
            continue
        where = _axes_name(fig, ax)
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if not ax.axison or not axis.get_visible():  # ax.axis("off") hides the axes' ticks and labels
                continue
            for tick in _ticks_in_view(axis):
                add(tick.label1, f"{name} tick label of {where}")
                add(tick.label2, f"{name} tick label of {where}")
            add(axis.label, f"{name} label of {where}")
            add(axis.get_offset_text(), f"{name} offset text of {where}")
        for loc in ("left", "center", "right"):
            if ax.get_title(loc):
                title = {"center": ax.title}.get(loc) or getattr(ax, f"_{loc}_title", None)
                add(title, f"title of {where}")
        for t in ax.texts:
            add(t, f"text in {where}")
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            boxes.append(_legend_box(legend, renderer, f"legend of {where}"))
    for t in fig.texts:
        add(t, "figure text")
    for legend in fig.legends:
        if legend.get_visible():
            boxes.append(_legend_box(legend, renderer, "figure legend"))
    return boxes


def _legend_box(legend, renderer, kind: str) -> _Box:
    ext = legend.get_window_extent(renderer)
    corners = np.array([[ext.x0, ext.y0], [ext.x1, ext.y0], [ext.x1, ext.y1], [ext.x0, ext.y1]])
    texts = [t.get_text() for t in legend.get_texts() if t.get_text()]
    title = legend.get_title().get_text()
    return _Box(corners, kind, (title + ": " if title else "") + ", ".join(texts), group=legend)


def _overlap(a: _Box, b: _Box, tol: float) -> bool:
    """Whether two (possibly rotated) rectangles share more than tol pixels (separating axis test)."""
    if np.any(a.lo + tol >= b.hi) or np.any(b.lo + tol >= a.hi):
        return False
    for corners in (a.corners, b.corners):
        for k in range(2):
            edge = corners[k + 1] - corners[k]
            normal = np.array([-edge[1], edge[0]]) / max(np.hypot(*edge), 1e-12)
            pa, pb = a.corners @ normal, b.corners @ normal
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= tol:
                return False
    return True


def _densify(points: np.ndarray, step: float = 1.0) -> np.ndarray:
    """Points every `step` pixels along the polyline through `points` (non-finite points break the line)."""
    out = [points[np.isfinite(points).all(axis=1)]]
    a, b = points[:-1], points[1:]
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    a, b = a[ok], b[ok]
    n = np.minimum(np.ceil(np.hypot(*(b - a).T) / step), 4000).astype(int)
    for k in np.nonzero(n > 1)[0]:
        s = np.linspace(0.0, 1.0, n[k] + 1)[1:-1, None]
        out.append(a[k] + s * (b[k] - a[k]))
    return np.concatenate(out) if out else np.empty((0, 2))


def _data_under(ax, box, renderer) -> list[str]:
    """What of ax's plotted data lies inside box (a Bbox in pixels, already shrunk by the tolerance)."""
    from matplotlib.collections import LineCollection, PolyCollection, QuadMesh

    clip = ax.bbox

    def inside(p: np.ndarray) -> int:
        if not len(p):
            return 0
        drawn = (p[:, 0] >= clip.x0) & (p[:, 0] <= clip.x1) & (p[:, 1] >= clip.y0) & (p[:, 1] <= clip.y1)
        under = (p[:, 0] > box.x0) & (p[:, 0] < box.x1) & (p[:, 1] > box.y0) & (p[:, 1] < box.y1)
        return int((drawn & under).sum())

    def name(artist, what):
        label = artist.get_label()
        return f"{what} {label!r}" if label and not label.startswith("_") else what

    found = []
    for line in ax.lines:
        if not line.get_visible():
            continue
        pts = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        if line.get_linestyle() not in ("None", "none", " ", ""):
            pts = _densify(pts)
        if inside(pts):
            found.append(name(line, "line"))
    for coll in ax.collections:
        if not coll.get_visible() or isinstance(coll, PolyCollection) and not isinstance(coll, QuadMesh):
            continue  # filled bands (fill_between) may lie under a legend; their edges are lines when drawn
        if isinstance(coll, LineCollection):
            tr = coll.get_transform()
            pts = [_densify(tr.transform(p.vertices)) for p in coll.get_paths()]
            n = sum(inside(p) for p in pts)
        elif isinstance(coll, QuadMesh):
            n = box.overlaps(coll.get_window_extent(renderer))
        else:  # scatter points and other offset collections
            offsets = np.asarray(coll.get_offsets(), float)
            n = inside(coll.get_offset_transform().transform(offsets)) if len(offsets) else 0
        if n:
            found.append(name(coll, "points" if not isinstance(coll, (LineCollection, QuadMesh)) else "lines"))
    for container in ax.containers:
        if hasattr(container, "patches") and any(box.overlaps(p.get_window_extent(renderer))
                                                 for p in container.patches if p.get_visible()):
            found.append(name(container, "bars"))
    for image in ax.images:
        if image.get_visible() and box.overlaps(image.get_window_extent(renderer)):
            found.append(name(image, "image"))
    return found


def problems(fig) -> list[str]:
    """Every layout problem of the figure at its current size, one sentence each (empty when it is readable)."""
    from matplotlib.transforms import Bbox
    renderer = _renderer(fig)
    boxes = _text_boxes(fig, renderer)
    out = []
    w, h = fig.bbox.width, fig.bbox.height
    for b in boxes:
        if np.any(b.lo < -TEXT_TOL_PX) or b.hi[0] > w + TEXT_TOL_PX or b.hi[1] > h + TEXT_TOL_PX:
            out.append(f"{b.describe()} lies outside the canvas ({w:.0f} x {h:.0f} px): "
                       f"box x {b.lo[0]:.0f}..{b.hi[0]:.0f}, y {b.lo[1]:.0f}..{b.hi[1]:.0f}")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if _overlap(a, b, TEXT_TOL_PX):
                out.append(f"{a.describe()} overlaps {b.describe()}")
    for b in boxes:
        if b.group is None:
            continue
        frame = Bbox.from_extents(*(b.lo + LEGEND_TOL_PX), *(b.hi - LEGEND_TOL_PX))
        for ax in fig.axes:
            if ax.get_visible() and ax.bbox.overlaps(frame):
                found = _data_under(ax, frame, renderer)
                for what in dict.fromkeys(found):  # once per kind of artist, with how many it covers
                    n = found.count(what)
                    out.append(f"{b.describe()} covers the {what} of {_axes_name(fig, ax)}"
                               + (f" ({n} of them)" if n > 1 else ""))
    return out


def check(fig, name: str) -> None:
    """Raise LayoutError naming the figure and every problem `problems` finds; return None when there is none."""
    found = problems(fig)
    if found:
        w, h = fig.get_size_inches()
        raise LayoutError(f"figure {name!r} ({w:.2f} x {h:.2f} in at {fig.dpi:g} dpi) is not readable: "
                          + "; ".join(found))
