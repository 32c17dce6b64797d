"""Tests of the built-in LHCO-like event generator (anode_cathode.data.generate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, spearmanr

from anode_cathode.bumphunt.functions import fit_dijet
from anode_cathode.data import generate as gen
from anode_cathode.data.features import FEATURE_COLUMNS, compute_features, dijet_mass
from anode_cathode.data.generate import (
    GeneratorParams,
    generate_background,
    generate_events,
    generate_extra_background,
    generate_signal,
)
from anode_cathode.data.lhco import LHCO_COLUMNS, read_lhco, write_lhco

SR = (3.3, 3.7)


def in_range(f: pd.DataFrame, lo: float, hi: float) -> pd.DataFrame:
    return f[(f["mjj"] > lo) & (f["mjj"] < hi)]


def leading_pt(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return np.hypot(df["pxj1"], df["pyj1"]).to_numpy(), np.hypot(df["pxj2"], df["pyj2"]).to_numpy()


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate_events(20_000, 2_000, seed=7)


@pytest.fixture(scope="module")
def background() -> pd.DataFrame:
    return compute_features(generate_background(200_000, np.random.default_rng(123)))


@pytest.fixture(scope="module")
def signal() -> pd.DataFrame:
    return compute_features(generate_signal(20_000, np.random.default_rng(456)))


def test_lhco_columns_dtypes_and_labels(events: pd.DataFrame) -> None:
    assert list(events.columns) == list(LHCO_COLUMNS)
    assert all(events[c].dtype == np.float64 for c in events.columns)
    assert len(events) == 22_000
    labels = events["label"].to_numpy()
    assert (labels[:20_000] == 0.0).all() and (labels[20_000:] == 1.0).all()
    assert np.isfinite(events.to_numpy()).all()


def test_round_trip_and_features(events: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "events.h5"
    write_lhco(events, path)
    back = read_lhco(path)
    pd.testing.assert_frame_equal(back, events)
    feats = compute_features(back)
    assert list(feats.columns) == [*FEATURE_COLUMNS, "label"]
    assert np.isfinite(feats.to_numpy()).all()
    assert (feats["mj1"] > 0).all() and (feats["delta_mj"] >= 0).all()
    for col in ("tau21j1", "tau21j2", "tau32j1", "tau32j2"):
        assert ((feats[col] > 0) & (feats[col] < 1)).all(), col


def test_substructure_in_physical_range(events: pd.DataFrame) -> None:
    for j in (1, 2):
        t1, t2, t3 = (events[f"tau{k}j{j}"].to_numpy() for k in (1, 2, 3))
        assert (t1 > 0).all() and (t2 < t1).all() and (t3 < t2).all() and (t3 > 0).all()
        assert (events[f"mj{j}"] > 0).all()


def test_trigger_and_jet_order(events: pd.DataFrame) -> None:
    pt1, pt2 = leading_pt(events)
    assert (pt1 > 1200.0).all()
    assert (pt1 >= pt2).all()
    assert (pt2 < 1200.0).any()  # the subleading jet is not cut on
    harder = generate_background(
        2_000, np.random.default_rng(0), GeneratorParams(pt_trigger_gev=1500)
    )
    assert (leading_pt(harder)[0] > 1500.0).all()


@pytest.mark.parametrize("n", [0, 1, 1_537])
def test_exact_number_of_rows(n: int) -> None:
    rng = np.random.default_rng(n)
    assert len(generate_background(n, rng)) == n
    assert len(generate_signal(n, rng)) == n
    assert list(generate_signal(n, rng).columns) == list(LHCO_COLUMNS)


def test_solve_pt_reproduces_mjj() -> None:
    rng = np.random.default_rng(1)
    n = 1_000
    mjj = rng.uniform(2_000, 7_000, n)
    m1, m2 = rng.uniform(0, 600, n), rng.uniform(0, 300, n)
    dy = rng.uniform(-3, 3, n)
    dy[:10] = 0.0  # the stable root must handle Δy = 0
    pt = gen._solve_pt(mjj, m1, m2, dy)
    j1 = np.stack([pt, np.zeros(n), np.hypot(pt, m1) * np.sinh(dy / 2), m1], axis=1)
    j2 = np.stack([-pt, np.zeros(n), np.hypot(pt, m2) * np.sinh(-dy / 2), m2], axis=1)
    np.testing.assert_allclose(dijet_mass(j1, j2), mjj, rtol=1e-9)


def test_mjj_spectrum_falls_above_turn_on(background: pd.DataFrame) -> None:
    counts, _ = np.histogram(background["mjj"], bins=np.arange(3.0, 6.01, 0.25))
    assert (np.diff(counts) < 0).all(), counts
    below, _ = np.histogram(background["mjj"], bins=[2.0, 2.3, 2.6])
    assert below[0] < below[1]  # turn-on from the trigger
    assert ((background["mjj"] > 2.3) & (background["mjj"] < 5.0)).mean() > 0.9
    assert background["mjj"].max() > 6.0


def dijet_fit(mjj: np.ndarray, lo: float, hi: float, n_params: int) -> tuple[float, np.ndarray]:
    """The bump hunt's dijet fit over [lo, hi] in 100 GeV bins: (gof p-value, pulls)."""
    edges = np.round(np.arange(lo, hi + 1e-9, 0.1), 6)
    n = np.histogram(mjj, edges)[0].astype(float)
    fit = fit_dijet(edges, n, np.ones(n.size, dtype=bool), n_params)
    return fit.gof_pvalue, (n - fit.expected) / np.sqrt(fit.expected)


