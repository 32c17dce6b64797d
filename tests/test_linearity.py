"""Injection linearity: the bump hunt's fitted signal against the true signal it keeps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from anode_cathode.bumphunt.functions import bin_integrals, fit_dijet, predict
from anode_cathode.bumphunt.linearity import (
    fit_linearity,
    linearity_markdown,
    linearity_points,
    plot_linearity,
)
from anode_cathode.bumphunt.signal_fit import (
    fit_signal_plus_background,
    fit_signal_template,
    gaussian_bin_fractions,
)
from anode_cathode.bumphunt.window import window_bumphunt_per_cut
from anode_cathode.data.regions import Window

WINDOWS = (Window(3.3, 3.7), Window(3.7, 4.1))


def _mjj_background(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth dijet-like spectrum in [2.8, 6.5] TeV (inverse of a tabulated CDF)."""
    grid = np.linspace(2.8, 6.5, 2000)
    dens = (1 - grid / 13) ** 10 / (grid / 13) ** 5
    cdf = np.cumsum(dens) / dens.sum()
    return np.interp(rng.random(n), cdf, grid)


def _write_results(
    tmp_path,
    n_signal: int,
    seed: int,
    sculpt: float = 0.0,
    efficiencies=(1.0, 0.1),
    signal_scores=(0.85, 1.0),
) -> list:
    """Bump hunt of a spectrum with ``n_signal`` Gaussian events at 3.5 TeV whose scores are
    high, written as the workflow writes them: <inj>/<window>/bumphunt/<combo>.json.
    ``sculpt`` raises the background's scores around 3.5 TeV: a cut then keeps a background
    bump there."""
    rng = np.random.default_rng(seed)
    bkg = _mjj_background(rng, 200_000)
    sig = rng.normal(3.5, 0.08, n_signal)
    mjj = np.r_[bkg, sig]
    label = np.r_[np.zeros(bkg.size), np.ones(sig.size)]
    # the score knows the signal only partly: a cut keeps some of it and much background
    bkg_score = rng.random(bkg.size) + sculpt * np.exp(-0.5 * ((bkg - 3.5) / 0.15) ** 2)
    score = np.r_[bkg_score, rng.uniform(*signal_scores, sig.size)]
    fold = rng.integers(0, 3, mjj.size)
    paths = []
    for window in WINDOWS:
        results, errors = window_bumphunt_per_cut(
            mjj, score, fold, window, (2.8, 6.5), 0.1, efficiencies, 0.05, "4", label=label
        )
        assert not errors
        path = tmp_path / f"n{n_signal}-s{seed}" / window.name / "bumphunt/supervised_bdt.json"
        path.parent.mkdir(parents=True)
        payload = {"window": window.to_dict(), "method": "supervised", "classifier": "bdt"}
        payload |= {"n_seeds": 1, "results": [r.to_dict() for r in results]}
        path.write_text(json.dumps(payload))
        paths.append(path)
    return paths


def test_fitted_signal_follows_the_true_signal(tmp_path):
    paths = []
    for n_signal in (0, 1000, 2000, 3000):
        paths += _write_results(tmp_path, n_signal, seed=n_signal + 1)
    points = linearity_points(paths, signal_width=0.08 / 3.5)
    assert len(points) == 4 * 2 * 2
    assert set(points.data_set) == {"n0-s1", "n1000-s1001", "n2000-s2001", "n3000-s3001"}
    # the true count is what passes: at 10 % the score keeps about two thirds of the signal
    kept = points[(points.data_set == "n3000-s3001") & (points.window == "sr3300-3700")]
    n_true = kept.set_index("efficiency")["n_true"]
    assert n_true[1.0] == pytest.approx(3000, abs=40) and 0.5 < n_true[0.1] / n_true[1.0] < 0.8
    # the bump sits in 3.3-3.7 only; the other window has it in its sideband fit, which
    # pulls that window's background up: a negative excess, kept but not fitted
    assert set(points[points.signal_window].window) == {"sr3300-3700"}
    assert not points[points.data_set == "n0-s1"].signal_window.any()
    beside = points[(points.data_set == "n3000-s3001") & ~points.signal_window]
    assert (beside.fitted < 0).all()
    fits = fit_linearity(points)
    print("\n" + linearity_markdown(fits, "toy"))
    assert set(fits.estimator) == {
        "sideband",
        "signal+background",
        "signal template",
        "sideband response",
        "signal+background response",
        "signal template response",
    }
    for fit in fits.itertuples():  # uncut, 30k background events blur the slope
        assert abs(fit.slope - 1.0) < 3 * fit.slope_error and abs(fit.offset) < 3 * fit.offset_error
    assert (fits[fits.efficiency == 0.1].slope_error < 0.15).all()
    plot_linearity(points, fits, tmp_path / "linearity.png")
    assert (tmp_path / "linearity.png").stat().st_size > 0


