"""ROC/SIC: perfect and random classifiers, statistical cut, bands over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anode_cathode.evaluation.metrics import band, sic_at_fpr, sic_curve, sic_on_grid
from anode_cathode.evaluation.summary import seed_metrics, summarize, summary_markdown

N_B, N_S = 20_000, 2_000
Y = np.r_[np.ones(N_S), np.zeros(N_B)]


def test_perfect_classifier_reaches_the_statistical_limit():
    c = sic_curve(Y, Y, max_rel_error=0.2)
    # all signal kept at the smallest background efficiency with 25 events left
    assert c.max_sic == pytest.approx(1 / np.sqrt(25 / N_B))
    assert c.n_bkg_pass.min() >= 25 - 1e-9


def test_looser_error_allows_higher_sic():
    assert sic_curve(Y, Y, 0.5).max_sic == pytest.approx(1 / np.sqrt(4 / N_B))


def test_random_classifier_has_sic_sqrt_fpr():
    rng = np.random.default_rng(0)
    c = sic_curve(Y, rng.random(len(Y)))
    assert c.max_sic == pytest.approx(1.0, abs=0.05)
    assert sic_at_fpr(c, 0.1) == pytest.approx(np.sqrt(0.1), rel=0.15)


def test_inverted_classifier_is_worse_than_random():
    rng = np.random.default_rng(1)
    s = Y + rng.normal(0, 0.5, len(Y))
    assert sic_curve(Y, s).max_sic > 3
    assert sic_curve(Y, -s).max_sic <= 1.0 + 1e-9


def test_curve_stops_at_minimum_background():
    rng = np.random.default_rng(2)
    c = sic_curve(Y, Y + rng.normal(0, 0.3, len(Y)), max_rel_error=0.2)
    assert c.fpr.min() * N_B == pytest.approx(25, abs=1e-6)
    assert np.isnan(sic_at_fpr(c, 1e-4))  # 2 background events: beyond the cut
    assert np.isfinite(sic_at_fpr(c, 1e-2))


def test_nan_scores_are_rejected():
    s = np.zeros(len(Y))
    s[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sic_curve(Y, s)


def test_one_class_is_rejected():
    with pytest.raises(ValueError, match="signal and background"):
        sic_curve(np.zeros(10), np.zeros(10))


def test_sic_on_grid_matches_curve():
    rng = np.random.default_rng(3)
    c = sic_curve(Y, Y + rng.normal(0, 0.4, len(Y)))
    grid = np.array([0.2, 0.5, 0.8])
    vals = sic_on_grid(c, grid)
    i = np.argmin(np.abs(c.tpr - 0.5))
    assert vals[1] == pytest.approx(c.sic[i], rel=0.05)


def test_band_percentiles():
    vals = np.arange(1, 101, dtype=float)[:, None]
    med, lo, hi = band(vals, (16, 84))
    assert med[0] == pytest.approx(50.5)
    assert lo[0] == pytest.approx(np.percentile(np.arange(1, 101), 16))
    assert hi[0] == pytest.approx(np.percentile(np.arange(1, 101), 84))


def test_summary_over_seeds():
    rng = np.random.default_rng(4)
    tests = {}
    for seed in range(3):
        for method, noise in (("good", 0.3), ("bad", 3.0)):
            s = Y + rng.normal(0, noise, len(Y))
            tests[(method, "bdt", seed)] = pd.DataFrame({"score": s, "label": Y})
    ev = {"max_rel_error": 0.2, "fpr_points": [1e-3, 1e-2], "band": [16, 84]}
    per_seed, _ = seed_metrics(tests, ev)
    summary = summarize(per_seed.assign(window="w"), ev["band"])
    good = summary[summary.method == "good"].iloc[0]
    bad = summary[summary.method == "bad"].iloc[0]
    assert good.max_sic > 5 * bad.max_sic
    assert good.max_sic_lo <= good.max_sic <= good.max_sic_hi
    assert good.n_seeds == 3
    md = summary_markdown(summary, ev["band"], "t")
    assert "| w | good | bdt | 3 |" in md
