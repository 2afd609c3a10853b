"""gitscore.claims: the verdict rule on constructed intervals (every outcome, the edges, both directions), the
control rule, the tally's separation of the paper's claims from ours, and the registry's integrity."""
import dataclasses
import math

import pytest

from gitscore import claims as C
from gitscore.stats import Interval, point


def _claim(direction="<", threshold=0.02, origin=0.0, models=("a", "b"), beyond=False, **kw):
    return C.Claim("test_claim", "a test claim", "Fig. 0", "00_test", "stat", "a statistic", direction, threshold,
                   "a reason", models, "a control", "why it must fail", origin=origin, beyond_paper=beyond, **kw)


def iv(lo, hi, est=None):
    return Interval((lo + hi) / 2 if est is None else est, lo, hi)


LT, GT = _claim("<", 0.02), _claim(">", 1.0, origin=1.0)


@pytest.mark.parametrize("claim, interval, expected", [
    (LT, iv(0.005, 0.015), C.CLEARS),
    (LT, iv(0.015, 0.025), C.STRADDLES),
    (LT, iv(0.025, 0.035), C.WRONG_SIDE),
    (LT, iv(0.01, 0.02), C.STRADDLES),      # ends exactly on the threshold: does not clear it
    (LT, iv(0.02, 0.03), C.WRONG_SIDE),     # starts on it: no point satisfies stat < 0.02
    (LT, point(0.02), C.WRONG_SIDE),
    (GT, iv(1.2, 1.6), C.CLEARS),
    (GT, iv(0.8, 1.2), C.STRADDLES),
    (GT, iv(0.1, 0.9), C.WRONG_SIDE),
    (GT, iv(1.0, 1.3), C.STRADDLES),        # starts on the threshold: does not clear stat > 1
    (GT, iv(0.7, 1.0), C.WRONG_SIDE),
    (GT, point(1.0), C.WRONG_SIDE),
])
def test_side_of_the_threshold(claim, interval, expected):
    assert C.side(claim, interval) == expected


@pytest.mark.parametrize("a, b, word", [
    (iv(0.00, 0.01), iv(0.01, 0.015), C.HOLDS),
    (iv(0.00, 0.01), iv(0.01, 0.03), C.HOLDS_ON_SOME),
    (iv(0.00, 0.01), iv(0.03, 0.04), C.HOLDS_ON_SOME),
    (iv(0.01, 0.03), iv(0.03, 0.04), C.NOT_DECIDED),
    (iv(0.01, 0.03), iv(0.015, 0.025), C.NOT_DECIDED),
    (iv(0.02, 0.03), iv(0.03, 0.04), C.DOES_NOT_HOLD),
])
def test_the_rule_on_constructed_intervals(a, b, word):
    v = C.verdict(LT, {"a": a, "b": b})
    assert v.word == v.rule_word == word and "no control run" in v.text


def test_holds_on_some_says_which():
    v = C.verdict(LT, {"a": iv(0.0, 0.01), "b": iv(0.01, 0.03)})
    assert v.models_on(C.CLEARS) == ["a"] and v.models_on(C.STRADDLES) == ["b"]
    assert "holds on a" in v.text and "not decided on b" in v.text
    v = C.verdict(GT, {"a": iv(1.1, 1.5), "b": iv(0.2, 0.5)})
    assert v.word == C.HOLDS_ON_SOME and "does not hold on b" in v.text


def test_results_must_match_the_models():
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        C.verdict(LT, {"a": iv(0, 0.01)})
    with pytest.raises(ValueError, match="unknown \\['c'\\]"):
        C.verdict(LT, {"a": iv(0, 0.01), "b": iv(0, 0.01), "c": iv(0, 0.01)})
    with pytest.raises(TypeError, match="Interval"):
        C.verdict(LT, {"a": (0, 0.01), "b": iv(0, 0.01)})


def test_control_that_fails_by_far_is_separable():
    real = {"a": iv(0.004, 0.006, 0.005), "b": iv(0.006, 0.008, 0.0075)}
    ctrl = C.check_control(LT, iv(0.03, 0.04, 0.035), real)
    assert ctrl.fails and ctrl.separable and ctrl.word == C.CONTROL_FAILS
    assert ctrl.separation == pytest.approx(0.035 / 0.0075) and ctrl.closest == "b" and ctrl.margin == "x4.7"
    v = C.verdict(LT, real, control=iv(0.03, 0.04, 0.035))
    assert v.word == C.HOLDS and "separation x4.7" in v.text


def test_control_that_passes_makes_the_claim_not_separable():
    real = {"a": iv(0.004, 0.006), "b": iv(0.006, 0.008)}
    ctrl = C.check_control(LT, iv(0.01, 0.015), real)      # the control passes the claim too
    assert not ctrl.fails and ctrl.word == C.NOT_SEPARABLE
    v = C.verdict(LT, real, control=iv(0.01, 0.015))
    assert v.word == C.NOT_SEPARABLE and v.rule_word == C.HOLDS and "by the intervals alone: holds" in v.text


