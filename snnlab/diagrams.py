r"""Block diagrams of the methods, drawn with matplotlib (the ``plot`` extra) for the book's chapters.

A diagram is a set of labelled boxes at positions on a grid and arrows between them:

>>> fig, ax = block_diagram(
...     {"x": Box(0, 0, "image $x$"), "net": Box(2, 0, "SNN, $T$ steps"), "loss": Box(4, 0, "CE")},
...     [Arrow("x", "net"), Arrow("net", "loss", "$\\bar O$")])
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["Box", "Arrow", "block_diagram"]

STYLES = {
    "data": dict(facecolor="#e8f1fb", edgecolor="#3b73b9"),
    "ann": dict(facecolor="#fff2df", edgecolor="#d98a1c"),
    "snn": dict(facecolor="#e6f5e9", edgecolor="#3f9a52"),
    "loss": dict(facecolor="#fbe9e9", edgecolor="#c0392b"),
    "op": dict(facecolor="#f2f2f2", edgecolor="#666666"),
}
"""Box colours by role: data, ANN (teacher) parts, SNN (student) parts, losses, other operations."""


class Box(NamedTuple):
    """A box centred at ``(x, y)`` (grid units) with a ``label`` (mathtext allowed) and a ``kind`` from
    :data:`STYLES`; ``width`` and ``height`` in grid units."""

    x: float
    y: float
    label: str
    kind: str = "op"
    width: float = 1.6
    height: float = 0.7


class Arrow(NamedTuple):
    """An arrow from box ``source`` to box ``target`` with an optional ``label``; ``dashed`` for what carries no
    gradient (a frozen teacher, a detached target) or happens only at test time."""

    source: str
    target: str
    label: str = ""
    dashed: bool = False


def _edge_point(box: Box, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from ``box``'s centre towards ``towards`` leaves the box."""
    dx, dy = towards[0] - box.x, towards[1] - box.y
    if dx == 0 and dy == 0:
        return box.x, box.y
    scale = min(box.width / 2 / abs(dx) if dx else float("inf"), box.height / 2 / abs(dy) if dy else float("inf"))
    return box.x + dx * scale, box.y + dy * scale


def block_diagram(boxes: dict[str, Box], arrows: list[Arrow], ax=None, title: str | None = None,
                  legend: bool = True):
    """Draw ``boxes`` and ``arrows`` on ``ax`` (a new figure sized to the grid when ``None``); returns
    ``(figure, axes)``. With ``legend``, a key of the box kinds used (and of dashed arrows, if any) is added."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch, Patch

    for arrow in arrows:
        for end in (arrow.source, arrow.target):
            if end not in boxes:
                raise KeyError(f"arrow {arrow.source!r} -> {arrow.target!r}: no box named {end!r}")
    unknown = {box.kind for box in boxes.values()} - set(STYLES)
    if unknown:
        raise ValueError(f"unknown box kind(s) {sorted(unknown)}; use one of {sorted(STYLES)}")
    x0 = min(b.x - b.width / 2 for b in boxes.values()) - 0.3
    x1 = max(b.x + b.width / 2 for b in boxes.values()) + 0.3
    y0 = min(b.y - b.height / 2 for b in boxes.values()) - 0.5
    y1 = max(b.y + b.height / 2 for b in boxes.values()) + 0.5
    if ax is None:
        fig, ax = plt.subplots(figsize=(min(11.0, 1.25 * (x1 - x0)), 1.1 * (y1 - y0) + (0.6 if legend else 0.2)))
    else:
        fig = ax.figure
    for box in boxes.values():
        ax.add_patch(FancyBboxPatch((box.x - box.width / 2, box.y - box.height / 2), box.width, box.height,
                                    boxstyle="round,pad=0.02,rounding_size=0.12", lw=1.4, **STYLES[box.kind]))
        ax.text(box.x, box.y, box.label, ha="center", va="center", fontsize=9)
    for arrow in arrows:
        source, target = boxes[arrow.source], boxes[arrow.target]
        start = _edge_point(source, (target.x, target.y))
        end = _edge_point(target, (source.x, source.y))
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", lw=1.3, color="#333333",
                                                              linestyle="--" if arrow.dashed else "-"))
        if arrow.label:
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, arrow.label, ha="center",
                    va="bottom", fontsize=8, color="#333333",
                    bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        names = {"data": "data", "ann": "ANN / teacher", "snn": "SNN / student", "loss": "loss", "op": "operation"}
        handles = [Patch(label=names[kind], **STYLES[kind]) for kind in STYLES
                   if any(b.kind == kind for b in boxes.values())]
        if any(a.dashed for a in arrows):
            handles.append(Line2D([], [], color="#333333", linestyle="--", label="no gradient / test only"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), fontsize=8,
                  frameon=False)
    return fig, ax
