"""Tests of the bump hunt: dijet fits, local/global significance, score cuts, toys, scans,
the pipeline steps and plots."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.stats import kstest, norm

from anode_cathode.bumphunt import toys as toys_module
from anode_cathode.bumphunt.crosscheck import pybumphunter_crosscheck
from anode_cathode.bumphunt.cuts import apply_cut, fold_thresholds, histogram_edges
from anode_cathode.bumphunt.functions import bin_integrals, choose_fit, fit_dijet, predict
from anode_cathode.bumphunt.scan import scan_method
from anode_cathode.bumphunt.scores import mean_data_scores
from anode_cathode.bumphunt.significance import (
    asimov_z,
    count_upcrossings,
    global_pvalue,
    gross_vitells,
    local_significance,
    trials_factor_pvalue,
)
from anode_cathode.bumphunt.toys import background_toys
from anode_cathode.bumphunt.window import CutResult, window_bumphunt
from anode_cathode.data.features import compute_features
from anode_cathode.data.generate import generate_background
from anode_cathode.data.io import write_tables
from anode_cathode.data.regions import Window
from anode_cathode.pipeline.bumphunt import bumphunt_scan, bumphunt_window

EDGES = np.round(np.arange(2.8, 6.5001, 0.1), 6)  # 37 bins of 100 GeV
SR = Window(3.3, 3.7)
TRUTH3 = (1.0, 10.0, 5.0)
TRUTH4 = (1.0, 9.0, 6.0, 0.3)


def _truth_counts(params: tuple[float, ...], n_events: float, edges=EDGES) -> np.ndarray:
    """Expected counts per bin by adaptive quadrature (independent of the fit's integrator)."""
    p0, p1, p2 = params[:3]
    p3 = params[3] if len(params) == 4 else 0.0

    def f(x: float) -> float:
        return p0 * (1 - x) ** p1 / x ** (p2 + p3 * math.log(x))

    mu = np.array([quad(f, a / 13.0, b / 13.0)[0] for a, b in itertools.pairwise(edges)])
    return n_events * mu / mu.sum()


def _sr_mask(window: Window = SR) -> np.ndarray:
    return histogram_edges(window, (EDGES[0], EDGES[-1]), 0.1)[1]


# ------------------------------------------------------------------------------ fits
def test_bin_integrals_match_quadrature():
    mu = bin_integrals(EDGES, TRUTH4)
    ref = np.array(
        [
            quad(lambda x: (1 - x) ** 9 / x ** (6 + 0.3 * math.log(x)), a / 13, b / 13)[0]
            for a, b in itertools.pairwise(EDGES)
        ]
    )
    np.testing.assert_allclose(mu, ref, rtol=1e-8)


@pytest.mark.parametrize("truth", [TRUTH3, TRUTH4], ids=["3par", "4par"])
def test_fit_recovers_known_parameters(truth):
    n_par = len(truth)
    mu = _truth_counts(truth, 2e5)
    mask = ~_sr_mask()
    rng = np.random.default_rng(11)
    pulls = []
    for _ in range(100):
        fit = fit_dijet(EDGES, rng.poisson(mu), mask, n_par)
        assert fit.valid
        true = np.array([math.log(mu[mask].sum()), *truth[1:]])
        pulls.append((fit.params - true) / fit.errors)
    pulls = np.array(pulls)
    print(
        f"first-fit pulls {np.round(pulls[0], 2)}, mean {np.round(pulls.mean(axis=0), 2)}, "
        f"std {np.round(pulls.std(axis=0), 2)}"
    )
    # one fit: every parameter within 3 sigma; ensemble: pulls are standard normal
    assert np.all(np.abs(pulls[0]) < 3.0), pulls[0]
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.35), pulls.mean(axis=0)
    assert np.all((pulls.std(axis=0) > 0.75) & (pulls.std(axis=0) < 1.3)), pulls.std(axis=0)
    # the SR prediction (fit without the SR) agrees with the truth within its error
    b, sigma_b = predict(fit, _sr_mask())
    assert abs(b - mu[_sr_mask()].sum()) < 3 * math.hypot(sigma_b, 1e-9)
    # the physics parameters reproduce the shape and the normalisation of the truth
    phys = fit.physics_params()
    np.testing.assert_allclose(bin_integrals(EDGES, phys), fit.expected, rtol=1e-10)


