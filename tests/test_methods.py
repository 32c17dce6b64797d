"""Methods: training sets, k-fold scoring without leakage, CATHODE samples, ANODE ratios."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from anode_cathode.data.regions import Window
from anode_cathode.methods import cathode, cwola, fit_and_score, idealized, supervised
from anode_cathode.methods.anode import (
    OUTSIDE_SUPPORT,
    density_ratio,
    flow_training_data,
    score_seeds,
    score_tables,
)

SR = Window(3.3, 3.7, strip=0.2)
FEATURES = ["mj1", "delta_mj", "tau21j1", "tau21j2"]


def _tables(toy_events, toy_extra, folds=3, seed=0):
    rng = np.random.default_rng(seed)
    data = toy_events[toy_events.label == 0].copy()
    data = pd.concat([data, toy_events[toy_events.label == 1].iloc[:200]], ignore_index=True)
    data["fold"] = rng.integers(0, folds, len(data))
    sig = toy_events[(toy_events.label == 1) & SR.in_sr(toy_events.mjj.to_numpy())].iloc[200:]
    half = len(toy_extra) // 2
    test = pd.concat([toy_extra.iloc[:half], sig.iloc[: len(sig) // 2]], ignore_index=True)
    return {
        "data": data,
        "extra_train": toy_extra.iloc[half:].reset_index(drop=True),
        "signal_train": sig.iloc[len(sig) // 2 :].reset_index(drop=True),
        "test": test,
    }


class Spy:
    """Records the event ids it trained on; scores = event id so the scorer is traceable."""

    trained: ClassVar[list[set[float]]] = []

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X, y, sample_weight=None):
        self.ids = set(X[:, 0])
        Spy.trained.append(self.ids)
        self.n = len(Spy.trained) - 1
        return self

    def predict_proba(self, X):
        # score = index of the model, so the test can tell which model scored an event
        p = np.full(len(X), self.n / 100)
        return np.c_[1 - p, p]


def test_kfold_data_scores_come_from_models_that_never_saw_the_event(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra, folds=3)
    Spy.trained = []
    out, info = fit_and_score("idealized", tables, SR, ["eid", "mj1"], Spy, folds=3, seed=0)
    assert len(Spy.trained) == 3 and len(info["models"]) == 3
    data = out["data"]
    eid = tables["data"]["eid"].to_numpy()
    for f in range(3):
        model = round(data.loc[data.fold == f, "score"].iloc[0] * 100)
        assert (data.loc[data.fold == f, "score"] == model / 100).all()
        scored_ids = set(eid[tables["data"]["fold"].to_numpy() == f])
        assert not scored_ids & Spy.trained[model]  # the scorer never trained on its events
    # the test set is scored by the mean of all fold models, none of which saw it
    assert not set(tables["test"]["eid"]) & set().union(*Spy.trained)
    assert out["test"]["score"].iloc[0] == pytest.approx(np.mean([0, 1, 2]) / 100)


def test_single_fold_gives_no_data_scores_for_data_trained_methods(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra, folds=1)
    tables["data"]["fold"] = 0
    Spy.trained = []
    out, _ = fit_and_score("cwola", tables, SR, ["eid", "mj1"], Spy, folds=1, seed=0)
    assert "data" not in out and len(out["test"]) == len(tables["test"])
    out, _ = fit_and_score("supervised", tables, SR, ["eid", "mj1"], Spy, folds=1, seed=0)
    assert "data" in out  # trained on simulation only: every data event can be scored


@pytest.mark.parametrize(("method", "folds"), [("supervised", 1), ("cwola", 3)])
def test_data_scores_only_when_asked(toy_events, toy_extra, method, folds):
    tables = _tables(toy_events, toy_extra, folds=folds)
    if folds == 1:
        tables["data"]["fold"] = 0
    kw = {"folds": folds, "seed": 0}
    Spy.trained = []
    asked, _ = fit_and_score(method, tables, SR, ["eid", "mj1"], Spy, **kw)
    Spy.trained = []  # the spy's score counts the models trained
    skipped, _ = fit_and_score(method, tables, SR, ["eid", "mj1"], Spy, score_data=False, **kw)
    assert "data" in asked and "data" not in skipped
    # the test scores do not depend on whether the data were scored
    np.testing.assert_array_equal(asked["test"]["score"], skipped["test"]["score"])


def test_training_sets(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra)
    keep = np.ones(len(tables["data"]), bool)
    X, y, w = supervised.training_set(tables, SR, FEATURES, keep)
    assert y.sum() == len(tables["signal_train"]) and w is None
    assert X.shape == (len(y), len(FEATURES))
    _X, y, w = idealized.training_set(tables, SR, FEATURES, keep)
    assert y.sum() == SR.in_sr(tables["data"]["mjj"].to_numpy()).sum()
    assert (1 - y).sum() == len(tables["extra_train"])
    _X, y, w = cwola.training_set(tables, SR, FEATURES, keep, mass_matched=False)
    mjj = tables["data"]["mjj"].to_numpy()
    lower, upper = SR.in_lower_strip(mjj).sum(), SR.in_upper_strip(mjj).sum()
    assert (1 - y).sum() == lower + upper
    sb_w = w[y == 0]
    # without mass matching both strips carry half of the sideband weight
    assert sb_w[:lower].sum() == pytest.approx(sb_w[lower:].sum())
    assert sb_w.sum() == pytest.approx(lower + upper)


def test_cwola_strips_match_the_signal_region_in_mass():
    """A feature that drifts linearly with mjj on a falling spectrum: the mass-matched strips
    have the SR's mean feature, equal halves do not (a trend the classifier would learn)."""
    rng = np.random.default_rng(7)
    mjj = 3.1 + rng.exponential(0.3, 2_000_000)
    mjj = mjj[mjj < 3.9]
    x = 0.1 * mjj + rng.normal(0.0, 0.01, mjj.size)
    data = pd.DataFrame({"mjj": mjj, "x": x})
    keep = np.ones(mjj.size, bool)
    sr_mean = x[SR.in_sr(mjj)].mean()
    shifts = {}
    for matched in (True, False):
        _X, y, w = cwola.training_set({"data": data}, SR, ["x"], keep, mass_matched=matched)
        shifts[matched] = np.average(_X[y == 0, 0], weights=w[y == 0]) - sr_mean
    print(f"\nSB - SR mean feature: {shifts}")
    assert abs(shifts[True]) < 0.05 * abs(shifts[False])
    assert shifts[False] > 0.1 * 0.02  # equal halves sit > 20 GeV above the SR in mass
    lo, up = cwola.strip_shares(
        mjj[SR.in_sr(mjj)], mjj[SR.in_lower_strip(mjj)], mjj[SR.in_upper_strip(mjj)]
    )
    assert lo + up == pytest.approx(1.0) and lo > 0.5  # the SR's events sit low in it
    with pytest.raises(ValueError, match="between"):
        cwola.strip_shares(np.array([4.0]), np.array([3.2]), np.array([3.8]))


