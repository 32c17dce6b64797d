"""Feature physics on hand-computed 4-vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anode_cathode.data.features import compute_features, dijet_mass
from anode_cathode.data.lhco import RAW_COLUMNS


def _event(j1: dict, j2: dict) -> dict:
    row = {}
    for j, jet in (("1", j1), ("2", j2)):
        for q in ("px", "py", "pz", "m", "tau1", "tau2", "tau3"):
            row[f"{q}j{j}"] = jet.get(q, 0.0)
    return row


def _jet(pt: float, eta: float, phi: float, m: float, **taus: float) -> dict:
    return {
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pt * np.sinh(eta),
        "m": m,
        **taus,
    }


def test_back_to_back_massless_jets_give_twice_pt():
    raw = pd.DataFrame([_event(_jet(1000, 0, 0, 0), _jet(1000, 0, np.pi, 0))])
    assert compute_features(raw)["mjj"].iloc[0] == pytest.approx(2.0, rel=1e-12)


def test_rapidity_gap_gives_cosh():
    # massless, pT = 1 TeV at eta = +-0.5: mjj = 2 pT cosh(0.5)
    raw = pd.DataFrame([_event(_jet(1000, 0.5, 0.3, 0), _jet(1000, -0.5, 0.3 + np.pi, 0))])
    assert compute_features(raw)["mjj"].iloc[0] == pytest.approx(2 * np.cosh(0.5), rel=1e-12)


def test_massive_jets_energy_sum():
    # at rest in z, back to back in x: mjj = E1 + E2
    raw = pd.DataFrame([_event({"px": 1000, "m": 100}, {"px": -1000, "m": 500})])
    expected = (np.sqrt(1000**2 + 100**2) + np.sqrt(1000**2 + 500**2)) / 1000
    assert compute_features(raw)["mjj"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_dijet_mass_is_lorentz_invariant_under_z_boost():
    rng = np.random.default_rng(0)
    p1 = np.c_[rng.normal(0, 800, (100, 3)), rng.uniform(10, 300, 100)]
    p2 = np.c_[rng.normal(0, 800, (100, 3)), rng.uniform(10, 300, 100)]

    def boost(p, beta):
        e = np.sqrt((p[:, :3] ** 2).sum(1) + p[:, 3] ** 2)
        g = 1 / np.sqrt(1 - beta**2)
        out = p.copy()
        out[:, 2] = g * (p[:, 2] - beta * e)
        return out

    np.testing.assert_allclose(
        dijet_mass(p1, p2), dijet_mass(boost(p1, 0.6), boost(p2, 0.6)), rtol=1e-9
    )


def test_jets_are_ordered_by_mass_and_taus_follow_their_jet():
    heavy = _jet(1500, 0.1, 0, 400, tau1=0.5, tau2=0.1, tau3=0.05)
    light = _jet(1400, -0.2, np.pi, 80, tau1=0.4, tau2=0.3, tau3=0.27)
    f = compute_features(pd.DataFrame([_event(heavy, light)])).iloc[0]
    assert f["mj1"] == pytest.approx(0.080)
    assert f["delta_mj"] == pytest.approx(0.320)
    assert f["tau21j1"] == pytest.approx(0.3 / 0.4)  # lighter jet
    assert f["tau21j2"] == pytest.approx(0.1 / 0.5)  # heavier jet
    assert f["tau32j1"] == pytest.approx(0.27 / 0.3)
    assert f["tau32j2"] == pytest.approx(0.05 / 0.1)


def test_zero_tau1_is_guarded():
    raw = pd.DataFrame([_event(_jet(1000, 0, 0, 50, tau1=0.0, tau2=0.0), _jet(1000, 0, np.pi, 60))])
    f = compute_features(raw)
    assert f["tau21j1"].iloc[0] == 0.0
    assert np.isfinite(f.to_numpy()).all()


def test_nan_input_names_columns_and_source():
    raw = pd.DataFrame([_event(_jet(1000, 0, 0, 50), _jet(1000, 0, np.pi, 60))] * 3)
    raw.loc[1, "tau2j2"] = np.nan
    with pytest.raises(ValueError, match=r"myfile.*1 events.*tau2j2"):
        compute_features(raw, source="myfile")


def test_missing_column_is_named():
    raw = pd.DataFrame([_event(_jet(1000, 0, 0, 50), _jet(1000, 0, np.pi, 60))]).drop(
        columns="pzj2"
    )
    with pytest.raises(ValueError, match="pzj2"):
        compute_features(raw, source="x.h5")


def test_label_is_carried():
    raw = pd.DataFrame([_event(_jet(1000, 0, 0, 50), _jet(1000, 0, np.pi, 60))] * 2)
    raw["label"] = [0.0, 1.0]
    assert compute_features(raw)["label"].tolist() == [0.0, 1.0]
    assert set(RAW_COLUMNS) <= set(raw.columns)
