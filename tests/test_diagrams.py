"""snnlab.diagrams: boxes and arrows drawn where they are declared, and bad declarations refused."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from snnlab.diagrams import Arrow, Box, _edge_point, block_diagram  # noqa: E402


def test_arrows_leave_and_enter_boxes_at_their_edges():
    box = Box(0, 0, "a", width=2.0, height=1.0)
    assert _edge_point(box, (10, 0)) == pytest.approx((1.0, 0.0))        # right edge
    assert _edge_point(box, (0, -10)) == pytest.approx((0.0, -0.5))      # bottom edge
    assert _edge_point(box, (4, 4)) == pytest.approx((0.5, 0.5))         # the top edge is hit first


def test_every_box_and_arrow_is_drawn_with_its_label():
    fig, ax = block_diagram({"x": Box(0, 0, "input", "data"), "y": Box(3, 1, "SNN", "snn")},
                            [Arrow("x", "y", "spikes", dashed=True)])
    patches = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(patches) == 2
    texts = {t.get_text() for t in ax.texts}
    assert {"input", "SNN", "spikes"} <= texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["data", "SNN / student", "no gradient / test only"]
    x0, x1 = ax.get_xlim()
    assert x0 < -0.8 and x1 > 3.8                                       # both boxes fit
    plt.close(fig)


def test_unknown_boxes_and_kinds_are_refused():
    with pytest.raises(KeyError, match="no box named 'z'"):
        block_diagram({"x": Box(0, 0, "x")}, [Arrow("x", "z")])
    with pytest.raises(ValueError, match="unknown box kind"):
        block_diagram({"x": Box(0, 0, "x", "teacher")}, [])