def test_fit_generator_qcd_spectrum_above_turn_on():
    raw = generate_background(60_000, np.random.default_rng(5), mjj_range=(2.9, 6.6))
    mjj = compute_features(raw)["mjj"].to_numpy()
    edges = np.round(np.arange(3.0, 6.5001, 0.1), 6)
    counts = np.histogram(mjj, edges)[0]
    fit = choose_fit(edges, counts, np.ones(counts.size, bool))
    print(f"generator QCD: {fit.n_params} parameters, gof p {fit.gof_pvalue:.3f}")
    assert fit.valid
    assert fit.gof_pvalue > 0.05, (fit.n_params, fit.gof_pvalue)
    assert 0.0 <= fit.ftest_pvalue <= 1.0


def test_choose_fit_takes_four_parameters_only_when_needed():
    rng = np.random.default_rng(3)
    mask = np.ones(EDGES.size - 1, bool)
    curved = choose_fit(EDGES, rng.poisson(_truth_counts((1.0, 5.0, 8.0, 1.5), 1e6)), mask)
    assert curved.n_params == 4 and curved.ftest_pvalue < 0.05
    plain = choose_fit(EDGES, rng.poisson(_truth_counts(TRUTH3, 1e4)), mask, alpha=0.01)
    assert plain.n_params == 3 and plain.ftest_pvalue >= 0.01


def test_low_statistics_four_parameter_fit_does_not_crash():
    """A 55-event spectrum (0.1 % cut) on which Minuit2 once needed g2 (TypeError before)."""
    counts = np.zeros(EDGES.size - 1)
    counts[:18] = [6, 4, 7, 11, 2, 6, 2, 4, 3, 2, 2, 1, 2, 0, 0, 1, 0, 2]
    mask = np.ones(counts.size, bool)
    mask[1:5] = False
    for n_par in (3, 4):
        fit = fit_dijet(EDGES, counts, mask, n_par)
        assert np.isfinite(fit.deviance) and fit.ndf == 33 - n_par
    fit = choose_fit(EDGES, counts, mask)
    b, sigma_b = predict(fit, ~mask)
    assert b > 0 and sigma_b > 0


# ------------------------------------------------------------------------ significance
def _brute_force_z(n: float, b: float, sigma_b: float) -> float:
    """Z = √q0 from maximising L(s, β) = Poisson(n | s + β) Gauss(b | β, σ_b) numerically.

    Nested bounded 1-d minimisations of -ln L: over β > 0 for fixed s, then over s >= 0 (and
    over β alone at s = 0); σ_b = 0 fixes β = b.
    """

    def nll(s: float, beta: float) -> float:
        mu = s + beta
        value = mu - (n * math.log(mu) if n > 0 else 0.0)
        return value + (0.5 * ((b - beta) / sigma_b) ** 2 if sigma_b > 0 else 0.0)

    def profile(s: float) -> float:
        if sigma_b == 0:
            return nll(s, b)
        hi = n + b + 10 * sigma_b + 10
        best = minimize_scalar(
            lambda beta: nll(s, beta),
            bounds=(1e-12, hi),
            method="bounded",
            options={"xatol": 1e-12},
        )
        return best.fun

    free = minimize_scalar(
        profile, bounds=(0.0, n + 10 * sigma_b + 10), method="bounded", options={"xatol": 1e-10}
    )
    at_zero = profile(0.0)
    # bounded Brent never evaluates the bound s = 0 itself: the best of both is the maximum
    q0 = 2.0 * (at_zero - min(free.fun, at_zero))
    return math.sqrt(q0)


