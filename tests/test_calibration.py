"""Calibrated significance: exact small-count p-values, the calibrated global p, the spurious
signal, background-only pseudo-data, and the `calibrate` target end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import subprocess_env
from scipy.stats import ks_2samp, norm, poisson

from anode_cathode.bumphunt.calibration import (
    calibrated_pvalue,
    dataset_summary,
    family_maxima,
    spurious_uncertainty,
    with_spurious_term,
)
from anode_cathode.bumphunt.cuts import fold_thresholds, histogram_edges
from anode_cathode.bumphunt.functions import bin_integrals
from anode_cathode.bumphunt.significance import (
    bonferroni_pvalue,
    exact_pvalue,
    local_significance,
)
from anode_cathode.bumphunt.smoothed import draw_mjj
from anode_cathode.bumphunt.window import SpuriousSample, spurious_signal
from anode_cathode.cli import main
from anode_cathode.config import ConfigError, load_config
from anode_cathode.data.features import compute_features
from anode_cathode.data.generate import generate_background
from anode_cathode.data.io import read_attrs, read_tables
from anode_cathode.data.pseudo import null_tables, spurious_table
from anode_cathode.data.regions import Window
from anode_cathode.pipeline.data import (
    features,
    generate,
    inject,
    null_dataset,
    smoothing_model,
    spurious_sample,
)

# ------------------------------------------------------------------ calibrated global p


@pytest.mark.parametrize("k", [1, 2, 7, 20])
def test_calibrated_p_of_the_kth_largest_null_value_is_k_over_n(k):
    null = np.random.default_rng(k).normal(size=20)
    observed = np.sort(null)[::-1][k - 1]
    cal = calibrated_pvalue(observed, null)
    assert (cal.k, cal.n) == (k, 20)
    assert cal.p == pytest.approx(k / 20)
    assert cal.uncertainty == pytest.approx(math.sqrt(k / 20 * (1 - k / 20) / 20))


def test_calibrated_p_beyond_every_null_value_is_quoted_as_below_one_over_n():
    cal = calibrated_pvalue(9.0, [0.1, 2.0, 3.0, float("nan")])
    assert (cal.p, cal.k, cal.n, cal.floor) == (0.0, 0, 3, 1 / 3)
    assert str(cal).startswith("p < 0.333")


def test_calibrated_p_of_null_values_is_uniform():
    # a test statistic drawn from the null distribution itself gets a uniform calibrated p
    rng = np.random.default_rng(3)
    null = rng.normal(size=500)
    p = [calibrated_pvalue(z, null).p for z in rng.normal(size=2000)]
    assert np.mean(np.array(p) <= 0.1) == pytest.approx(0.1, abs=0.02)
    assert np.mean(p) == pytest.approx(0.5, abs=0.03)


def test_family_maxima_take_the_pre_registered_tests_only():
    rows = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b", "b", "b"],
            "method": ["cathode", "cathode", "cwola"] * 2,
            "classifier": ["bdt"] * 6,
            "efficiency": [0.01, 0.1, 0.01] * 2,
            "window": ["w"] * 6,
            "z_cal": [1.0, 2.5, 3.0, 0.5, 0.2, 0.1],
        }
    )
    assert family_maxima(rows, "all").to_dict() == {"a": 3.0, "b": 0.5}
    assert family_maxima(rows, "cathode_bdt@0.01").to_dict() == {"a": 1.0, "b": 0.5}
    with pytest.raises(ValueError, match=r"calibration\.family 'cathode'"):
        family_maxima(rows, "cathode")
    with pytest.raises(ValueError, match="matches no bump-hunt result"):
        family_maxima(rows, "anode_density@0.01")


def test_dataset_summary_counts_the_sets_that_pass_the_single_set_check():
    # set a: mean (0.1 + 0.2 + 3.3) / 3 = 1.2 and a test at 3.3σ; set b passes; set c has
    # mean -0.4; the uncut spectrum (efficiency 1) is not a cut and is left out
    z = {"a": [0.1, 0.2, 3.3], "b": [0.0, -0.2, 0.5], "c": [-0.4, -0.5, -0.3]}
    rows = pd.DataFrame(
        [
            {
                "dataset": d,
                "method": "cwola",
                "classifier": "bdt",
                "efficiency": eff,
                "window": "w",
                "z_cal_signed": value,
            }
            for d, values in z.items()
            for eff, value in zip([0.1, 0.01, 0.001], values, strict=True)
        ]
        + [
            {
                "dataset": "b",
                "method": "cwola",
                "classifier": "bdt",
                "efficiency": 1.0,
                "window": "w",
                "z_cal_signed": 9.0,
            }
        ]
    )
    (r,) = dataset_summary(rows).itertuples()
    assert (r.datasets, r.tests_per_set) == (3, 3)
    assert r.mean_of_means == pytest.approx((1.2 + 0.1 - 0.4) / 3)
    assert r.std_of_means == pytest.approx(np.std([1.2, 0.1, -0.4], ddof=1))
    assert (r.frac_mean_ok, r.frac_max_ok, r.frac_pass) == pytest.approx((1 / 3, 2 / 3, 1 / 3))


def test_unit_normal_tests_pass_the_single_set_check_only_as_often_as_chance_allows():
    # 300 data sets of 9 independent unit-normal tests: |mean| <= 0.3 has probability
    # P(|N(0, 1/9)| <= 0.3) = 2 Φ(0.9) - 1 = 0.632, no test >= 3σ has 0.99865^9 = 0.988
    rng = np.random.default_rng(3)
    n_sets, n_tests = 300, 9
    rows = pd.DataFrame(
        {
            "dataset": np.repeat(np.arange(n_sets), n_tests),
            "method": "idealized",
            "classifier": "bdt",
            "efficiency": 0.01,
            "window": np.tile(np.arange(n_tests), n_sets),
            "z_cal_signed": rng.normal(size=n_sets * n_tests),
        }
    )
    (r,) = dataset_summary(rows).itertuples()
    assert r.std_of_means == pytest.approx(1 / 3, rel=0.1)
    p_mean = 2 * norm.cdf(0.9) - 1
    assert abs(r.frac_mean_ok - p_mean) < 3 * math.sqrt(p_mean * (1 - p_mean) / n_sets)
    assert r.frac_max_ok > 0.95


def test_bonferroni_is_n_times_p_capped_at_one():
    assert bonferroni_pvalue(0.01, 5) == pytest.approx(0.05)
    assert bonferroni_pvalue(0.3, 5) == 1.0


# ------------------------------------------------------------------ exact small counts


def test_exact_p_gives_the_known_small_count_values():
    # n = 1 over b = 0.001: the asymptotic formula overstates Z (3.44), the Poisson tail is 3.09
    assert local_significance(1, 0.001, 0.0)[0] == pytest.approx(3.44, abs=0.01)
    z, p = local_significance(1, 0.001, 0.0, exact_below=20)
    assert p == pytest.approx(1 - math.exp(-0.001))
    assert z == pytest.approx(3.09, abs=0.005)
    assert exact_pvalue(5, 2.0, 0.0) == pytest.approx(poisson.sf(4, 2.0))
    assert exact_pvalue(0, 2.0, 0.5) == 1.0


def test_exact_p_with_background_uncertainty_is_the_gamma_poisson_tail():
    b, sigma = 4.0, 1.5
    shape, scale = (b / sigma) ** 2, sigma**2 / b
    mu = np.random.default_rng(0).gamma(shape, scale, 400_000)
    brute = poisson.sf(9, mu).mean()  # P(N >= 10) averaged over the background prior
    assert exact_pvalue(10, b, sigma) == pytest.approx(brute, rel=0.01)
    assert exact_pvalue(10, b, sigma) > exact_pvalue(10, b, 0.0)  # uncertainty: less significant


@pytest.mark.parametrize(("n", "b", "sigma"), [(1100, 1000.0, 0.0), (1080, 1000.0, 20.0)])
def test_exact_and_asymptotic_p_agree_at_large_background(n, b, sigma):
    z_asym = local_significance(n, b, sigma)[0]
    z_exact = local_significance(n, b, sigma, exact_below=1e9)[0]
    assert z_exact == pytest.approx(z_asym, abs=0.05)


def test_exact_signed_z_is_negative_for_a_deficit():
    z, p = local_significance(2, 8.0, 1.0, signed=True, exact_below=20)
    assert z < -1 and p == pytest.approx(norm.sf(z))
    assert local_significance(2, 8.0, 1.0, exact_below=20) == (0.0, 0.5)


# ------------------------------------------------------------------ spurious signal


def test_spurious_signal_of_a_flat_selection_is_compatible_with_zero():
    # a score independent of mjj keeps the same fraction everywhere: no fitted signal
    rng = np.random.default_rng(11)
    mjj = compute_features(generate_background(400_000, rng, mjj_range=(2.8, 7.2)))["mjj"]
    mjj = mjj.to_numpy()
    score, fold = rng.random(mjj.size), rng.integers(0, 3, mjj.size)
    window = Window(3.3, 3.7)
    edges, sr = histogram_edges(window, (2.9, 7.0), 0.1)
    sample = SpuriousSample(mjj, score, fold, scale=4.0)
    pulls = []
    for eff in (1.0, 0.1, 0.02):
        thresholds = fold_thresholds(score, fold, eff)
        signal, variance = spurious_signal(sample, thresholds, edges, sr, "4", 0.05)
        assert np.isfinite(signal) and variance > 0
        pulls.append(signal / math.sqrt(variance))
    assert max(abs(p) for p in pulls) < 3.0, pulls


def test_spurious_uncertainty_subtracts_the_statistical_part():
    rng = np.random.default_rng(5)
    n = 400
    stat, bias = 10.0, 15.0
    rows = pd.DataFrame(
        {
            "method": "cwola",
            "classifier": "bdt",
            "efficiency": 0.01,
            "window": "w",
            "spurious_signal": rng.normal(0, bias, n) + rng.normal(0, stat, n),
            "spurious_variance": np.full(n, stat**2),
        }
    )
    sigma = spurious_uncertainty(rows)["sigma_spur"].iloc[0]
    assert sigma == pytest.approx(bias, rel=0.1)
    # pure statistical scatter: no spurious-signal uncertainty
    rows["spurious_signal"] = rng.normal(0, stat, n)
    assert spurious_uncertainty(rows)["sigma_spur"].iloc[0] < 0.3 * stat


def test_spurious_term_widens_the_background_uncertainty():
    rows = pd.DataFrame(
        {
            "method": ["cwola"],
            "classifier": ["bdt"],
            "efficiency": [0.01],
            "window": ["w"],
            "n_obs": [140.0],
            "b": [100.0],
            "sigma_b": [5.0],
            "exact_below": [20.0],
        }
    )
    spur = pd.DataFrame(
        {"method": ["cwola"], "classifier": ["bdt"], "efficiency": [0.01], "window": ["w"]}
    ).assign(sigma_spur=12.0)
    out = with_spurious_term(rows, spur)
    assert out.z_cal.iloc[0] == pytest.approx(local_significance(140, 100, 13.0)[0])
    assert out.z_cal.iloc[0] < local_significance(140, 100, 5.0)[0]


# ------------------------------------------------------------------ pseudo-data


def _cfg(**data):
    return load_config(
        {
            "data": {
                "source": "builtin",
                "builtin": {"n_background": 20_000, "n_signal": 500, "n_extra_background": 5_000},
                **data,
            },
            "windows": {"sr": [3.3, 3.7]},
            "splits": {"folds": 3},
            "calibration": {"spurious_factor": 2},
        }
    )


def test_builtin_null_data_sets_are_background_only_and_independent():
    cfg = _cfg()
    first, again, other = null_tables(cfg, 0), null_tables(cfg, 0), null_tables(cfg, 1)
    assert (first["data"]["label"] == 0).all() and len(first["data"]) == 20_000
    assert len(first["signal_pool"]) == 500  # for the supervised baseline and the test set
    pd.testing.assert_frame_equal(first["data"], again["data"])
    assert not np.allclose(first["data"]["mjj"].to_numpy()[:50], other["data"]["mjj"][:50])
    assert set(first["data"]["fold"]) == {0, 1, 2}
    spur = spurious_table(cfg)
    assert len(spur) == 40_000 and (spur["label"] == 0).all() and set(spur["fold"]) == {0, 1, 2}


def test_labelled_input_is_resampled_with_the_copies_of_an_event_in_one_fold():
    cfg = load_config({"data": {"source": "lhco"}, "splits": {"folds": 3}})
    rng = np.random.default_rng(0)
    events = pd.DataFrame({"mjj": rng.uniform(3, 4, 3000), "eid": np.arange(3000.0), "label": 0.0})
    events.loc[:99, "label"] = 1.0
    extra = events.iloc[:0]
    tables = null_tables(cfg, 4, {"events": events, "extra": extra})
    data = tables["data"]
    assert (data["label"] == 0).all()
    assert data.groupby("eid")["fold"].nunique().max() == 1  # no copy in another fold
    assert data["eid"].duplicated().any()  # a resampling, not a subsample
    with pytest.raises(ValueError, match="no labelled background"):
        null_tables(cfg, 0, {"events": events.assign(label=1.0), "extra": extra})


# ------------------------------------------------------------------ smoothed pseudo-data


def test_masses_drawn_from_a_fitted_function_follow_it():
    params = np.array([1.0, 8.0, 5.0, 0.0])  # physics parameters (p0, p1, p2, p3)
    mjj = draw_mjj(params, "dijet", 2.6, 7.0, 200_000, np.random.default_rng(0))
    assert mjj.min() >= 2.6 and mjj.max() < 7.0
    edges = np.linspace(2.6, 7.0, 23)
    expected = bin_integrals(edges, params)
    expected *= len(mjj) / expected.sum()
    counts, _ = np.histogram(mjj, bins=edges)
    chi2 = float((((counts - expected) ** 2) / expected).sum())
    assert chi2 < 50  # 22 bins: p ~ 5e-4 at 50; a wrong inversion gives thousands


#: A small built-in data set calibrated with smoothed pseudo-data.
SMOOTHED = {
    "data": {
        "source": "builtin",
        "builtin": {
            "n_background": 30_000,
            "n_signal": 500,
            "n_extra_background": 4_000,
            "extra_mjj_range": [3.3, 3.7],
        },
    },
    "injection": {"n_signal": 100},
    "windows": {"sr": [3.3, 3.7], "sideband": [2.6, 7.0]},
    "splits": {"folds": 2},
    "flow": {"n_blocks": 2, "hidden_features": 8, "epochs": 2, "n_best_epochs": 1},
    "bumphunt": {"enabled": True, "fit_range": [2.9, 7.0], "fit_model": "4"},
    "calibration": {"enabled": True, "spurious_factor": 2, "pseudo_data": "smoothed"},
}


@pytest.fixture(scope="module")
def smoothed(tmp_path_factory):
    """A smooth model of a small injected built-in data set, and two of its null data sets."""
    tmp = tmp_path_factory.mktemp("smoothed")
    cfg = load_config(SMOOTHED)
    generate(cfg, tmp / "events.h5", tmp / "extra.h5")
    features(cfg, tmp / "events.h5", tmp / "extra.h5", tmp / "features.h5")
    inject(cfg, tmp / "features.h5", tmp / "observed.h5")
    model = [tmp / "flow.pt", tmp / "spectrum.json"]
    smoothing_model(cfg, tmp / "observed.h5", *model, threads=1)
    for k in (0, 1):
        null_dataset(cfg, k, tmp / f"null{k}.h5", smoothing=model, observed=tmp / "observed.h5")
    null_dataset(cfg, 0, tmp / "again.h5", smoothing=model, observed=tmp / "observed.h5")
    spurious_sample(cfg, tmp / "spurious.h5", smoothing=model, observed=tmp / "observed.h5")
    return tmp


def test_smoothed_null_data_sets_are_independent_draws_of_the_data_model(smoothed):
    observed = read_tables(smoothed / "observed.h5")
    data_in = observed["data"]
    n_data = len(data_in[(data_in.mjj >= 2.6) & (data_in.mjj < 7.0)])
    first, again, other = (read_tables(smoothed / f) for f in ("null0.h5", "again.h5", "null1.h5"))
    data = first["data"]
    assert (data.label == 0).all() and set(data.fold) == {0, 1}
    assert abs(len(data) - n_data) < 5 * np.sqrt(n_data)  # Poisson around the data's count
    assert data.mjj.min() >= 2.6 and data.mjj.max() < 7.0
    pd.testing.assert_frame_equal(data, again["data"])
    assert not np.allclose(data.mjj.to_numpy()[:50], other["data"].mjj.to_numpy()[:50])
    # the masses follow the data's spectrum (the fitted function from 2.9 TeV, the data's
    # histogram below), the features stay in their physical range
    assert ks_2samp(data.mjj, data_in.mjj[data_in.mjj >= 2.6]).pvalue > 1e-3
    assert (data.delta_mj >= 0).all() and data.tau21j1.between(0, 1).all()
    # the supervised baseline keeps the observed set's signal pool, the idealized detector
    # gets as much drawn true background as the observed set has, over the same range
    assert len(first["signal_pool"]) == len(observed["signal_pool"]) > 0
    extra, extra_in = first["extra"], observed["extra"]
    assert len(extra) == len(extra_in) and extra.mjj.between(3.3, 3.7).all()
    attrs = read_attrs(smoothed / "null0.h5")
    assert "approximate" in attrs["pseudo_data"] and "flow" in attrs["pseudo_data"]


def test_smoothed_spurious_sample_is_the_configured_multiple_of_the_data(smoothed):
    data = read_tables(smoothed / "observed.h5")["data"]
    n = int(((data.mjj >= 2.6) & (data.mjj < 7.0)).sum())
    spur = read_tables(smoothed / "spurious.h5")["spurious"]
    assert len(spur) == 2 * n and set(spur.fold) == {0, 1} and (spur.label == 0).all()
    assert "approximate" in read_attrs(smoothed / "spurious.h5")["sample"]


def test_generator_pseudo_data_need_the_built_in_generator():
    with pytest.raises(ConfigError, match=r"calibration\.pseudo_data"):
        load_config({"data": {"source": "lhco"}, "calibration": {"pseudo_data": "generator"}})


@pytest.mark.slow
def test_workflow_draws_smoothed_null_data_sets(tmp_path):
    cfg = {**SMOOTHED, "run": "smooth"}
    path = tmp_path / "smooth.yaml"
    path.write_text(yaml.safe_dump(cfg))
    targets = ["results/smooth/null3/dataset.h5", "results/smooth/calibration/spurious.h5"]
    cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--configfile"]
    cmd += [str(path), "-d", str(tmp_path), "-s", str(_snakefile()), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    spectrum = json.loads(
        (tmp_path / "results/smooth/calibration/smoothing/spectrum.json").read_text()
    )
    assert spectrum["range"] == [2.6, 7.0] and spectrum["fit_range"] == [2.9, 7.0]
    attrs = read_attrs(tmp_path / targets[0])
    assert attrs["null_index"] == 3 and "approximate" in attrs["pseudo_data"]
    assert "approximate" in read_attrs(tmp_path / targets[1])["sample"]


# ------------------------------------------------------------------ end to end


@pytest.mark.slow
def test_calibrate_target_runs_the_whole_chain_on_null_data_sets(tmp_path):
    cfg = {
        "run": "cal",
        "data": {
            "source": "builtin",
            "builtin": {
                "n_background": 60_000,
                "n_signal": 4_000,
                "n_extra_background": 20_000,
                "extra_mjj_range": [3.3, 4.1],
            },
        },
        "injection": {"n_signal": 300},
        "windows": {"scan": {"start": 3.3, "stop": 4.1, "width": 0.4, "step": 0.4}},
        "splits": {"folds": 2},
        "methods": ["idealized", "cathode", "anode"],
        "classifiers": ["bdt"],
        "seeds": [0],
        "bdt": {"backend": "xgboost", "n_models": 1, "max_iter": 20},
        "flow": {
            "n_blocks": 2,
            "hidden_features": 8,
            "epochs": 2,
            "n_best_epochs": 1,
            "batch_size": 1024,
        },
        "bumphunt": {
            "enabled": True,
            "efficiencies": [1.0, 0.1],
            "fit_range": [2.9, 7.0],
            "fit_model": "3",
            "n_toys": 10,
            "pybumphunter": False,
        },
        "calibration": {"enabled": True, "n_null": 3, "n_test": 2, "spurious_factor": 2},
    }
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "calibrate", "--cores", "2", "--configfile"]
    cmd += [str(path), "-d", str(tmp_path), "-s", str(_snakefile()), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "results/cal/bumphunt/calibration/n300-s0"
    table = pd.read_csv(out / "calibrated.csv")
    assert set(table.family) >= {"all", "cathode_bdt@0.1", "idealized_bdt@1"}
    assert (table.n_null == 3).all() and table.pre_registered.sum() == 1
    assert ((table.calibrated_p >= 0) & (table.calibrated_p <= 1)).all()
    spread = pd.read_csv(out / "null_check.csv")
    assert set(spread.null_sets) == {"3 calibration", "2 test"}
    per_set = pd.read_csv(out / "null_datasets.csv")
    assert set(per_set.method) == {"idealized", "cathode", "anode"}
    assert (per_set.datasets == 5).all() and (per_set.tests_per_set == 2).all()
    spur = pd.read_csv(out / "spurious.csv")
    assert len(spur) == 3 * 2 * 2 and (spur.n == 3).all()  # methods x cuts x windows
    assert spur[spur.method == "anode"].notna().all().all()  # ANODE's cuts are measured too
    md = (out / "calibrated.md").read_text()
    assert "(pre-registered)" in md and "do not account for training" in md
    for png in ("max_z_cdf_cathode_bdt.png", "max_z_cdf_idealized_bdt.png", "local_z_null.png"):
        assert (out / png).stat().st_size > 10_000
    # every null data set went through its own flows and classifiers, one job per window
    for k in range(5):
        for combo in ("cathode_bdt", "anode_density"):
            path = tmp_path / f"results/cal/null{k}/sr3300-3700/bumphunt/{combo}.json"
            res = json.loads(path.read_text())
            assert all(np.isfinite(r["spurious_signal"]) for r in res["results"])
        log = (tmp_path / f"results/cal/null{k}/sr3700-4100/chain.log").read_text()
        assert "training the SB flow of fold 1" in log and "SR flow of fold 1, seed 0" in log
        assert not (tmp_path / f"results/cal/null{k}/sr3700-4100/split.h5").exists()
    # the one-job chain gives what the per-step jobs gave the observed data set
    obs = tmp_path / "results/cal/n300-s0"
    combos = ["idealized_bdt", "cathode_bdt", "anode_density"]
    outs = [str(tmp_path / f"chain_{c}.json") for c in combos]
    args = ["window-chain", "--config", str(tmp_path / "cal.yaml")]
    args += ["--dataset", str(obs / "dataset.h5"), "--window", "sr3300-3700"]
    args += ["--spurious", str(tmp_path / "results/cal/calibration/spurious.h5")]
    assert main([*args, "--combo", *combos, "--out", *outs]) == 0
    for combo, out in zip(combos, outs, strict=True):
        steps = json.loads((obs / f"sr3300-3700/bumphunt/{combo}.json").read_text())
        assert json.loads(Path(out).read_text()) == steps


def _snakefile():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "Snakefile"
