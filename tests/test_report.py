import json

import pytest

from gitscore import report


def _nb(outputs):
    return {"cells": [{"cell_type": "code", "outputs": outputs}]}


def test_verdict_round_trip_plain_line(tmp_path):
    v = report.Verdict("trajectories are straight", "Fig. 2", "ratio 0.01", "holds", "fig2")
    out = {"output_type": "display_data", "metadata": {},
           "data": {"text/plain": repr(v), "text/html": v._repr_html_()}}
    (tmp_path / "02_x.ipynb").write_text(json.dumps(_nb([out])))
    assert report.collect(tmp_path) == [{"chapter": "02_x", "claim": "trajectories are straight", "paper": "Fig. 2",
                                         "ours": "ratio 0.01", "verdict": "holds", "anchor": "fig2",
                                         "beyond_paper": False}]
    assert 'class="admonition tip gs-verdict"' in v._repr_html_()


def test_beyond_paper_round_trip_and_escaping(tmp_path):
    v = report.Verdict("weight <D> grows", "Sec. 4.1", "a & b", "holds partly", beyond_paper=True)
    assert "&lt;D&gt;" in v._repr_html_() and "beyond the paper" in v._repr_html_()
    out = {"output_type": "stream", "name": "stdout", "text": [repr(v) + "\n"]}
    (tmp_path / "01_y.ipynb").write_text(json.dumps(_nb([out])))
    (row,) = report.collect(tmp_path)
    assert row["beyond_paper"] is True and row["paper"] == "Sec. 4.1" and row["claim"] == "weight <D> grows"


def test_glued_verdicts_take_precedence(tmp_path):
    rows = [report.Verdict("c", "p", "o", "does not hold here", "sec").as_dict()]
    pre = "application/papermill.record/"
    glued = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "verdicts", "mime_prefix": pre}},
             "data": {pre + "text/plain": json.dumps(rows), pre + "text/html": report.verdict_table(rows, "03_z")}}
    (tmp_path / "03_z.ipynb").write_text(json.dumps(_nb([glued])))
    assert report.collect(tmp_path) == [{"chapter": "03_z", **rows[0]}]
    assert 'href="03_z.html#sec"' in glued["data"][pre + "text/html"]


def test_verdict_records():
    n = len(report.recorded())
    report.verdict("c", "p", "o", "holds")
    assert report.recorded()[n:] == [{"claim": "c", "paper": "p", "ours": "o", "verdict": "holds",
                                      "anchor": "", "beyond_paper": False}]


def test_bad_verdicts():
    with pytest.raises(ValueError, match="result must be one of"):
        report.verdict("c", "p", "o", "maybe")
    with pytest.raises(ValueError, match="ours"):
        report.verdict("c", "p", "a | b", "holds")
    with pytest.raises(TypeError, match="beyond_paper"):
        report.verdict("c", "p", "o", "holds", beyond_paper="yes")
    with pytest.raises(ValueError, match="chapter"):
        report.glue_verdicts("")


def test_figure_fits_the_column():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(2 * report.TEXT_WIDTH_IN, 4))
    report.figure(fig, "too-wide")
    assert tuple(fig.get_size_inches()) == (report.TEXT_WIDTH_IN, 2.0)
    with pytest.raises(ValueError, match="name"):
        report.figure(fig, "bad name")


def test_show_params(capsys):
    from dataclasses import dataclass

    @dataclass
    class P:
        a: int = 1
        long_name: str = "x" * 200

    report.show_params(P())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "a         = 1" and len(lines[1]) == report.LINE_WIDTH and lines[1].endswith("...")
    with pytest.raises(TypeError, match="params"):
        report.show_params({"a": 1})


def test_fold_keeps_text_and_width():
    line = "word " * 50 + "x" * 120
    parts = report.fold(line, 40)
    assert all(len(p) <= 40 for p in parts)
    assert "".join(p.strip() for p in parts).replace(" ", "") == line.replace(" ", "")
    assert report.fold("short", 40) == ["short"]
    with pytest.raises(ValueError, match="width"):
        report.fold("x", 5)


def test_folded_stream_buffers_partial_lines():
    import io
    buf = io.StringIO()
    out = report.FoldedStream(buf, 30)
    out.write("a" * 10 + " ")
    out.write("b" * 25 + "\nshort\n")
    out.flush()
    assert buf.getvalue() == "a" * 10 + "\n    " + "b" * 25 + "\nshort\n"