@pytest.mark.parametrize(
    "n,b,sigma_b",
    [
        (130, 100.0, 0.0),
        (6, 1.0, 0.0),
        (3.5, 0.5, 0.0),
        (130, 100.0, 5.0),
        (12, 3.0, 2.5),
        (5, 0.2, 1.0),
        (1050, 1000.0, 30.0),
        (40, 10.0, 8.0),
        (80, 100.0, 3.0),  # deficit: s >= 0 puts the maximum at s = 0, Z = 0
        (0, 5.0, 1.0),
    ],
)
def test_local_significance_matches_brute_force_profile_likelihood(n, b, sigma_b):
    z_ref = _brute_force_z(n, b, sigma_b)
    z, p = local_significance(n, b, sigma_b)
    print(f"n={n} b={b}±{sigma_b}: Z {z:.6f}, brute force {z_ref:.6f}")
    assert z == pytest.approx(z_ref, rel=1e-4, abs=1e-4)
    assert p == pytest.approx(norm.sf(z))
    if sigma_b == 0:  # the Asimov formula is the same likelihood ratio at n = s + b
        assert asimov_z(n - b, b) == pytest.approx(z_ref, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("n,b,sigma", [(130, 100.0, 5.0), (12, 3.0, 2.5), (5, 0.2, 1.0)])
def test_local_significance_profiles_the_background(n, b, sigma):
    def nll(beta: float) -> float:
        return -(n * math.log(beta) - beta) + 0.5 * ((b - beta) / sigma) ** 2

    best = minimize_scalar(nll, bounds=(1e-9, 10 * n), method="bounded", options={"xatol": 1e-12})
    q0 = 2 * (best.fun - (n - n * math.log(n)))
    z, _ = local_significance(n, b, sigma)
    assert z == pytest.approx(math.sqrt(q0), rel=1e-4)
    assert z < local_significance(n, b, 0.0)[0]  # the uncertainty lowers Z


def test_local_significance_edge_cases():
    assert local_significance(0, 5.0, 1.0) == (0.0, 0.5)
    assert local_significance(80, 100.0, 3.0) == (0.0, 0.5)
    z, p = local_significance(80, 100.0, 0.0, signed=True)
    assert z < 0 and p > 0.5
    assert local_significance(0, 5.0, 0.0, signed=True)[0] == pytest.approx(-math.sqrt(10.0))
    for bad in [(10, 0.0, 1.0), (10, -1.0, 1.0), (10, 5.0, -1.0), (math.nan, 5.0, 1.0)]:
        with pytest.raises(ValueError):
            local_significance(*bad)
    assert asimov_z(0.0, 10.0) == 0.0


# -------------------------------------------------------------------- injected bump scan
@pytest.fixture(scope="module")
def bump_data():
    """Generator QCD (60k events) + 300 Gaussian signal events at 3.5 TeV with high scores."""
    rng = np.random.default_rng(7)
    bkg = compute_features(generate_background(60_000, rng, mjj_range=(2.75, 6.6)))["mjj"]
    sig = rng.normal(3.5, 0.1, 300)
    mjj = np.concatenate([bkg.to_numpy(), sig])
    score = np.concatenate([rng.random(bkg.size), rng.uniform(0.9, 1.0, sig.size)])
    fold = rng.integers(0, 5, mjj.size)
    scan = {}
    for lo in (2.9, 3.3, 3.7, 4.1, 4.5, 4.9):
        window = Window(lo, round(lo + 0.4, 6))
        scan[lo] = window_bumphunt(mjj, score, fold, window, (2.9, 6.5), 0.1, (1.0, 0.1, 0.01))
    return scan


def test_injected_bump_is_found_without_sculpting(bump_data):
    for lo, results in bump_data.items():
        print(lo, [(r.efficiency, round(r.z_signed, 2), r.n_params) for r in results])
    best = max(r.z for r in bump_data[3.3])
    assert best >= 3.0
    assert bump_data[3.3][1].z >= 3.0  # keep 10 %: the signal survives, most QCD does not
    for lo in (4.1, 4.5, 4.9):  # windows whose SR lies >= 0.4 TeV from the bump
        for res in bump_data[lo]:
            # no sculpted excess; a deficit is possible where the bump sits in the sideband
            assert res.z_signed < 3.0, (lo, res.efficiency, res.z_signed)
    res = bump_data[3.3][1]
    assert res.edges[0] == pytest.approx(2.9) and res.edges[-1] == pytest.approx(6.5)
    assert sum(res.sr_mask) == 4 and not any(np.asarray(res.fit_mask) & res.sr_mask)


def test_cut_result_is_json_serialisable(bump_data):
    res = bump_data[3.3][0]
    text = json.dumps(res.to_dict(), allow_nan=False)
    back = CutResult.from_dict(json.loads(text))
    assert back.to_dict() == res.to_dict()
    assert back.thresholds == res.thresholds and back.window == res.window
    assert res.thresholds[0] == (-math.inf, -math.inf)  # efficiency 1: no cut
    # results written before the tie-break keys stored a bare score threshold: ties pass
    old = json.loads(text)
    old["thresholds"] = {"0": 0.5}
    assert CutResult.from_dict(old).thresholds == {0: (0.5, -math.inf)}


def test_pybumphunter_crosscheck_finds_the_bump(bump_data):
    res = bump_data[3.3][1]
    state = np.random.get_state()  # noqa: NPY002
    bh = pybumphunter_crosscheck(res.edges, res.counts, res.expected, npe=300, width_max=8)
    assert np.all(np.random.get_state()[1] == state[1])  # noqa: NPY002
    print(bh)
    assert 3.2 <= bh.lo < 3.5 < bh.hi <= 3.9
    assert bh.local_z > 3.0 and bh.n_obs > bh.n_ref
    assert bh.global_pvalue <= 0.05


# ------------------------------------------------------------------------ bad inputs
def test_bad_fits_raise_clear_errors():
    mu = _truth_counts(TRUTH3, 1e4)
    few = np.zeros(mu.size, bool)
    few[:4] = True
    with pytest.raises(ValueError, match="fit bins"):
        fit_dijet(EDGES, mu, few, 3)
    with pytest.raises(ValueError, match="no events"):
        fit_dijet(EDGES, np.zeros(mu.size), np.ones(mu.size, bool))
    with pytest.raises(ValueError, match="no events"):
        choose_fit(EDGES, np.zeros(mu.size), np.ones(mu.size, bool))
    bad = mu.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_dijet(EDGES, bad, np.ones(mu.size, bool))
    with pytest.raises(ValueError, match="NaN"):
        fit_dijet(np.where(EDGES > 6, np.inf, EDGES), mu, np.ones(mu.size, bool))
    with pytest.raises(ValueError, match="TeV"):
        fit_dijet(EDGES * 1000, mu, np.ones(mu.size, bool))
    fit = fit_dijet(EDGES, mu, np.ones(mu.size, bool))
    with pytest.raises(ValueError, match="no bins"):
        predict(fit, np.zeros(mu.size, bool))  # empty window


def test_bad_windows_raise_clear_errors():
    rng = np.random.default_rng(0)
    mjj = rng.uniform(2.8, 4.0, 2000)
    score, fold = rng.random(2000), rng.integers(0, 2, 2000)
    with pytest.raises(ValueError, match="multiple of bin_width"):
        window_bumphunt(mjj, score, fold, Window(3.3, 3.65), (2.8, 6.5), 0.1)
    with pytest.raises(ValueError, match="inside the fit range"):
        window_bumphunt(mjj, score, fold, Window(6.4, 6.8), (2.8, 6.5), 0.1)
    with pytest.raises(ValueError, match=r"sr3300-3700, efficiency 1e-05: no events"):
        window_bumphunt(mjj, score, fold, SR, (2.8, 6.5), 0.1, (1e-5,))
    with pytest.raises(ValueError, match="NaN"):
        window_bumphunt(np.append(mjj[:-1], np.nan), score, fold, SR, (2.8, 6.5), 0.1)


def test_fit_range_in_trigger_turn_on_warns():
    raw = generate_background(20_000, np.random.default_rng(0), mjj_range=(2.0, 6.6))
    mjj = compute_features(raw)["mjj"].to_numpy()
    score, fold = np.zeros(mjj.size), np.zeros(mjj.size, int)
    with pytest.warns(UserWarning, match="turn-on"):
        window_bumphunt(mjj, score, fold, SR, (2.3, 6.5), 0.1, (1.0,))


# ------------------------------------------------------------------------ score cuts
def test_fold_thresholds_keep_the_requested_fraction_per_fold():
    rng = np.random.default_rng(1)
    fold = rng.integers(0, 4, 20_000)
    score = rng.normal(size=fold.size) + 3.0 * fold  # folds have differently scaled models
    select = rng.random(fold.size) < 0.8
    for eff in (0.5, 0.1, 0.01, 0.001):
        thr = fold_thresholds(score, fold, eff, select)
        keep = apply_cut(score, fold, thr)
        for k in range(4):
            n_k = np.sum((fold == k) & select)
            assert np.sum(keep & (fold == k) & select) == round(eff * n_k)
    all_kept = apply_cut(score, fold, fold_thresholds(score, fold, 1.0, select))
    assert all_kept.all()
    with pytest.raises(ValueError, match="efficiency"):
        fold_thresholds(score, fold, 0.0)
    with pytest.raises(ValueError, match="keys"):
        fold_thresholds(score, fold, 0.5, keys=np.zeros(3))
    with pytest.raises(ValueError, match="finite score"):
        fold_thresholds(np.append(score[:-1], np.nan), fold, 0.5)


def test_tied_scores_keep_exactly_the_nominal_fraction():
    # a boosted tree gives many events the same score: a plain score >= threshold cut would
    # keep every tied event at the threshold (here 40 % of the fold instead of 10 %)
    rng = np.random.default_rng(2)
    score = rng.choice([0.1, 0.5, 0.9], size=30_000, p=[0.6, 0.35, 0.05])
    fold = rng.integers(0, 3, score.size)
    for eff in (0.1, 0.01, 0.001):
        thr = fold_thresholds(score, fold, eff)
        keep = apply_cut(score, fold, thr)
        for k in range(3):
            assert keep[fold == k].sum() == round(eff * np.sum(fold == k))
        assert np.sum(score >= min(s for s, _ in thr.values())) > 1.5 * keep.sum()
    # on another sample the tied events pass with the probability set on the first one
    other = rng.choice([0.1, 0.5, 0.9], size=300_000, p=[0.6, 0.35, 0.05])
    other_fold = rng.integers(0, 3, other.size)
    thr = fold_thresholds(score, fold, 0.1)
    kept = apply_cut(other, other_fold, thr, keys=rng.random(other.size)).mean()
    assert kept == pytest.approx(0.1, abs=0.005)


# ------------------------------------------------------------------------ global p-value
Density = Callable[[np.ndarray], np.ndarray]


def _qcd_density(m: np.ndarray) -> np.ndarray:
    return (1 - m / 13) ** 10 / (m / 13) ** 5


def _truth4_density(m: np.ndarray) -> np.ndarray:
    """Density in mjj of the 4-parameter truth TRUTH4."""
    x = m / 13
    return (1 - x) ** TRUTH4[1] / x ** (TRUTH4[2] + TRUTH4[3] * np.log(x))


def _sample_mjj(
    rng: np.random.Generator, n_events: int, density: Density = _qcd_density
) -> np.ndarray:
    """Dijet masses in [2.8, 6.5] TeV drawn from ``density`` (inverse of a tabulated CDF)."""
    cdf_edges = np.linspace(2.8, 6.5, 2000)
    dens = density(cdf_edges)
    cdf = np.cumsum(dens) / dens.sum()
    return np.interp(rng.random(n_events), cdf, cdf_edges)


def _smooth_result(
    window: Window, seed: int, density: Density = _qcd_density, n_events: int = 30_000
) -> CutResult:
    """A CutResult of one window for a smooth background-only spectrum (no score cut)."""
    rng = np.random.default_rng(seed)
    mjj = _sample_mjj(rng, n_events, density)
    return window_bumphunt(
        mjj, rng.random(mjj.size), np.zeros(mjj.size, int), window, (2.8, 6.5), 0.1, (1.0,)
    )[0]


def test_global_pvalue_of_one_window_equals_local():
    toys = background_toys([_smooth_result(SR, 1)], 2000, np.random.default_rng(3), refit="same")
    assert toys.z.shape == (2000, 1) and toys.n_failed == 0
    for z in (1.0, 1.5, 2.0):
        g = global_pvalue(z, toys.max_z)
        print(f"one window, Z = {z}: global {g}, local {norm.sf(z):.4f}")
        assert not g.upper_limit
        assert abs(g.p - norm.sf(z)) < 3 * g.uncertainty + 1e-3, (z, g)


def test_background_only_toys_calibrate_local_and_global_pvalues():
    """One set of toys, the full procedure (F-test choice, SR-excluded fit, prediction, Z):
    local p-values are uniform, the global p-value follows the trials factor."""
    results = [
        _smooth_result(Window(lo, round(lo + 0.4, 6)), 2, _truth4_density, 50_000)
        for lo in (3.3, 4.1, 4.9)
    ]
    toys = background_toys(results, 300, np.random.default_rng(4))
    assert toys.z.shape == (300, 3) and toys.n_failed == 0
    # local: half the toys are deficits (Z = 0); excesses have p0 uniform on (0, 0.5)
    z = toys.z.ravel()
    assert 0.4 < np.mean(z > 0) < 0.6
    ks = kstest(2 * norm.sf(z[z > 0]), "uniform").pvalue
    print(f"KS p-value of {np.sum(z > 0)} local p-values of excesses: {ks:.3f}")
    assert ks > 0.01
    # global
    g = global_pvalue(1.5, toys.max_z)
    expected = trials_factor_pvalue(norm.sf(1.5), 3)  # independent windows, as the toys
    print(f"three windows, Z = 1.5: global {g}, expected {expected:.4f}")
    assert abs(g.p - expected) < 3 * g.uncertainty, g
    assert g.p > norm.sf(1.5)
    none = global_pvalue(10.0, toys.max_z)
    assert none.upper_limit and none.n_exceed == 0 and math.isnan(none.uncertainty)
    assert none.p == pytest.approx(1 - 0.05 ** (1 / 300)) and 0 < none.p < 0.011
    assert "p <" in str(none) and none.z > 2.3
    with pytest.raises(ValueError):
        global_pvalue(1.0, [math.nan])


# ------------------------------------------------------------------------ failed toy fits
def _flaky_toy_refits(monkeypatch: pytest.MonkeyPatch, every: int) -> None:
    """Make every ``every``-th toy refit fail; the nominal fits are left alone."""
    calls = itertools.count()

    def flaky(real):
        def fit(*args, **kwargs):
            if next(calls) % every == 0:
                raise ValueError("fake toy fit failure")
            return real(*args, **kwargs)

        return fit

    # the toys refit with the F-test choice or with the configured function
    for name in ("choose_fit", "fit_dijet"):
        monkeypatch.setattr(toys_module, name, flaky(getattr(toys_module, name)))


def test_more_than_five_percent_failed_toy_fits_raise(monkeypatch):
    results = [_smooth_result(Window(lo, round(lo + 0.4, 6)), 5) for lo in (3.3, 4.1)]
    _flaky_toy_refits(monkeypatch, every=10)  # 4 of 40 toys per window: 10 %
    with pytest.raises(
        ValueError, match=r"cathode \(bdt\), keep 1: window sr3300-3700: 4 of 40 background-only"
    ):
        scan_method("cathode", "bdt", results, [], [1.0], n_toys=40, seed=0, pybumphunter=False)


def test_trials_factor_pvalue():
    assert trials_factor_pvalue(0.01, 1) == pytest.approx(0.01)
    assert trials_factor_pvalue(0.1, 3) == pytest.approx(1 - 0.9**3)
    assert trials_factor_pvalue(0.0, 7) == 0.0 and trials_factor_pvalue(1.0, 7) == 1.0
    # a 7-sigma local excess in 7 windows: 1 - (1 - p)^7 in floating point would lose digits
    p = norm.sf(7.0)
    assert trials_factor_pvalue(p, 7) == pytest.approx(7 * p, rel=1e-9)
    assert 6.5 < norm.isf(trials_factor_pvalue(p, 7)) < 7.0
    assert trials_factor_pvalue(1e-300, 10) == pytest.approx(1e-299)
    for bad_p in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="p_local"):
            trials_factor_pvalue(bad_p, 3)
    for bad_n in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_trials"):
            trials_factor_pvalue(0.1, bad_n)