def test_cwola_scaled_jet_masses_leave_the_strips_nothing_to_learn():
    """QCD-like jet masses that grow with mjj (m_J = r * m_JJ^0.6, r independent of m_JJ):
    even with mass-matched strips, the strips' mixture is wider in m_J than the SR (its two
    halves sit at different masses), a difference a classifier turns into a band-pass cut that
    selects the SR's mass range; rescaled along the power law the strips show, the SR and the
    mixture agree."""
    rng = np.random.default_rng(3)
    mjj = 3.1 + rng.exponential(0.3, 2_000_000)
    mjj = mjj[mjj < 3.9]
    mj1 = mjj**0.6 * rng.lognormal(np.log(0.05), 0.3, mjj.size)
    data = pd.DataFrame({"mjj": mjj, "mj1": mj1})
    keep = np.ones(mjj.size, bool)
    excess = {}
    for scaled in (False, True):
        X, y, w = cwola.training_set({"data": data}, SR, ["mj1"], keep, scale_masses=scaled)
        sb_var = np.cov(X[y == 0, 0], aweights=w[y == 0])
        excess[scaled] = sb_var / np.var(X[y == 1, 0]) - 1.0
    print(f"\nrelative variance excess of the strips over the SR: {excess}")
    assert excess[False] > 0.01 and abs(excess[True]) < 0.2 * excess[False]
    assert cwola.mass_exponents(data, SR, ["mj1"])["mj1"] == pytest.approx(0.6, abs=0.03)


