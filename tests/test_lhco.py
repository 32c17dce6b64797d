"""LHCO R&D file reader on small files written in the exact published layout."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from anode_cathode.data.lhco import LHCO_COLUMNS, find_key, read_lhco, write_lhco


def lhco_table(n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.uniform(1, 1000, (n, len(LHCO_COLUMNS))), columns=list(LHCO_COLUMNS))
    df["label"] = (rng.random(n) < 0.1).astype(float)
    return df


def test_reads_the_published_layout(tmp_path):
    df = lhco_table()
    path = tmp_path / "events_anomalydetection_v2.features.h5"
    df.to_hdf(path, key="df")  # as the published file: one pandas table, key 'df'
    out = read_lhco(path)
    assert list(out.columns) == list(LHCO_COLUMNS)
    np.testing.assert_array_equal(out.to_numpy(), df.to_numpy())


def test_key_is_discovered_not_assumed(tmp_path):
    path = tmp_path / "f.h5"
    lhco_table().to_hdf(path, key="whatever")
    assert find_key(path) == "/whatever"
    assert len(read_lhco(path)) == 50


def test_extra_columns_and_order_are_tolerated(tmp_path):
    df = lhco_table()[list(reversed(LHCO_COLUMNS))]
    df["tau4j1"] = 1.0
    path = tmp_path / "f.h5"
    df.to_hdf(path, key="df")
    assert list(read_lhco(path).columns) == list(LHCO_COLUMNS)


def test_several_keys_pick_the_lhco_table(tmp_path):
    path = tmp_path / "f.h5"
    pd.DataFrame({"a": [1.0]}).to_hdf(path, key="meta")
    lhco_table().to_hdf(path, key="events", mode="a")
    assert find_key(path) == "/events"


def test_missing_column_error_names_file_and_column(tmp_path):
    path = tmp_path / "bad.h5"
    lhco_table().drop(columns=["tau3j2"]).to_hdf(path, key="df")
    with pytest.raises(ValueError, match=r"bad\.h5.*tau3j2"):
        read_lhco(path)


def test_unlabelled_file(tmp_path):
    path = tmp_path / "blackbox.h5"
    lhco_table().drop(columns=["label"]).to_hdf(path, key="df")
    with pytest.raises(ValueError, match="label"):
        read_lhco(path)
    assert "label" not in read_lhco(path, require_label=False)


def test_bad_label_values(tmp_path):
    path = tmp_path / "f.h5"
    df = lhco_table()
    df.loc[3, "label"] = 2.0
    df.to_hdf(path, key="df")
    with pytest.raises(ValueError, match="label"):
        read_lhco(path)


def test_not_a_pandas_file(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"plain\.h5"):
        read_lhco(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.h5"):
        read_lhco(tmp_path / "nope.h5")


def test_write_round_trip_is_atomic(tmp_path):
    path = tmp_path / "out.h5"
    write_lhco(lhco_table(seed=1), path)
    good = read_lhco(path)
    with pytest.raises(ValueError):
        write_lhco(lhco_table().drop(columns=["pxj1"]), path)
    pd.testing.assert_frame_equal(read_lhco(path), good)  # earlier file untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]  # no temporary left