def test_image_grid_places_each_image_in_its_cell():
    import numpy as np

    x = np.stack([np.full((1, 2, 3), v) for v in (-1.0, 0.0, 1.0, 0.5, -0.5)])  # 5 images 2x3
    g = report.image_grid(x)
    assert g.shape == (2 * 3 - 1, 3 * 4 - 1) and g.dtype == np.uint8  # 2 rows of 3 cells, 1-pixel gaps
    for k, v in enumerate((-1.0, 0.0, 1.0, 0.5, -0.5)):
        r, c = divmod(k, 3)
        assert (g[r * 3:r * 3 + 2, c * 4:c * 4 + 3] == round((v + 1) * 127.5)).all()
    assert (g[2, :] == 0).all() and (g[:, 3] == 0).all()  # the gaps


def test_scatter_image_and_png():
    import io

    import numpy as np
    from PIL import Image

    img = report.scatter_image(np.array([[1.0, 0.0, 5.0], [-1.0, -1.0, 0.0]]), size=64)
    assert img.shape == (64, 64) and (img == 0).sum() == 18  # two 3x3 dots
    back = np.array(Image.open(io.BytesIO(report.png_bytes(img))))
    assert np.array_equal(back, img)


def test_verdict_of_the_registry_is_shown_and_recorded_with_its_rule_word():
    import dataclasses

    from gitscore import claims
    from gitscore.stats import Interval
    claim = dataclasses.replace(claims.get("regularity_deviation"), models=("a", "b"))
    real = {"a": Interval(0.004, 0.003, 0.005), "b": Interval(0.006, 0.005, 0.007)}
    v = claims.verdict(claim, real, control=Interval(0.2, 0.18, 0.22))
    before = len(report.recorded())
    report.verdict(v)
    row = report.recorded()[-1]
    assert len(report.recorded()) == before + 1
    assert row["verdict"] == v.word == claims.HOLDS and row["id"] == "regularity_deviation"
    assert "control" in row["ours"] and row["separation"] == v.control.separation
    control_passes = claims.verdict(claim, real, control=Interval(0.005, 0.004, 0.006))
    report.verdict(control_passes)
    assert report.recorded()[-1]["verdict"] == claims.NOT_SEPARABLE
    with pytest.raises(TypeError, match="registry"):
        report.verdict(v, result="holds")


def test_summary_rows_and_tally_keep_the_papers_claims_apart():
    rows = [{"claim": "c1", "paper": "Fig. 2", "ours": "0.005", "verdict": "holds", "beyond_paper": False,
             "id": "regularity_deviation"},
            {"claim": "c2", "paper": "-", "ours": "x", "verdict": "does not hold", "beyond_paper": True},
            {"claim": "c3", "paper": "p", "ours": "y", "verdict": "holds", "beyond_paper": True}]
    paper = report.summary_rows(rows)
    assert [r["claim"] for r in paper] == ["c1"] and paper[0]["threshold"] == "< 0.02"
    assert [r["claim"] for r in report.summary_rows(rows, beyond_paper=True)] == ["c2", "c3"]
    assert report.tally(rows) == {"paper": {"holds": 1}, "beyond_paper": {"holds": 1, "does not hold": 1}}


def test_show_params_prints_checkout_paths_relative(capsys):
    import dataclasses
    from pathlib import Path

    root = Path(report.__file__).resolve().parents[1]

    @dataclasses.dataclass
    class P:
        results: Path = root / "results"
        elsewhere: Path = Path("/tmp/somewhere/runs")
        n: int = 3

    report.show_params(P())
    out = capsys.readouterr().out
    assert "results   = <checkout>/results" in out and "elsewhere = runs" in out and "n         = 3" in out
    assert str(root) not in out


def test_markdown_table_formats_escapes_and_names_bad_columns():
    import pandas as pd
    df = pd.DataFrame({"model": ["a|b", "c"], "x": [1.23456, float("nan")], "n": [1, 2]})
    assert report.markdown_table(df, {"x": "{:.2f}"}).splitlines() == [
        "| model | x | n |", "|:---|---:|---:|", "| a\\|b | 1.23 | 1 |", "| c | - | 2 |"]
    with pytest.raises(ValueError, match="floatfmt names columns not in the table"):
        report.markdown_table(df, {"y": "{:.2f}"})


def test_glue_table_glues_the_markdown_as_text_too(monkeypatch):
    import myst_nb
    import pandas as pd
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, obj, display=True: glued.update({name: obj}))
    report.glue_table("tab-x", pd.DataFrame({"k": [1], "v": [0.5]}))
    obj = glued["tab-x"]
    assert obj._repr_markdown_() == repr(obj) == "| k | v |\n|---:|---:|\n| 1 | 0.5 |"
    with pytest.raises(ValueError, match="name"):
        report.glue_table("bad name", pd.DataFrame())