def test_cwola_scores_every_sample_with_the_inputs_it_trained_on(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra)
    seen: list[np.ndarray] = []

    class Recorder:
        def __init__(self, seed):
            pass

        def fit(self, X, y, sample_weight=None):
            seen.append(X)
            return self

        def predict_proba(self, X):
            seen.append(X)
            return np.c_[np.full(len(X), 0.5), np.full(len(X), 0.5)]

    options = {"mass_matched": True, "scale_masses": True}
    fit_and_score("cwola", tables, SR, FEATURES, Recorder, 3, 0, method_options=options)
    # training, test-set and data inputs alike: m_J1 and delta m_J moved to the SR centre
    # along the power law the window's strips show
    both = pd.concat([tables["data"], tables["test"]])
    exponents = cwola.mass_exponents(tables["data"], SR, FEATURES)
    assert set(exponents) == {"mj1", "delta_mj"} and exponents["mj1"] != 0
    scaled = cwola.feature_matrix(both, FEATURES, exponents, SR.center)[:, :2]
    assert len(seen) == 3 * 3  # per fold: training, test set, the fold's data events
    for X in seen:
        assert np.isin(X[:, :2], scaled).all()
        assert not np.isin(X[:, 0], both["mj1"].to_numpy()).any()


def test_cwola_empty_strip_is_a_clear_error(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra)
    tables["data"] = tables["data"][tables["data"].mjj >= 3.3]
    with pytest.raises(ValueError, match="strip"):
        cwola.training_set(tables, SR, FEATURES, np.ones(len(tables["data"]), bool))


class GaussFlow:
    """Stand-in flow: independent Gaussians, mean shifted by m; exact log density."""

    def __init__(self, shift=0.0, lo=-np.inf, hi=np.inf):
        self.shift, self.lo, self.hi = shift, lo, hi

    def log_prob(self, X, m):
        lp = -0.5 * ((X - self.shift - m[:, None]) ** 2).sum(1) - X.shape[1] * 0.5 * np.log(
            2 * np.pi
        )
        inside = ((X > self.lo) & (X < self.hi)).all(1)
        return np.where(inside, lp, -np.inf)

    def sample(self, m, random_state=None):
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        return m[:, None] + self.shift + rng.standard_normal((len(m), 4))


def test_anode_ratio_and_support_handling():
    X = np.array([[0.0, 0.0], [3.0, 3.0], [9.0, 9.0]])
    m = np.zeros(3)
    sr, sb = GaussFlow(shift=1.0), GaussFlow(hi=5.0)
    score = density_ratio(sr, sb, X, m)
    assert np.isfinite(score).all()
    assert score[1] > score[0]  # closer to the SR density
    # outside either flow's support the ratio is not estimable: below every real score
    assert score[2] == OUTSIDE_SUPPORT < score[:2].min()
    score = density_ratio(GaussFlow(hi=2.0), GaussFlow(), X, m)
    assert score[1] == score[2] == OUTSIDE_SUPPORT and score[0] > OUTSIDE_SUPPORT


def test_anode_scores_data_out_of_fold(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra, folds=2)
    flows_sr = [GaussFlow(shift=0.1), GaussFlow(shift=0.2)]
    flows_sb = [GaussFlow(shift=-0.1), GaussFlow(shift=-0.3)]
    out = score_tables(flows_sb, flows_sr, tables, FEATURES, SR)
    assert len(out["data"]) == len(tables["data"]) and np.isfinite(out["data"]["score"]).all()
    # fold-f events scored with the SR and SB flows of fold f, all at the SR centre
    d = tables["data"]
    for f in range(2):
        sel = (d.fold == f).to_numpy()
        m = np.full(sel.sum(), 3.5)
        expected = density_ratio(flows_sr[f], flows_sb[f], d.loc[sel, FEATURES].to_numpy(), m)
        np.testing.assert_allclose(out["data"]["score"].to_numpy()[sel], expected)
    # the test set gets the mean over the fold pairs, at the SR centre like the data: one
    # score definition, so the SIC curve describes the bump hunt's cut
    t = tables["test"]
    x, m = t[FEATURES].to_numpy(), np.full(len(t), 3.5)
    pairs = zip(flows_sr, flows_sb, strict=True)
    expected = np.mean([density_ratio(r, b, x, m) for r, b in pairs], axis=0)
    np.testing.assert_allclose(out["test"]["score"].to_numpy(), expected)
    np.testing.assert_array_equal(out["test"]["mjj"], t["mjj"])  # the true masses are kept
    # the calibration's spurious-signal sample: fold-f events by pair f, at the SR centre
    spurious = tables["data"].iloc[::3].assign(fold=lambda t: (t.eid.to_numpy() * 7) % 2)
    with_spur = score_tables(flows_sb, flows_sr, {**tables, "spurious": spurious}, FEATURES, SR)
    for f in range(2):
        sel = (spurious.fold == f).to_numpy()
        m = np.full(sel.sum(), 3.5)
        x = spurious.loc[sel, FEATURES].to_numpy()
        expected = density_ratio(flows_sr[f], flows_sb[f], x, m)
        np.testing.assert_allclose(with_spur["spurious"]["score"].to_numpy()[sel], expected)
    np.testing.assert_array_equal(with_spur["data"]["score"], out["data"]["score"])
    # without the bump hunt the data are not scored; the test scores stay the same
    skipped = score_tables(
        flows_sb, flows_sr, {**tables, "spurious": spurious}, FEATURES, SR, score_data=False
    )
    assert "data" not in skipped and "spurious" not in skipped
    np.testing.assert_array_equal(skipped["test"]["score"], out["test"]["score"])