def test_control_that_fails_by_less_than_two_is_not_separable():
    real = {"a": iv(0.014, 0.016, 0.015), "b": iv(0.01, 0.012, 0.011)}
    ctrl = C.check_control(LT, iv(0.022, 0.026, 0.024), real)  # wrong side, but only 1.6x the worst real model
    assert ctrl.fails and ctrl.separation == pytest.approx(1.6) and ctrl.word == C.NOT_SEPARABLE
    assert C.verdict(LT, real, control=iv(0.022, 0.026, 0.024)).word == C.NOT_SEPARABLE


def test_control_does_not_turn_a_negative_verdict():
    real = {"a": iv(0.03, 0.04), "b": iv(0.03, 0.05)}
    v = C.verdict(LT, real, control=iv(0.01, 0.015))
    assert v.word == C.DOES_NOT_HOLD and v.control.word == C.NOT_SEPARABLE


def test_separation_of_an_effect_measured_from_the_origin():
    gain = _claim("<", 0.0, origin=0.0, models=("NFE 5",), percent=True)  # a change: 0 = no effect
    real = {"NFE 5": iv(-0.42, -0.34, -0.38)}
    assert C.check_control(gain, iv(-0.1, 0.3, 0.1), real).separation == math.inf  # control has no effect
    weak = C.check_control(gain, iv(-0.25, -0.15, -0.2), real)  # control gains too: not on the wrong side
    assert weak.separation == pytest.approx(1.9) and weak.word == C.NOT_SEPARABLE
    assert C.verdict(gain, real).word == C.HOLDS and "-38.0 %" in C.table([C.verdict(gain, real)])[0]["interval"]
    # '>' with the origin at the threshold (a ratio above one): control below one is infinitely separated
    assert C.check_control(GT, iv(-0.1, 0.1, 0.0), {"a": iv(1.4, 1.8, 1.6)}).word == C.CONTROL_FAILS
    # '>' with the origin on the claim's side (a fraction whose ideal is 1): distance from the ideal
    frac = _claim(">", 0.9, origin=1.0, models=("a",))
    assert C.check_control(frac, iv(0.4, 0.6, 0.5), {"a": iv(0.97, 0.99, 0.98)}).separation == pytest.approx(25)


def test_tally_never_counts_beyond_paper_with_the_papers():
    ours = dataclasses.replace(_claim("<", 0.02, beyond=True), id="ours", text="our claim")
    vs = [C.verdict(LT, {"a": iv(0, 0.01), "b": iv(0, 0.01)}),
          C.verdict(ours, {"a": iv(0, 0.01), "b": iv(0, 0.01)}),
          C.verdict(ours, {"a": iv(0.03, 0.04), "b": iv(0.03, 0.04)})]
    t = C.tally(vs)
    assert t["paper"][C.HOLDS] == 1 and sum(t["paper"].values()) == 1
    assert t["beyond_paper"] == {**dict.fromkeys(C.VERDICTS, 0), C.HOLDS: 1, C.DOES_NOT_HOLD: 1}
    paper_rows, our_rows = C.table(vs), C.table(vs, beyond_paper=True)
    assert len(paper_rows) == 2 and len(our_rows) == 4
    assert {r["claim"] for r in paper_rows} == {"a test claim [test_claim]"}
    assert {r["claim"] for r in our_rows} == {"our claim [ours]"}
    assert all(set(r) == set(C.COLUMNS) for r in paper_rows + our_rows)


def test_table_rows_and_markdown():
    c = C.get("gits_fd_euler")
    res = {m: Interval(-0.38, -0.42, -0.34, n_seeds=5, n_samples=10000) for m in c.models}
    v = C.verdict(c, res, control=Interval(0.05, 0.01, 0.12, n_seeds=5, n_samples=10000))
    rows = C.table([v])
    assert [r["model"] for r in rows] == list(c.models) and rows[0]["verdict"] == C.HOLDS
    assert rows[0]["paper"] == "-43.5 %" and rows[0]["threshold"] == "< 0 %" and "5 seeds" in rows[0]["interval"]
    assert rows[0]["control value"] == "+5.0 %" and rows[0]["separation"] == "x inf"
    md = C.markdown(rows)
    assert md.count("\n") == len(rows) + 1 and md.startswith("| claim | source |")


def test_verdict_words_are_the_modules_constants():
    assert len(set(C.VERDICTS)) == 5 and C.NOT_SEPARABLE in C.VERDICTS
    assert C.tally([])["paper"] == dict.fromkeys(C.VERDICTS, 0)