def test_response_removes_the_spurious_signal_of_a_sculpting_cut(tmp_path):
    # the cut raises the background around 3.5 TeV; a fixed fraction kept means the more
    # signal passes, the less of that background bump: the raw estimates find signal where
    # there is none, and less of it as the signal grows
    paths = []
    for n_signal in (0, 250, 500, 750):
        paths += _write_results(
            tmp_path, n_signal, 7, sculpt=0.005, efficiencies=(0.01,), signal_scores=(0.985, 1.0)
        )
    points = linearity_points(paths, signal_width=0.08 / 3.5)
    for cut in (json.loads(p.read_text())["results"][0] for p in paths):
        # the labels split every post-cut histogram into background and signal parts
        background = np.array(cut["counts_background"])
        assert background.shape == (len(cut["counts"]),)
        assert np.all(background >= 0) and np.all(background <= np.array(cut["counts"]))
    points["signal_window"] = points.window == "sr3300-3700"
    fits = fit_linearity(points).set_index("estimator")
    print("\n" + linearity_markdown(fits.reset_index(), "sculpting toy"))
    raw, response = fits.loc["signal+background"], fits.loc["signal+background response"]
    assert raw.offset > 3 * raw.offset_error
    assert abs(fits.loc["signal template response"].slope - 1.0) < 0.1
    sr = points[points.signal_window].sort_values("n_true")
    spurious = (sr.fitted_splusb - sr.response_splusb).to_numpy()
    assert spurious[0] > 3 * sr.error.iloc[0] and spurious[-1] < 0.8 * spurious[0]
    assert abs(response.slope - 1.0) < 0.05 and abs(response.offset) < 20
    # without labels' background part (results written before it existed): no responses
    for path in paths:
        payload = json.loads(path.read_text())
        for result in payload["results"]:
            del result["counts_background"]
        path.write_text(json.dumps(payload))
    assert "response" not in linearity_points(paths, signal_width=0.08 / 3.5)


def test_fit_recovers_a_known_slope_and_needs_labels(tmp_path):
    rng = np.random.default_rng(4)
    x = np.repeat([0.0, 100.0, 200.0, 400.0], 5)
    error = np.full(x.size, 20.0)
    points = pd.DataFrame(
        {
            "method": "cathode",
            "classifier": "bdt",
            "efficiency": 0.01,
            "n_true": x,
            "fitted": 5.0 + 0.8 * x + rng.normal(0.0, 20.0, x.size),
            "error": error,
        }
    )
    fit = fit_linearity(points).iloc[0]
    assert fit.estimator == "sideband"
    assert fit.slope == pytest.approx(0.8, abs=3 * fit.slope_error)
    assert fit.offset == pytest.approx(5.0, abs=3 * fit.offset_error)
    assert fit.ndf == x.size - 2 and fit.chi2 > 0
    assert np.isnan(fit_linearity(points.assign(n_true=7.0)).iloc[0].slope)
    # results of unlabelled data carry no true count
    path = _write_results(tmp_path, 100, seed=3)[0]
    payload = json.loads(path.read_text())
    for result in payload["results"]:
        result["n_signal_true"] = "nan"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="labelled data"):
        linearity_points([path])


