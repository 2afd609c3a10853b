"""gitscore.report's sample-row figures (and glue_table's name check)."""
import numpy as np
import pandas as pd
import pytest

from gitscore import report


def test_glue_table_refuses_bad_names():
    with pytest.raises(ValueError, match="name must be"):
        report.glue_table("a table", pd.DataFrame({"a": [1]}))


def test_sample_rows_lays_each_row_in_one_line():
    import matplotlib
    matplotlib.use("Agg")
    rows = {"first": np.zeros((3, 1, 4, 5)), "second": np.ones((3, 1, 4, 5))}
    fig = report.sample_rows(rows, columns=("a", "b", "c"))
    axes = fig.get_axes()
    assert len(axes) == 2
    img = axes[1].get_images()[0].get_array()
    # 3 images 5 pixels wide with 2-pixel gaps; +1 maps to 255, the gaps are white (255) too
    assert img.shape == (4, 3 * 5 + 2 * 2) and (np.asarray(img) == 255).all()
    first = np.asarray(axes[0].get_images()[0].get_array())
    assert (first[:, :5] == 128).all() and (first[:, 5:7] == 255).all()  # 0 -> 127.5 rounds to 128; gap white
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_sample_rows_refuses_ragged_rows():
    with pytest.raises(ValueError, match="one shape"):
        report.sample_rows({"a": np.zeros((3, 1, 4, 4)), "b": np.zeros((2, 1, 4, 4))})
    with pytest.raises(ValueError, match="columns must name"):
        report.sample_rows({"a": np.zeros((3, 1, 4, 4))}, columns=("x",))