def test_gross_vitells_and_upcrossings():
    assert count_upcrossings([0.0, 1.2, 0.5, 1.5, 2.0, 0.1], 1.0) == 2
    assert count_upcrossings([1.2, 0.5], 1.0) == 1
    z = 3.0
    assert gross_vitells(z, 0.0, 1.0) == pytest.approx(norm.sf(z))
    assert gross_vitells(z, 2.0, 1.0) == pytest.approx(norm.sf(z) + 2 * math.exp(-4.0))
    assert gross_vitells(0.5, 5.0, 1.0) == 1.0


# ------------------------------------------------------------------------------ plots
def test_plots_are_written(bump_data, tmp_path):
    from anode_cathode.bumphunt.plots import plot_local_z, plot_pvalue_uniformity, plot_spectrum

    plot_spectrum(bump_data[3.3], tmp_path / "spectrum.png", title="SR 3.3-3.7 TeV")
    flat = [r for results in bump_data.values() for r in results]
    g = {0.1: global_pvalue(3.0, np.random.default_rng(0).normal(size=100))}
    plot_local_z(flat, tmp_path / "z.pdf", method="cathode", global_p=g)
    uniform = np.random.default_rng(0).random(300)
    assert plot_pvalue_uniformity(uniform, tmp_path / "p.png", "toys") > 0.01
    assert plot_pvalue_uniformity(uniform**2, tmp_path / "p2.png", "squared") < 1e-6
    for name in ("spectrum.png", "z.pdf", "p.png"):
        assert (tmp_path / name).stat().st_size > 1000