def test_anode_seeds_share_the_sideband_densities(toy_events, toy_extra):
    class Counting(GaussFlow):
        calls = 0

        def log_prob(self, X, m):
            Counting.calls += 1
            return super().log_prob(X, m)

    tables = _tables(toy_events, toy_extra, folds=2)
    flows_sb = [Counting(shift=-0.1), Counting(shift=-0.3)]
    by_seed = [[GaussFlow(shift=0.1), GaussFlow(shift=0.2)], [GaussFlow(shift=0.3)] * 2]
    together = score_seeds(flows_sb, by_seed, tables, FEATURES, SR)
    assert Counting.calls == 2 + 2  # test set by both SB flows, data fold by fold: once
    for flows_sr, out in zip(by_seed, together, strict=True):
        alone = score_tables(flows_sb, flows_sr, tables, FEATURES, SR)
        for name in ("test", "data"):
            pd.testing.assert_frame_equal(out[name], alone[name])


def test_anode_needs_one_sb_flow_per_sr_flow(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra, folds=2)
    with pytest.raises(ValueError, match="one SB flow per SR flow"):
        score_tables([GaussFlow()], [GaussFlow(), GaussFlow()], tables, FEATURES, SR)


@pytest.mark.parametrize("region", ["sb", "sr"])
def test_flows_of_fold_f_never_see_fold_f(toy_events, toy_extra, region):
    data = _tables(toy_events, toy_extra, folds=3)["data"]
    mjj, fold, eid = data.mjj.to_numpy(), data.fold.to_numpy(), data.eid.to_numpy()
    in_region = SR.in_sr(mjj) if region == "sr" else SR.in_sb(mjj)
    for f in range(3):
        X, m = flow_training_data(data, SR, ["mjj", "eid", "mj1"], region, f, folds=3)
        assert X.shape[1] == 2  # mjj is the condition, not a flow input
        assert set(X[:, 0]) == set(eid[in_region & (fold != f)])
        assert (SR.in_sr(m) if region == "sr" else SR.in_sb(m)).all()
    X, _ = flow_training_data(data, SR, ["eid"], region, 0, folds=1)
    assert len(X) == in_region.sum()  # k = 1: every event of the region
    with pytest.raises(ValueError, match="fold 3"):
        flow_training_data(data, SR, ["eid"], region, 3, folds=3)


def test_cathode_model_f_trains_on_the_samples_of_flow_f(toy_events, toy_extra):
    tables = _tables(toy_events, toy_extra, folds=3)
    tables["samples"] = [
        pd.DataFrame({"mjj": 3.5, "eid": 1e7 * (f + 1) + np.arange(50), "mj1": 0.1})
        for f in range(3)
    ]
    Spy.trained = []
    fit_and_score("cathode", tables, SR, ["eid", "mj1"], Spy, folds=3, seed=0)
    for f, ids in enumerate(Spy.trained):
        assert set(tables["samples"][f]["eid"]) <= ids
        others = set().union(*(set(s["eid"]) for g, s in enumerate(tables["samples"]) if g != f))
        assert not ids & others
    tables["samples"] = tables["samples"][:2]
    with pytest.raises(ValueError, match="one per fold"):
        fit_and_score("cathode", tables, SR, ["eid", "mj1"], Spy, folds=3, seed=0)


def test_cathode_samples_follow_the_sr_masses(toy_events):
    data = toy_events[toy_events.label == 0]
    samples = cathode.draw_samples(
        GaussFlow(), data, SR, FEATURES, oversampling=3, bandwidth=0.01, seed=1
    )
    n_sr = SR.in_sr(data.mjj.to_numpy()).sum()
    assert len(samples) == 3 * n_sr
    assert SR.in_sr(samples.mjj.to_numpy()).all()
    assert list(samples.columns) == ["mjj", *FEATURES]
    tables = {"data": data.assign(fold=0), "samples": samples}
    _X, y, _ = cathode.training_set(tables, SR, FEATURES, np.ones(len(data), bool))
    assert (1 - y).sum() == len(samples) and y.sum() == n_sr
