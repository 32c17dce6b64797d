"""Signal injection, folds and per-window splits never leak test events into training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anode_cathode.config import load_config
from anode_cathode.data.regions import Window
from anode_cathode.data.splits import assign_folds, inject_signal, split_window

SR = Window(3.3, 3.7)


def _cfg(**over):
    raw = {"injection": {"n_signal": 500, "seed": 1}, "splits": {"folds": 3, "seed": 2}}
    raw.update(over)
    return load_config(raw, check=False)


def test_folds_are_balanced_and_seeded():
    f = assign_folds(1000, 3, seed=5)
    assert np.bincount(f).tolist() == [334, 333, 333]
    np.testing.assert_array_equal(f, assign_folds(1000, 3, seed=5))
    assert not np.array_equal(f, assign_folds(1000, 3, seed=6))
    assert set(assign_folds(10, 1, 0)) == {0}


def test_injection_count_and_pool(toy_events, toy_extra):
    out = inject_signal(toy_events, toy_extra, _cfg(), SR)
    data, pool = out["data"], out["signal_pool"]
    assert int(data["label"].sum()) == 500
    assert len(pool) == 3000 - 500
    assert not set(data["eid"]) & set(pool["eid"])
    assert (data["label"] == 0).sum() == 40_000
    assert set(np.unique(data["fold"])) == {0, 1, 2}


def test_injection_by_s_over_b(toy_events, toy_extra):
    cfg = _cfg(injection={"n_signal": None, "s_over_b": 0.01, "seed": 0})
    data = inject_signal(toy_events, toy_extra, cfg, SR)["data"]
    sr = SR.in_sr(data["mjj"].to_numpy())
    s, b = data["label"][sr].sum(), (1 - data["label"][sr]).sum()
    assert s / b == pytest.approx(0.01, rel=0.25)


def test_injection_seed_changes_the_signal_subset(toy_events, toy_extra):
    a = inject_signal(toy_events, toy_extra, _cfg(injection={"n_signal": 100, "seed": 0}), SR)
    b = inject_signal(toy_events, toy_extra, _cfg(injection={"n_signal": 100, "seed": 1}), SR)
    sa = set(a["data"].loc[a["data"].label == 1, "eid"])
    sb = set(b["data"].loc[b["data"].label == 1, "eid"])
    assert sa != sb


def test_too_much_injection_is_an_error(toy_events, toy_extra):
    with pytest.raises(ValueError, match="only 3000"):
        inject_signal(toy_events, toy_extra, _cfg(injection={"n_signal": 5000, "seed": 0}), SR)


def test_holdout_without_extra_background(toy_events):
    empty = toy_events.iloc[:0]
    out = inject_signal(toy_events, empty, _cfg(), SR)
    n_extra = len(out["extra"])
    assert 0.45 * 40_000 < n_extra < 0.55 * 40_000
    assert (out["extra"]["label"] == 0).all()
    assert not set(out["extra"]["eid"]) & set(out["data"]["eid"])


def test_window_split_never_leaks(toy_events, toy_extra):
    dataset = inject_signal(toy_events, toy_extra, _cfg(), SR)
    t = split_window(dataset, SR, _cfg()["splits"])
    test_ids = set(t["test"]["eid"])
    for name in ("data", "extra_train", "signal_train"):
        assert not test_ids & set(t[name]["eid"]), name
    assert not set(t["signal_train"]["eid"]) & set(t["data"]["eid"])
    assert not set(t["extra_train"]["eid"]) & set(t["data"]["eid"])
    # test set: SR only, both classes
    assert SR.in_sr(t["test"]["mjj"].to_numpy()).all()
    assert {0.0, 1.0} == set(t["test"]["label"])


def test_window_restricts_data_range(toy_events, toy_extra):
    w = Window(3.3, 3.7, 3.0, 4.0)
    dataset = inject_signal(toy_events, toy_extra, _cfg(), w)
    t = split_window(dataset, w, _cfg()["splits"])
    assert t["data"]["mjj"].between(3.0, 4.0).all()


def test_empty_signal_region_is_a_clear_error(toy_events, toy_extra):
    dataset = inject_signal(toy_events, toy_extra, _cfg(), SR)
    with pytest.raises(ValueError, match=r"sr20000-21000.*no data events"):
        split_window(dataset, Window(20.0, 21.0), _cfg()["splits"])


def test_no_true_background_in_window_is_a_clear_error(toy_events, toy_extra):
    dataset = inject_signal(toy_events, toy_extra, _cfg(), SR)
    with pytest.raises(ValueError, match="extra_mjj_range"):
        split_window(dataset, Window(2.6, 3.0), _cfg()["splits"])


def test_split_is_deterministic(toy_events, toy_extra):
    d1 = inject_signal(toy_events, toy_extra, _cfg(), SR)
    d2 = inject_signal(toy_events, toy_extra, _cfg(), SR)
    a, b = split_window(d1, SR, _cfg()["splits"]), split_window(d2, SR, _cfg()["splits"])
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])
