"""The layout check (gitscore.layout) fails on figures a reader could not read and passes on clean ones."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gitscore import layout, report  # noqa: E402


def _fig(w=report.TEXT_WIDTH_IN, h=3.0):
    fig, ax = plt.subplots(figsize=(w, h), layout="constrained")
    return fig, ax


def test_a_clean_figure_passes():
    fig, (a, b) = plt.subplots(1, 2, figsize=(report.TEXT_WIDTH_IN, 3), layout="constrained")
    x = np.linspace(0, 1, 50)
    a.plot(x, x ** 2, label="square")
    a.plot(x, x ** 3, label="cube")
    a.legend(loc="upper left")
    a.set(xlabel="x", ylabel="y", title="powers")
    im = b.imshow(np.random.default_rng(0).random((8, 8)))
    fig.colorbar(im, ax=b, label="value")
    b.set_title("an image")
    assert layout.problems(fig) == []
    plt.close(fig)


def test_overlapping_tick_labels_fail_naming_both():
    fig, ax = _fig(2.0, 2.0)
    ax.set_xticks(range(10), [f"label {i}" for i in range(10)])
    with pytest.raises(layout.LayoutError, match=r"figure 'crowded'.*x tick label of axes 1 'label \d' overlaps "
                                                r"x tick label of axes 1 'label \d'"):
        layout.check(fig, "crowded")
    plt.close(fig)


def test_rotated_tick_labels_are_rectangles_not_envelopes():
    # 45-degree labels whose envelopes overlap but whose rotated rectangles do not
    fig, ax = _fig(5.0, 3.0)
    ax.set_xticks(range(16), ["abcdef"] * 16, rotation=45, ha="right", rotation_mode="anchor")
    boxes = [t.get_window_extent() for t in ax.get_xticklabels()]
    assert boxes[0].overlaps(boxes[1])  # the envelopes overlap ...
    assert layout.problems(fig) == []  # ... the rotated labels do not
    ax.set_xticks(range(16), ["abcdef"] * 16, rotation=10)  # nearly flat: the rectangles do overlap
    assert any("overlaps" in p for p in layout.problems(fig))
    plt.close(fig)


def test_a_legend_over_a_line_fails_and_beside_it_passes():
    x = np.linspace(0, 1, 200)
    fig, ax = _fig()
    ax.plot(x, np.full_like(x, 0.95), label="flat top")
    ax.plot(x, x, label="diagonal")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")  # the flat line at 0.95 runs under the frame
    with pytest.raises(layout.LayoutError, match=r"legend of axes 1 'flat top, diagonal' covers the line 'flat top'"):
        layout.check(fig, "hidden")
    ax.legend(loc="center right")  # right edge, mid-height: the diagonal ends at the top, the flat line at 0.95
    assert [p for p in layout.problems(fig) if "covers" in p] == []
    plt.close(fig)


def test_a_line_crossing_a_legend_between_its_vertices_is_caught():
    fig, ax = _fig()
    ax.plot([0, 1], [0, 1], label="two vertices")
    ax.legend(loc="center")
    assert any("covers the line 'two vertices'" in p for p in layout.problems(fig))
    plt.close(fig)


def test_scatter_points_and_images_under_a_legend_fail():
    fig, (a, b) = plt.subplots(1, 2, figsize=(report.TEXT_WIDTH_IN, 3), layout="constrained")
    a.scatter([0.5], [0.5], label="one point")
    a.set(xlim=(0, 1), ylim=(0, 1))
    a.legend(loc="center")
    b.imshow(np.zeros((4, 4)))
    b.plot([], [], label="empty")
    b.legend(loc="center")
    found = layout.problems(fig)
    assert any("covers the points 'one point'" in p for p in found)
    assert any("covers the image" in p and "axes 2" in p for p in found)
    plt.close(fig)


def test_a_label_outside_the_canvas_fails():
    fig, ax = plt.subplots(figsize=(3, 2))  # no layout engine: the long y label falls off the left edge
    ax.set_ylabel("a very long y label that runs past the canvas edge\nand a second line")
    ax.set_yticks([0, 0.5, 1], ["1000000000", "2000000000", "3000000000"])
    with pytest.raises(layout.LayoutError, match=r"y (tick )?label of axes 1 .* lies outside the canvas"):
        layout.check(fig, "clipped")
    plt.close(fig)


def test_overlapping_axis_labels_of_two_panels_fail():
    fig, axes = plt.subplots(1, 3, figsize=(4, 2))
    for ax in axes:
        ax.set_xlabel("a long x label for a narrow panel")
    found = layout.problems(fig)
    assert any("x label of axes 1" in p and "overlaps x label of axes 2" in p for p in found)
    plt.close(fig)


def test_tick_labels_out_of_view_are_not_counted():
    fig, ax = _fig(3.0, 2.0)
    ax.set_xticks(np.arange(0, 100, 1.0), [str(i) for i in range(100)])  # 100 labels ...
    ax.set_xlim(0, 3.5)  # ... of which 4 are in view
    assert layout.problems(fig) == []
    plt.close(fig)


def test_report_figure_raises_closes_and_marks_the_png(monkeypatch):
    glued = {}
    import myst_nb
    monkeypatch.setattr(myst_nb, "glue", lambda name, obj, display=True: glued.update({name: obj}))
    fig, ax = _fig(2.0, 2.0)
    ax.set_xticks(range(10), [f"label {i}" for i in range(10)])
    with pytest.raises(layout.LayoutError, match="'crowded'"):
        report.figure(fig, "crowded")
    assert not plt.fignum_exists(fig.number)
    assert glued == {}
    fig, ax = _fig()
    ax.plot([0, 1], [1, 0])
    report.figure(fig, "clean-one")
    obj = glued["clean-one"]
    from PIL import Image
    img = Image.open(io.BytesIO(obj._repr_png_()))
    assert img.text[report.LAYOUT_MARKER] == f"checked clean-one {100 * report.TEXT_WIDTH_IN:.0f}x300 px"
    assert repr(obj).startswith("<Figure size")  # the text/plain nbval compares, as matplotlib writes it


def test_the_ticks_of_axes_turned_off_are_not_counted():
    fig, axes = plt.subplots(2, 6, figsize=(report.TEXT_WIDTH_IN, 2.4), gridspec_kw={"hspace": 0.05})
    for ax in axes.flat:
        ax.imshow(np.zeros((28, 28)))
        ax.set_title("a title")
    assert any("overlaps" in p or "outside" in p for p in layout.problems(fig))  # tick labels under titles
    for ax in axes.flat:
        ax.axis("off")
    assert layout.problems(fig) == []
    plt.close(fig)