def test_both_estimators_are_weighted_by_the_sr_count_uncertainty():
    # a signal-plus-background fit whose best mean lies outside the SR reports a tiny HESSE
    # error for its SR yield; that point must not pull the line towards itself
    x = np.array([0.0, 100.0, 200.0, 300.0])
    points = pd.DataFrame(
        {
            "method": "cathode",
            "classifier": "bdt",
            "efficiency": 0.01,
            "n_true": x,
            "fitted": x,
            "error": 20.0,
            "fitted_splusb": np.r_[x[:3], 150.0],
            "error_splusb": [20.0, 20.0, 20.0, 0.5],
        }
    )
    fits = fit_linearity(points).set_index("estimator")
    assert fits.loc["sideband", "slope"] == pytest.approx(1.0)
    # equal weights: the outlier moves the line by what an ordinary least-squares fit says
    assert fits.loc["signal+background", "slope"] == pytest.approx(
        np.polyfit(x, points.fitted_splusb, 1)[0]
    )


@pytest.mark.parametrize(
    ("mass", "window"), [(3.5, (3.3, 3.7)), (3.7, (3.3, 3.7)), (3.8, (3.3, 3.7))]
)
def test_signal_plus_background_fit_finds_the_signal_the_sideband_fit_absorbs(mass, window):
    # after a cut: 3000 background events, a signal of 4.5 % resolution; at 3.7 TeV, on the
    # window's edge, half the signal lies in the sideband and the sideband fit sees none; at
    # 3.8 TeV the peak lies outside the SR and only its tail (a quarter) inside
    edges = np.round(np.arange(2.9, 7.0001, 0.1), 6)
    sr = (edges[:-1] >= window[0] - 1e-9) & (edges[1:] <= window[1] + 1e-9)
    bkg = bin_integrals(edges, [1.0, 10.0, 5.0, 0.0])
    bkg *= 3000 / bkg.sum()
    rng = np.random.default_rng(7)
    truth, sideband, splusb = [], [], []
    for n_signal in (0, 100, 200, 300) * 6:
        sig, _ = np.histogram(rng.normal(mass, 0.045 * mass, n_signal), edges)
        counts = rng.poisson(bkg) + sig
        b, _ = predict(fit_dijet(edges, counts, ~sr, 4), sr)
        fit = fit_signal_plus_background(edges, counts, ~sr, sr, "4", 0.045)
        truth.append(sig[sr].sum())
        sideband.append(counts[sr].sum() - b)
        splusb.append(fit.signal_sr)
    slope_splusb = np.polyfit(truth, splusb, 1)[0]
    slope_sideband = np.polyfit(truth, sideband, 1)[0]
    assert abs(slope_splusb - 1.0) < 0.15
    assert slope_sideband < 0.85 if mass == 3.5 else slope_sideband < 0.3
    # no signal: no fitted signal on average
    zero = np.array(splusb)[np.array(truth) == 0]
    assert abs(zero.mean()) < 3 * zero.std() / np.sqrt(zero.size)


def test_gaussian_bin_fractions_sum_to_the_probability_inside_the_edges():
    frac = gaussian_bin_fractions(np.array([3.0, 3.5, 4.0]), 3.5, 0.1)
    assert frac == pytest.approx([0.5, 0.5], abs=1e-6)


def test_template_fit_returns_the_signal_of_an_asimov_spectrum():
    # expected counts (no fluctuation) of a dijet background plus a resonance with a
    # radiative low-mass tail (70 % Gaussian core, 30 % exponential below it): with the
    # signal's shape known, the fit returns the SR signal exactly, at every strength
    edges = np.round(np.arange(2.9, 7.0001, 0.1), 6)
    sr = (edges[:-1] >= 3.3 - 1e-9) & (edges[1:] <= 3.7 + 1e-9)
    bkg = bin_integrals(edges, [1.0, 10.0, 5.0, 0.0])
    bkg *= 3000 / bkg.sum()
    rng = np.random.default_rng(1)
    mjj = np.r_[rng.normal(3.5, 0.045 * 3.5, 70_000), 3.5 - rng.exponential(0.15, 30_000)]
    shape = np.histogram(mjj, edges)[0] / mjj.size
    for n_signal in (0, 150, 300, 450):
        fit = fit_signal_template(edges, bkg + n_signal * shape, ~sr, sr, "4", 7.0 * shape)
        expected = n_signal * shape[sr].sum()
        assert fit.signal_sr == pytest.approx(expected, abs=0.5 + 0.005 * n_signal)
        assert 3.3 < fit.mean < 3.5  # the template's mean: below the peak, pulled by the tail
    with pytest.raises(ValueError, match="template"):
        fit_signal_template(edges, bkg, ~sr, sr, "4", np.zeros(edges.size - 1))
