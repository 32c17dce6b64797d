"""One job per window and stage: all folds' flows and CATHODE samples, all methods' fits.

The workflow trains the k sideband flows of a window, and draws their CATHODE samples, in one
process (``train-flow --fold 0 1 --samples …``), and fits every method's spectrum of a window
in one ``bumphunt-window`` call. These tests check that one job gives what one job per fold
would, and that a mismatched command line is refused before any work.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import subprocess_env, toy_features

from anode_cathode.cli import main
from anode_cathode.data.io import read_table, write_tables

FLOW = {"n_blocks": 2, "hidden_features": 16, "epochs": 2, "batch_size": 512, "n_best_epochs": 1}
CFG = {
    "features": ["mjj", "mj1", "delta_mj", "tau21j1", "tau21j2"],
    "flow": FLOW,
    "splits": {"folds": 2},
    "cathode": {"oversampling": 2},
}


@pytest.fixture(scope="module")
def split_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("window_jobs")
    events = toy_features(30_000, 1_000, seed=3)
    events["fold"] = np.arange(len(events)) % 2
    extra = toy_features(30_000, 0, seed=4)
    extra = extra[(extra.mjj > 3.2) & (extra.mjj < 3.8)].reset_index(drop=True)
    dataset = tmp / "dataset.h5"
    write_tables(dataset, {"data": events, "signal_pool": events.iloc[:0], "extra": extra})
    out = tmp / "split.h5"
    args = ["split", "--config", json.dumps(CFG), "--dataset", str(dataset)]
    assert main([*args, "--window", "sr3300-3700", "--out", str(out)]) == 0
    return out


def test_one_job_trains_every_fold_and_draws_the_samples_of_each(split_file, tmp_path):
    models = [str(tmp_path / f"fold{f}" / "model.pt") for f in (0, 1)]
    drawn = [str(tmp_path / f"fold{f}" / "samples.h5") for f in (0, 1)]
    cfg = json.dumps(CFG)
    args = ["train-flow", "--config", cfg, "--split", str(split_file), "--region", "sb"]
    assert main([*args, "--fold", "0", "1", "--out", *models, "--samples", *drawn]) == 0
    # the samples each fold's saved model draws in a separate job are the same events
    again = [str(tmp_path / f"again{f}.h5") for f in (0, 1)]
    args = ["sample", "--config", cfg, "--split", str(split_file), "--flow", *models]
    assert main([*args, "--fold", "0", "1", "--out", *again]) == 0
    for first, second in zip(drawn, again, strict=True):
        a, b = read_table(first, "samples"), read_table(second, "samples")
        assert len(a) > 0
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    a, b = read_table(drawn[0], "samples"), read_table(drawn[1], "samples")
    assert not np.array_equal(a.to_numpy()[:10], b.to_numpy()[:10])  # own flow, own stream
    for model in models:
        assert (tmp_path / model).with_suffix(".losses.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "sb", "--fold", "0", "1", "--out", "a.pt"], "1 output files for 2 SB"),
        (
            ["--region", "sr", "--seed", "0", "1", "--fold", "0", "1", "--out", "a.pt", "b.pt"],
            "give one --out per (seed, fold)",
        ),
        (
            ["--region", "sr", "--fold", "0", "--out", "a.pt", "--samples", "s.h5"],
            "--samples needs --region sb",
        ),
    ],
)
def test_mismatched_flow_outputs_are_refused_before_training(
    split_file, tmp_path, monkeypatch, capsys, args, message
):
    monkeypatch.chdir(tmp_path)  # the outputs named above would land here
    cmd = ["train-flow", "--config", json.dumps(CFG), "--split", str(split_file), *args]
    assert main(cmd) != 0
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bumphunt_window_needs_one_output_per_group(tmp_path, capsys):
    cmd = ["bumphunt-window", "--scores", "a.h5", "b.h5", "--out", "a.json"]
    cmd += ["--plot", "a.png", "--scores", "c.h5", "--plot", "c.png"]
    assert main(cmd) != 0
    assert "2 --scores groups, 1 --out and 2 --plot" in capsys.readouterr().err


def test_steps_without_a_torch_model_do_not_import_torch():
    # about 0.8 s per job: the boosted trees and the fits run without it
    code = (
        "import sys\n"
        "from anode_cathode.core.device import set_threads\n"
        "set_threads(1)\n"
        "from anode_cathode.classifiers import make_classifier\n"
        "import anode_cathode.pipeline.bumphunt, anode_cathode.pipeline.classify\n"
        "make_classifier('bdt', {'n_models': 1}, random_state=0, n_threads=1)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_torch_model_built_later_gets_the_threads_and_flushes_subnormals():
    code = (
        "from anode_cathode.core.device import set_threads, resolve_device\n"
        "set_threads(1)\n"
        "import torch\n"
        "torch.set_num_threads(2)  # as if another library had changed it\n"
        "resolve_device('cpu')\n"
        "tiny = torch.tensor([1e-39]) * torch.tensor([1.0])\n"
        "print(torch.get_num_threads(), float(tiny[0]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0.0"]
