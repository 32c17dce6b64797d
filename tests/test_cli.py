"""Bad input through the command line: one clear error naming file/key/fix, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from anode_cathode.cli import main
from anode_cathode.data.io import read_tables, write_tables
from anode_cathode.data.lhco import LHCO_COLUMNS


def _lhco(path, n=200, drop=None, nan_col=None):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.uniform(10, 1000, (n, len(LHCO_COLUMNS))), columns=list(LHCO_COLUMNS))
    df["label"] = 0.0
    if nan_col:
        df.loc[5, nan_col] = np.nan
    if drop:
        df = df.drop(columns=[drop])
    df.to_hdf(path, key="df")
    return path


LHCO_CFG = json.dumps({"data": {"source": "lhco"}})


def _features(events, out) -> int:
    return main(["features", "--config", LHCO_CFG, "--events", str(events), "--out", str(out)])


def test_features_missing_file(tmp_path, capsys):
    rc = _features(str(tmp_path / "nope.h5"), str(tmp_path / "f.h5"))
    assert rc == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # the one-line error comes last, after the traceback
    assert last.startswith("anode-cathode features: error:") and "nope.h5" in last
    assert not (tmp_path / "f.h5").exists()


def test_features_missing_column(tmp_path, capsys):
    events = _lhco(tmp_path / "e.h5", drop="tau2j1")
    assert _features(str(events), str(tmp_path / "f.h5")) == 1
    err = capsys.readouterr().err
    assert "e.h5" in err and "tau2j1" in err
    assert not (tmp_path / "f.h5").exists()


def test_features_nan_input(tmp_path, capsys):
    events = _lhco(tmp_path / "e.h5", nan_col="pzj2")
    assert _features(str(events), str(tmp_path / "f.h5")) == 1
    assert "pzj2" in capsys.readouterr().err


def test_failed_step_keeps_the_earlier_output(tmp_path):
    out = tmp_path / "f.h5"
    good = _lhco(tmp_path / "good.h5")
    assert _features(str(good), str(out)) == 0
    before = read_tables(out)["events"]
    bad = _lhco(tmp_path / "bad.h5", drop="mj2")
    assert _features(str(bad), str(out)) == 1
    pd.testing.assert_frame_equal(read_tables(out)["events"], before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5", "f.h5", "good.h5"]


def test_bad_config_file_names_the_key(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mlp:\n  epochs: many\n")
    assert main(["features", "--config", str(cfg), "--out", str(tmp_path / "f.h5")]) == 1
    assert "mlp.epochs" in capsys.readouterr().err


def test_empty_signal_region(tmp_path, capsys, toy_events, toy_extra):
    dataset = tmp_path / "d.h5"
    data = toy_events.assign(fold=0)
    write_tables(dataset, {"data": data, "signal_pool": data.iloc[:0], "extra": toy_extra})
    cfg = json.dumps({"windows": {"sr": [20.0, 21.0]}})
    out = tmp_path / "s.h5"
    assert (
        main(
            [
                "split",
                "--config",
                cfg,
                "--dataset",
                str(dataset),
                "--window",
                "sr20000-21000",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    assert "no data events in the signal region" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_window(tmp_path, capsys, toy_events, toy_extra):
    dataset = tmp_path / "d.h5"
    write_tables(
        dataset, {"data": toy_events.assign(fold=0), "signal_pool": toy_events, "extra": toy_extra}
    )
    assert (
        main(
            [
                "split",
                "--dataset",
                str(dataset),
                "--window",
                "sr1-2",
                "--out",
                str(tmp_path / "s.h5"),
            ]
        )
        == 1
    )
    assert "sr3300-3700" in capsys.readouterr().err


def test_download_offline_is_a_clear_error(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "events.h5"
    assert (
        main(
            [
                "download",
                "--url",
                f"http://127.0.0.1:{port}/events.h5",
                "--dest",
                str(dest),
                "--timeout",
                "5",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "cannot download" in err and str(dest) in err
    assert not dest.exists()


def test_python_m_runs_the_same_command_line():
    import subprocess
    import sys

    from anode_cathode import __version__

    out = subprocess.run(
        [sys.executable, "-m", "anode_cathode", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"anode-cathode {__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "anode_cathode", "train", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "{supervised,idealized,cwola,cathode}" in out.stdout
