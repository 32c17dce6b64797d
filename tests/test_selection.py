"""Event selection of every input: τ_N = 0 events dropped and counted, optional |Δy| cut."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from anode_cathode.config import load_config
from anode_cathode.data.features import compute_features
from anode_cathode.data.inputs import read_inputs
from anode_cathode.data.lhco import LHCO_COLUMNS, write_lhco
from anode_cathode.data.selection import delta_y, select_events


def _jets(y1, y2, pt=1500.0, m=100.0, phi=0.3) -> pd.DataFrame:
    """Back-to-back jets of transverse momentum ``pt`` and mass ``m`` at rapidities y1, y2."""
    y1, y2 = np.atleast_1d(y1).astype(float), np.atleast_1d(y2).astype(float)
    mt = np.hypot(pt, m)
    n = y1.size
    df = pd.DataFrame(0.5, index=range(n), columns=list(LHCO_COLUMNS))
    for j, y, sign in ((1, y1, 1.0), (2, y2, -1.0)):
        df[f"pxj{j}"] = sign * pt * np.cos(phi)
        df[f"pyj{j}"] = sign * pt * np.sin(phi)
        df[f"pzj{j}"] = mt * np.sinh(y)
        df[f"mj{j}"] = m
    df["tau1j1"] = df["tau1j2"] = 0.5
    df["tau2j1"] = df["tau2j2"] = 0.3
    df["tau3j1"] = df["tau3j2"] = 0.2
    df["label"] = 0.0
    return df


def test_delta_y_of_known_jets_and_its_boost_invariance():
    y1, y2 = np.array([0.4, -1.0, 2.0]), np.array([-0.2, 0.5, 1.5])
    jets = _jets(y1, y2)
    np.testing.assert_allclose(delta_y(jets), y1 - y2, atol=1e-12)
    # a boost along the beam shifts both rapidities: the difference stays
    np.testing.assert_allclose(delta_y(_jets(y1 + 0.7, y2 + 0.7)), y1 - y2, atol=1e-12)
    # m_JJ of massless-like jets follows 2 pT cosh(dy/2) (massive here: mT instead of pT)
    mjj = compute_features(jets)["mjj"].to_numpy() * 1000.0
    np.testing.assert_allclose(mjj, 2 * np.hypot(1500.0, 100.0) * np.cosh((y1 - y2) / 2))


def test_events_with_a_zero_tau_are_dropped_and_counted(caplog):
    jets = _jets(np.zeros(5), np.zeros(5))
    jets.loc[1, "tau1j2"] = 0.0  # a one-constituent jet: tau1 = tau2 = tau3 = 0
    jets.loc[1, ["tau2j2", "tau3j2"]] = 0.0
    jets.loc[3, "tau3j1"] = 0.0
    with caplog.at_level(logging.INFO, logger="anode_cathode.data.selection"):
        kept = select_events(jets, source="f.h5")
    assert len(kept) == 3
    assert "f.h5: dropped 2 of 5 events with a jet of tau_N = 0" in caplog.text
    features = compute_features(kept)
    assert (features[["tau21j1", "tau21j2", "tau32j1", "tau32j2"]] > 0).all().all()
    assert select_events(jets.drop(index=[1, 3])) is not None  # nothing to drop: same rows


def test_rapidity_gap_cut_keeps_central_pairs(caplog):
    y = np.linspace(-1.5, 1.5, 7)  # |dy| = 2|y|: 3.0, 2.0, 1.0, 0, 1.0, 2.0, 3.0
    jets = _jets(y, -y)
    with caplog.at_level(logging.INFO, logger="anode_cathode.data.selection"):
        kept = select_events(jets, max_delta_y=1.3, source="g.h5")
    assert len(kept) == 3 and (np.abs(delta_y(kept)) < 1.3).all()
    assert "g.h5: dropped 4 of 7 events with |delta y| >= 1.3" in caplog.text
    assert len(select_events(jets)) == 7  # no cut by default


def test_read_inputs_applies_the_selection_and_names_the_key_when_nothing_passes(tmp_path):
    path = tmp_path / "events.h5"
    y = np.linspace(-1.5, 1.5, 7)
    write_lhco(_jets(y, -y), path)
    cfg = load_config({"data": {"source": "lhco", "max_delta_y": 1.3}})
    assert len(read_inputs(cfg, str(path))["events"]) == 3
    write_lhco(_jets(y[y != 0], -y[y != 0]), path)  # every pair has |dy| >= 1
    strict = load_config({"data": {"source": "lhco", "max_delta_y": 0.5}})
    with pytest.raises(ValueError, match=r"events\.h5: no event passes .*data\.max_delta_y"):
        read_inputs(strict, str(path))