# ------------------------------------------------------------------------ pipeline steps
def _write_scores(path, window: Window, mjj: np.ndarray, fold: np.ndarray, score: np.ndarray):
    data = pd.DataFrame({"mjj": mjj, "fold": fold, "label": np.zeros(mjj.size), "score": score})
    attrs = {"window": window.to_dict(), "method": "cathode", "classifier": "bdt"}
    write_tables(path, {"data": data}, attrs)


def test_mean_data_scores_average_seeds_and_check_events(tmp_path):
    rng = np.random.default_rng(9)
    mjj, fold = rng.uniform(3, 5, 100), rng.integers(0, 2, 100)
    a, b = rng.random(100), rng.random(100)
    _write_scores(tmp_path / "s0.h5", SR, mjj, fold, a)
    _write_scores(tmp_path / "s1.h5", SR, mjj, fold, b)
    data, window, method, clf, spurious = mean_data_scores([tmp_path / "s0.h5", tmp_path / "s1.h5"])
    assert spurious is None  # no independent background sample in these files
    np.testing.assert_allclose(data["score"], 0.5 * (a + b))
    np.testing.assert_array_equal(data["mjj"], mjj)
    assert (window, method, clf) == (SR, "cathode", "bdt")
    _write_scores(tmp_path / "other.h5", SR, mjj, 1 - fold, b)
    with pytest.raises(ValueError, match="data events differ"):
        mean_data_scores([tmp_path / "s0.h5", tmp_path / "other.h5"])
    write_tables(tmp_path / "none.h5", {"test": pd.DataFrame({"score": a})})
    with pytest.raises(ValueError, match=r"splits\.folds >= 2"):
        mean_data_scores([tmp_path / "none.h5"])