def test_mjj_spectrum_is_dijet_like_above_turn_on() -> None:
    """The bump hunt fits the standard dijet function from ~3 TeV: the spectrum must allow it.

    1M events with 2.9 < mjj < 8 TeV (as many as in 2M events of the full sample; the
    range-restricted generation is exact). The fit has the power to see the problem of the
    former |Δy| < 3 selection, whose trigger acceptance kept rising up to ~5.6 TeV: that
    acceptance, imposed on the same events, must be rejected.
    """
    rng = np.random.default_rng(1)
    raw = generate_background(1_000_000, rng, mjj_range=(2.9, 8.0))
    mjj = compute_features(raw)["mjj"].to_numpy()
    p4, pulls4 = dijet_fit(mjj, 2.9, 7.0, n_params=4)
    p3, pulls3 = dijet_fit(mjj, 3.0, 7.0, n_params=3)
    assert p4 > 0.01 and np.abs(pulls4).max() < 4.0, (p4, pulls4.round(1))
    assert p3 > 0.01 and np.abs(pulls3).max() < 4.0, (p3, pulls3.round(1))

    def acceptance(dy_max: float) -> np.ndarray:  # massless jets, dN/d|Δy| ∝ exp(0.5 |Δy|)
        dy = np.minimum(2.0 * np.arccosh(np.maximum(mjj / 2.4, 1.0)), dy_max)
        return np.expm1(0.5 * dy) / np.expm1(0.5 * dy_max)

    keep = rng.random(mjj.size) < acceptance(3.0) / acceptance(1.3)
    assert dijet_fit(mjj[keep], 2.9, 7.0, n_params=4)[0] < 1e-4


def test_rapidity_gap_selection() -> None:
    p = GeneratorParams()
    for df in (generate_background(5_000, np.random.default_rng(2)),
               generate_signal(5_000, np.random.default_rng(3))):  # fmt: skip
        y = []
        for j in (1, 2):
            e = np.sqrt(sum(df[f"{c}j{j}"] ** 2 for c in ("px", "py", "pz", "m")))
            y.append(0.5 * np.log((e + df[f"pzj{j}"]) / (e - df[f"pzj{j}"])))
        dy = np.abs(y[0] - y[1])
        assert dy.max() < p.dy_max + 1e-9 and dy.max() > 0.9 * p.dy_max


def test_signal_region_fraction(background: pd.DataFrame) -> None:
    frac = len(in_range(background, *SR)) / len(background)
    assert frac == pytest.approx(0.121, abs=0.01)  # LHCO: 121,352 of 1,000,000


def test_jet_mass_grows_with_mjj(background: pd.DataFrame) -> None:
    low, high = in_range(background, 2.5, 2.8), in_range(background, 4.5, 5.5)
    assert np.median(high["mj1"]) > 1.15 * np.median(low["mj1"])
    heavy = background["mj1"] + background["delta_mj"]
    assert spearmanr(background["mjj"], background["mj1"])[0] > 0.05
    assert spearmanr(background["mjj"], heavy)[0] > 0.05


def test_tau21_anticorrelated_with_jet_mass(background: pd.DataFrame) -> None:
    assert spearmanr(background["mj1"], background["tau21j1"])[0] < -0.2
    heavy = background["mj1"] + background["delta_mj"]
    assert spearmanr(heavy, background["tau21j2"])[0] < -0.2


