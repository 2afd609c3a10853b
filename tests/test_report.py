import json

import pytest

from gitscore import report


def test_verdict_round_trip(tmp_path, capsys):
    report.verdict("trajectories are straight", "Fig. 2", "ratio 0.01", "holds", "fig2")
    line = capsys.readouterr().out
    nb = {"cells": [{"cell_type": "code", "outputs": [{"name": "stdout", "output_type": "stream", "text": [line]}]}]}
    (tmp_path / "02_x.ipynb").write_text(json.dumps(nb))
    rows = report.collect(tmp_path)
    assert rows == [{"chapter": "02_x", "claim": "trajectories are straight", "paper": "Fig. 2",
                     "ours": "ratio 0.01", "verdict": "holds", "anchor": "fig2"}]


def test_bad_verdicts():
    with pytest.raises(ValueError, match="result must be one of"):
        report.verdict("c", "p", "o", "maybe")
    with pytest.raises(ValueError, match="ours"):
        report.verdict("c", "p", "a | b", "holds")