def test_pipeline_steps_write_their_outputs(tmp_path, monkeypatch):
    """Window step from score files (two seeds), then the scan, with a few failed toy fits."""
    cfg = {
        "run": "test",
        "bumphunt": {
            "efficiencies": [1.0, 0.1, 1e-5],
            "fit_range": [2.8, 6.5],
            "bin_width": 0.1,
            "alpha": 0.05,
            "fit_model": "ftest",
            "n_toys": 40,
            "seed": 0,
            "pybumphunter": False,
            "exact_below": 20,
        },
    }
    rng = np.random.default_rng(8)
    mjj = _sample_mjj(rng, 30_000)
    fold = rng.integers(0, 2, mjj.size)
    inputs = []
    for window in (Window(3.3, 3.7), Window(4.1, 4.5)):
        scores = [tmp_path / f"{window.name}_s{seed}.h5" for seed in range(2)]
        for path in scores:
            _write_scores(path, window, mjj, fold, rng.random(mjj.size))
        out = tmp_path / f"{window.name}.json"
        bumphunt_window(cfg, scores, out, tmp_path / f"{window.name}.png")
        d = json.loads(out.read_text())
        assert d["n_seeds"] == 2 and [r["efficiency"] for r in d["results"]] == [1.0, 0.1]
        assert [e["efficiency"] for e in d["errors"]] == [1e-5]
        assert "no events" in d["errors"][0]["error"]
        inputs.append(out)
    _flaky_toy_refits(monkeypatch, every=20)  # 2 of 40 toys per window: 5 %, tolerated
    text = bumphunt_scan(cfg, inputs, "n0-s0", tmp_path / "scan")
    table = pd.read_csv(tmp_path / "scan/pvalues.csv")
    assert table.efficiency.tolist() == [1.0, 0.1, 1e-5]
    assert table.n_toys_failed.tolist()[:2] == [4, 4]  # two windows, two failures each
    assert pd.isna(table.local_z[2]) and "no events" in table.error[2]
    assert text == (tmp_path / "scan/pvalues.md").read_text() and "fit failed" in text
    # after the cuts: both windows' 10 % cut (the uncut spectrum and the failed cut excluded)
    z = [r["z_signed"] for p in inputs for r in json.loads(p.read_text())["results"]]
    z_cut = [z[1], z[3]]
    line = f"| cathode | bdt | 2 | {np.mean(z_cut):+.2f} | {max(z_cut):.2f} |"
    assert line in text.splitlines()
    for name in ("pvalue_uniformity.png", "local_z_cathode_bdt.png", "sculpting_cathode_bdt.png"):
        assert (tmp_path / "scan" / name).stat().st_size > 1000