def test_signal_peaks(signal: pd.DataFrame, background: pd.DataFrame) -> None:
    assert 3.4 < np.median(signal["mjj"]) < 3.6
    counts, edges = np.histogram(signal["mj1"], bins=np.arange(0.0, 0.3, 0.01))
    assert 0.08 <= edges[np.argmax(counts)] <= 0.11
    counts, edges = np.histogram(signal["mj1"] + signal["delta_mj"], bins=np.arange(0, 0.8, 0.02))
    assert 0.44 <= edges[np.argmax(counts)] <= 0.52
    core = signal["mj1"][(signal["mj1"] > 0.07) & (signal["mj1"] < 0.13)]
    assert 0.04 < np.std(core) / 0.1 < 0.15  # ~5-10 % mass resolution
    for col in ("tau21j1", "tau21j2"):
        assert np.median(signal[col]) < np.median(background[col]) - 0.1, col


def test_signal_region_fraction_of_signal(signal: pd.DataFrame) -> None:
    frac = len(in_range(signal, *SR)) / len(signal)
    assert frac == pytest.approx(0.772, abs=0.03)  # LHCO: 772 of 1000


def test_extra_background_inside_range_and_efficient(monkeypatch) -> None:
    rows_in = []
    original = gen._events
    monkeypatch.setattr(
        gen, "_events", lambda *a, **k: rows_in.append(len(a[1])) or original(*a, **k)
    )
    extra = generate_extra_background(20_000, seed=5, mjj_range=SR)
    assert len(extra) == 20_000 and (extra["label"] == 0).all()
    assert sum(rows_in) < 4 * len(extra)  # narrow range: no full spectrum thrown away
    mjj = compute_features(extra)["mjj"]
    assert ((mjj > SR[0]) & (mjj < SR[1])).all()


def test_extra_background_independent_of_main_sample(monkeypatch) -> None:
    starts = []
    for name in ("generate_background", "generate_signal"):
        original = getattr(gen, name)

        def spy(n, rng, *args, _original=original, **kwargs):
            starts.append(rng.bit_generator.state["state"]["state"])
            return _original(n, rng, *args, **kwargs)

        monkeypatch.setattr(gen, name, spy)
    main = generate_events(20_000, 100, seed=5)
    extra = generate_extra_background(20_000, seed=5, mjj_range=SR)
    assert len(set(starts)) == 3  # background, signal and extra use distinct streams
    shared = main.merge(extra, how="inner", on=list(LHCO_COLUMNS))
    assert len(shared) == 0


def test_extra_background_matches_full_spectrum(background: pd.DataFrame) -> None:
    """Range-restricted generation has the distribution of the full sample cut to the range."""
    extra = compute_features(generate_extra_background(30_000, seed=9, mjj_range=SR))
    full = in_range(background, *SR)
    for col in ("mjj", "mj1", "delta_mj", "tau21j1", "tau21j2"):
        assert ks_2samp(extra[col], full[col]).pvalue > 1e-3, col


def test_same_seed_same_output() -> None:
    a = generate_events(3_000, 300, seed=11)
    pd.testing.assert_frame_equal(a, generate_events(3_000, 300, seed=11))
    assert not np.allclose(a.to_numpy(), generate_events(3_000, 300, seed=12).to_numpy())
    x = generate_extra_background(1_000, 11, SR)
    pd.testing.assert_frame_equal(x, generate_extra_background(1_000, 11, SR))


def test_params_from_dict() -> None:
    assert GeneratorParams.from_dict(None) == GeneratorParams()
    assert GeneratorParams.from_dict({"mass_x_gev": 300}).mass_x_gev == 300.0
    with pytest.raises(ValueError, match="mass_z_gev"):
        GeneratorParams.from_dict({"mass_z_gev": 300})
    with pytest.raises(ValueError, match="fsr_prob"):
        GeneratorParams.from_dict({"fsr_prob": 1.5})
    with pytest.raises(ValueError, match="spectrum_p1"):
        GeneratorParams.from_dict({"spectrum_p1": "ten"})


def test_bad_mjj_range() -> None:
    with pytest.raises(ValueError, match="mjj_range"):
        generate_extra_background(10, 1, (3.7, 3.3))
    with pytest.raises(ValueError, match="mjj_range"):
        generate_extra_background(10, 1, (20.0, 30.0))


def test_parameters_change_the_physics() -> None:
    heavy = GeneratorParams(mass_x_gev=300.0, mass_y_gev=80.0)
    f = compute_features(generate_signal(3_000, np.random.default_rng(3), heavy))
    assert 0.25 < np.median(f["mj1"] + f["delta_mj"]) < 0.32