# ---------------------------------------------------------------- the registry

def test_registry_integrity():
    ids = [c.id for c in C.REGISTRY.values()]
    assert len(ids) == len(set(ids)) and all(C.get(i).id == i for i in ids)
    for c in C.REGISTRY.values():
        assert c.direction in C.DIRECTIONS and isinstance(c.threshold, (int, float)) and math.isfinite(c.threshold)
        assert c.source and c.justification and c.control and c.control_reason and c.definition and c.models
        assert isinstance(c.beyond_paper, bool) and c.chapter[:2].isdigit()
        assert all(m in c.models for m, _ in c.paper_values)
    paper = [c for c in C.REGISTRY.values() if not c.beyond_paper]
    assert {"gits_fd_euler", "gits_fd_ipndm", "ipndm_gits_best"} <= {c.id for c in paper}
    assert C.get("gits_ref_error").beyond_paper and not C.get("regularity_deviation").beyond_paper


def test_registry_paper_numbers_are_the_papers():
    euler = dict(C.get("gits_fd_euler").paper_values)
    assert [round(100 * v) for v in euler.values()] == [-44, -41, -40, -34]
    ipndm = dict(C.get("gits_fd_ipndm").paper_values)
    assert [round(100 * v) for v in ipndm.values()] == [-38, -31, -12, -10]


def test_registry_controls_fail_on_the_papers_numbers():
    # On the paper's own CIFAR-10 numbers, Euler + GITS (the control of ipndm_gits_best) loses to the best
    # other solver at every NFE, while iPNDM + GITS wins: the claim is separable by its control there.
    c = C.get("ipndm_gits_best")
    others = [C.PAPER_FID[s, "polynomial"] for s in ("dpmpp3m", "unipc", "deis")]
    for k, m in enumerate(c.models):
        best = min(o[k] for o in others)
        real = point(C.PAPER_FID["ipndm", "gits"][k] / best - 1)
        control = point(C.PAPER_FID["euler", "gits"][k] / best - 1)
        assert C.verdict(c, {**{mm: real for mm in c.models}}, control=control).word == C.HOLDS
        assert C.check_control(c, control, {m: real}).word == C.CONTROL_FAILS


@pytest.mark.parametrize("change, match", [
    ({"direction": "<="}, "direction"),
    ({"threshold": "0.1"}, "threshold"),
    ({"threshold": float("nan")}, "threshold"),
    ({"models": ()}, "models"),
    ({"models": ("a", "a")}, "models"),
    ({"control": ""}, "control"),
    ({"justification": " "}, "justification"),
    ({"beyond_paper": 1}, "beyond_paper"),
    ({"paper_values": (("z", 1.0),)}, "paper_values"),
])
def test_bad_claims_are_refused(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(LT, **change)


def test_claims_are_frozen_and_hashable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        LT.threshold = 1.0
    assert len({C.get("gits_fd_euler"), C.get("gits_fd_euler")}) == 1


def test_null_model_fails_the_deviation_claim_on_a_small_case():
    """A small run of the Fig. 2 statistic: the exact Gaussian denoiser clears the registered threshold, the null
    model (an unrelated data point at every step) is on the wrong side, separated by more than 2x."""
    import torch

    import gitscore as gs
    from gitscore import stats

    g = torch.Generator().manual_seed(0)
    var = 100 * torch.linspace(0.2, 2.0, 16, dtype=torch.float64).reshape(1, 4, 4)
    gauss = gs.denoisers.GaussianDenoiser(torch.zeros(1, 4, 4), var)
    null = gs.controls.NullDenoiser(var.sqrt() * torch.randn(64, 1, 4, 4, generator=g, dtype=torch.float64))
    x = 80 * torch.randn(16, 1, 4, 4, generator=g, dtype=torch.float64)
    sigmas = gs.schedules.polynomial(18, 0.002, 80.0)

    def ratios(den):
        tr = gs.trajectory.record(gs.solvers.sample_euler, den, x, sigmas)
        return gs.trajectory.deviation(tr).amax(1) / gs.trajectory.sample_distance(tr).amax(1)

    claim = dataclasses.replace(C.get("regularity_deviation"), models=("Gaussian 4x4",))
    v = C.verdict(claim, {"Gaussian 4x4": stats.bootstrap(ratios(gauss), n_boot=500)},
                  control=stats.bootstrap(ratios(null), n_boot=500))
    assert v.word == C.HOLDS and v.control.fails and v.control.separation > 2, v.text


def test_known_non_separable_cases_of_the_book():
    # Numbers quoted in issue 23: the null model's length ratio 1.032 passes "within 10 % of sigma_T sqrt(d)"
    length = C.get("meanshift_length")
    real = {m: point(0.01) for m in length.models}
    v = C.verdict(length, real, control=point(abs(1.032 - 1)))
    assert v.rule_word == C.HOLDS and v.word == C.NOT_SEPARABLE and not v.control.fails
    # the PC-plane spread (null 0.23 under the old threshold 0.3) would not separate either
    pc = dataclasses.replace(LT, threshold=0.3)
    assert C.check_control(pc, point(0.23), {"a": point(0.1)}).word == C.NOT_SEPARABLE


def test_evaluate_by_id_and_as_dict():
    import numpy as np
    rng = np.random.default_rng(0)
    c = C.get("regularity_deviation")
    vals = {m: 0.005 + 0.001 * rng.random(30) for m in c.models}
    v = C.evaluate("regularity_deviation", vals, control=0.035 + 0.005 * rng.random(30), n_boot=200)
    assert v.word == C.HOLDS and v.control.separable and v.claim is c
    row = v.as_dict()
    assert row["verdict"] == C.HOLDS and row["anchor"] == "regularity-deviation" and row["beyond_paper"] is False
    assert "|" not in row["ours"] and "30 samples" in row["ours"]
    with pytest.raises(KeyError, match="no claim"):
        C.verdict("no_such_claim", {})


def test_control_per_model():
    gain = _claim("<", 0.0, models=("NFE 5", "NFE 10"), percent=True)
    real = {"NFE 5": iv(-0.42, -0.34, -0.38), "NFE 10": iv(-0.2, -0.1, -0.15)}
    ctrl = {"NFE 5": iv(0.01, 0.1, 0.05), "NFE 10": iv(0.01, 0.05, 0.03)}
    check = C.check_control(gain, ctrl, real)
    assert check.fails and check.separable and check.interval == ctrl["NFE 5"]
    ctrl["NFE 10"] = iv(-0.1, -0.06, -0.08)    # the control gains at NFE 10: 0.15 / 0.08 < 2, and passes there
    check = C.check_control(gain, ctrl, real)
    assert not check.fails and check.closest == "NFE 10" and check.word == C.NOT_SEPARABLE
    assert C.verdict(gain, real, control=ctrl).word == C.NOT_SEPARABLE
    with pytest.raises(ValueError, match="one per real model"):
        C.check_control(gain, {"NFE 5": ctrl["NFE 5"]}, real)


def test_control_is_set_against_the_models_where_the_claim_holds():
    # holds on "a" only: "b" (wrong side) has no effect for the control to be separated from
    real = {"a": iv(1.8, 2.2, 2.0), "b": iv(0.2, 0.4, 0.3)}
    ctrl = C.check_control(GT, iv(0.0, 0.1, 0.05), real)
    assert ctrl.closest == "a" and ctrl.separable and ctrl.word == C.CONTROL_FAILS
    v = C.verdict(GT, real, control=iv(0.0, 0.1, 0.05))
    assert v.word == C.HOLDS_ON_SOME
    # none clears: every model is compared, as before
    none = {"a": iv(0.8, 0.9), "b": iv(0.2, 0.4)}
    assert C.check_control(GT, iv(0.0, 0.1, 0.05), none).closest in none


def test_cells_verdict_maps_cells_to_the_claims_models():
    from gitscore.stats import Interval
    neg, pos = Interval(-0.3, -0.4, -0.2), Interval(0.5, 0.3, 0.7)
    cells = {(s, n): neg for s in ("euler", "dpmpp", "unipc", "deis") for n in (5, 6, 8, 10)}
    ctl = dict.fromkeys(cells, pos)
    v = C.cells_verdict("gits_fd_euler", cells, ctl, solver="euler")
    assert v.word == C.HOLDS and [m for m, _ in v.intervals] == list(C.get("gits_fd_euler").models)
    # the same as verdict() on the models named by hand
    by_hand = C.verdict("gits_fd_euler", {m: neg for m in C.get("gits_fd_euler").models},
                        control={m: pos for m in C.get("gits_fd_euler").models})
    assert (v.word, v.sides) == (by_hand.word, by_hand.sides)
    # several solvers in the model names, the registry's 'dpmpp3m' read as the bench's 'dpmpp'
    cells["unipc", 8] = pos
    v = C.cells_verdict("gits_fd_other_solvers", cells, ctl, aliases={"dpmpp3m": "dpmpp"})
    assert v.word == C.HOLDS_ON_SOME and v.models_on(C.WRONG_SIDE) == ["fmnist_edm unipc NFE 8"]
    with pytest.raises(ValueError, match="pass solver="):
        C.cells_verdict("gits_fd_euler", cells)
    with pytest.raises(ValueError, match="missing \\[\\('dpmpp3m', 5\\)"):
        C.cells_verdict("gits_fd_other_solvers", cells)
    with pytest.raises(ValueError, match="not a cell"):
        C.cells_verdict("network_beats_mean", cells, solver="euler")
