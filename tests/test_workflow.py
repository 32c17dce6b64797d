"""End-to-end Snakemake runs of tiny configurations in temporary directories.

Each run uses the repository's Snakefile and shipped configs (made small), exactly as a user
would: built-in data, LHCO-format files served over HTTP (download rule), and ROOT ntuples.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import shutil
import subprocess
import threading
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd, subprocess_env

from anode_cathode.data.io import read_attrs, read_table
from anode_cathode.data.regions import Window

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

#: Overrides that make any shipped config run in about a minute on 2 cores.
SMALL = {
    "seeds": [0],
    "mlp": {"batch_size": 512, "epochs": 2, "n_best_epochs": 1},
    "bdt": {"n_models": 1, "max_iter": 20},
}


def load(name: str, **overrides) -> dict:
    cfg = yaml.safe_load((REPO / "configs" / name).read_text())
    for key, value in {**SMALL, **overrides}.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def snakemake(workdir: Path, cfg: dict, *args: str, check: bool = True):
    cfg_path = workdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = subprocess_env()
    cmd = snakemake_cmd(workdir, "--cores", "2", *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if check and proc.returncode != 0:
        logs = "\n".join(p.read_text()[-2000:] for p in workdir.rglob("*.log"))
        pytest.fail(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}\n{logs}")
    return proc


def check_summary(workdir: Path, run: str, methods: list[str], classifiers: list[str]):
    res = workdir / "results" / run
    for name in ("summary.md", "summary.csv", "sic.png", "sic.pdf", "roc.png"):
        assert (res / name).stat().st_size > 0, name
    summary = pd.read_csv(res / "summary.csv")
    expected = {(m, "density") if m == "anode" else (m, c) for m in methods for c in classifiers}
    assert sorted(zip(summary.method, summary.classifier, strict=True)) == sorted(expected)
    assert (summary.max_sic > 0).all() and summary.max_sic.notna().all()
    return summary


def test_builtin_tiny_config(tmp_path):
    cfg = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    snakemake(tmp_path, cfg)
    summary = check_summary(tmp_path, "tiny", cfg["methods"], cfg["classifiers"])
    # a perfectly labelled classifier must beat chance clearly even at this size
    assert summary.set_index(["method", "classifier"]).loc[("supervised", "bdt"), "max_sic"] > 3
    # every rule leaves a log and a benchmark next to its output
    assert list((tmp_path / "results/tiny").rglob("*.benchmark.tsv"))
    # a second run has nothing to do
    again = snakemake(tmp_path, cfg, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    # ... until the package's code changes: then every step reruns (its params carry the
    # source hash), so a results directory never mixes steps of two versions
    copy = tmp_path / "updated"
    copy.mkdir()
    for item in ("Snakefile", "workflow", "configs", "profiles", "anode_cathode"):
        copier = shutil.copytree if (REPO / item).is_dir() else shutil.copy
        copier(REPO / item, copy / item)
    seeds = copy / "anode_cathode" / "core" / "seeds.py"
    seeds.write_text(seeds.read_text() + "# an update\n")
    cmd = snakemake_cmd(tmp_path, "--cores", "2", "-n")
    cmd[cmd.index("-s") + 1] = str(copy / "Snakefile")
    dry = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "params have changed since last execution" in dry.stdout + dry.stderr
    assert "generate_builtin" in dry.stdout + dry.stderr
    # the HTML report builds from the finished run
    snakemake(tmp_path, cfg, "--report", str(tmp_path / "report.html"))
    assert (tmp_path / "report.html").stat().st_size > 10_000


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_dir(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Quiet, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_lhco_config_downloads_and_runs(tmp_path, http_dir):
    from anode_cathode.data.generate import generate_events, generate_extra_background
    from anode_cathode.data.lhco import write_lhco

    served, url = http_dir
    write_lhco(generate_events(60_000, 6_000, seed=3), served / "events.h5")
    write_lhco(generate_extra_background(20_000, 3, (3.3, 3.7)), served / "extra.h5")
    cfg = load(
        "lhco.yaml",
        methods=["supervised", "cwola"],
        classifiers=["bdt"],
        injection={"n_signal": 300, "seed": 0},
    )
    lhco = cfg["data"]["lhco"]
    lhco["urls"] = {"events": f"{url}/events.h5", "extra_background": f"{url}/extra.h5"}
    lhco["md5"] = {
        "events": _md5(served / "events.h5"),
        "extra_background": _md5(served / "extra.h5"),
    }
    work = tmp_path / "work"
    work.mkdir()
    snakemake(work, cfg)
    assert _md5(work / lhco["events"]) == lhco["md5"]["events"]
    check_summary(work, "lhco", ["supervised", "cwola"], ["bdt"])


def test_lhco_download_failure_is_reported(tmp_path):
    cfg = load("lhco.yaml", methods=["supervised"], classifiers=["bdt"])
    cfg["data"]["lhco"]["urls"] = {
        "events": "http://127.0.0.1:9/events.h5",
        "extra_background": "http://127.0.0.1:9/extra.h5",
    }
    proc = snakemake(tmp_path, cfg, check=False)
    assert proc.returncode != 0
    logs = "".join(p.read_text() for p in tmp_path.rglob("*.download.log"))
    assert "cannot download" in logs and "data.lhco.events" in logs
    assert not (tmp_path / cfg["data"]["lhco"]["events"]).exists()


def test_root_example_config(tmp_path):
    cfg = load(
        "root_example.yaml",
        methods=["supervised", "idealized", "cwola"],
        classifiers=["bdt", "mlp"],
    )
    cfg["data"]["builtin"] = {
        "n_background": 60_000,
        "n_signal": 6_000,
        "n_extra_background": 20_000,
    }
    snakemake(tmp_path, cfg)
    assert len(list((tmp_path / "data/example_ntuples").glob("*.root"))) == 3
    check_summary(tmp_path, "root_example", cfg["methods"], cfg["classifiers"])


def test_bad_config_fails_at_start_naming_the_key(tmp_path):
    proc = snakemake(tmp_path, {"windows": {"sr": [3.7, 3.3]}}, "-n", check=False)
    assert proc.returncode != 0
    assert "windows.sr" in proc.stdout + proc.stderr


TINY_SCAN = {
    "run": "tscan",
    "data": {
        "builtin": {
            "n_background": 150_000,
            "n_signal": 10_000,
            "n_extra_background": 30_000,
            "extra_mjj_range": [3.1, 4.1],
        }
    },
    "injection": {"n_signal": 600},
    "windows": {
        "scan": {"start": 3.1, "stop": 4.1, "width": 0.4, "step": 0.2},
        "sideband": [2.9, 7.0],
    },
    "splits": {"folds": 2},
    "methods": ["supervised", "cathode", "anode"],
    "classifiers": ["bdt"],
    "bdt": {"n_models": 1, "max_iter": 30},
    "flow": {
        "n_blocks": 2,
        "hidden_features": 16,
        "batch_size": 1024,
        "learning_rate": 0.002,
        "epochs": 4,
        "n_best_epochs": 2,
    },
    "diagnostics": {"max_events": 10_000},
    "bumphunt": {"enabled": True, "fit_range": [2.9, 7.0], "fit_model": "4", "n_toys": 20},
}


def test_window_scan_bumphunt_and_null_check(tmp_path):
    cfg = {**TINY_SCAN, "seeds": [0]}
    snakemake(tmp_path, cfg)
    res = tmp_path / "results/tscan"
    table = pd.read_csv(res / "bumphunt/n600-s0/pvalues.csv")
    assert set(table.method) == {"supervised", "cathode", "anode"}
    for name in (
        "pvalues.md",
        "pvalue_uniformity.png",
        "local_z_cathode_bdt.png",
        "sculpting_cathode_bdt.png",
        "local_z_anode_density.png",
    ):
        assert (res / "bumphunt/n600-s0" / name).stat().st_size > 0
    # the supervised classifier finds the injected bump in the window centred on 3.5 TeV
    sup = table[(table.method == "supervised") & (table.efficiency == 0.01)].iloc[0]
    assert sup.best_window == "sr3300-3700" and sup.local_z > 3
    assert (table.global_p > 0).all()
    # closed-form look-elsewhere correction lies between the local p and the union bound
    # (the csv keeps 6 significant digits)
    assert (table.global_p_trials >= table.local_p).all()
    assert (table.global_p_trials <= table.n_windows * table.local_p * (1 + 1e-5)).all()
    assert sup.global_z_trials < sup.local_z
    assert "global Z (trials)" in (res / "bumphunt/n600-s0/pvalues.md").read_text()
    # four windows, each with its own flows and classifiers; one SB flow per fold, trained
    # on the other fold (all folds in one job per window), and CATHODE samples from each
    assert len(list(res.glob("n600-s0/sr*/flow_sb/fold[01]/model.pt"))) == 4 * 2
    assert len(list(res.glob("n600-s0/sr*/cathode/fold[01]/samples.h5"))) == 4 * 2
    log = (res / "n600-s0/sr3300-3700/flow_sb/train.log").read_text()
    n_fold1 = int(re.search(r"SB flow of fold 1 on (\d+) events", log).group(1))
    split_file = res / "n600-s0/sr3300-3700/split.h5"
    split = read_table(split_file, "data")
    window = Window.from_dict(read_attrs(split_file)["window"])
    assert n_fold1 == (window.in_sb(split.mjj.to_numpy()) & (split.fold != 1).to_numpy()).sum()
    # the same scan on background only (target null_check)
    snakemake(tmp_path, cfg, "null_check")
    null = pd.read_csv(res / "bumphunt/n0-s0/pvalues.csv")
    assert len(null) == len(table)
    assert "rough look, not a test" in (res / "bumphunt/n0-s0/pvalues.md").read_text()


def test_injection_scan_target(tmp_path):
    cfg = load(
        "tiny.yaml",
        methods=["supervised", "cathode"],
        classifiers=["bdt"],
        injection_scan={"s_over_b": [0.004, 0.008], "seeds": [0]},
    )
    snakemake(tmp_path, cfg, "injection_scan")
    table = pd.read_csv(tmp_path / "results/tiny/injection_scan/max_sic_vs_sb.csv")
    assert sorted(set(table.s_over_b)) == [0.004, 0.008]
    assert set(table.method) == {"supervised", "cathode"}
    assert (tmp_path / "results/tiny/injection_scan/max_sic_vs_sb.png").stat().st_size > 0


def test_linearity_target(tmp_path):
    cfg = {
        **TINY_SCAN,
        "run": "tlin",
        "seeds": [0],
        "methods": ["supervised", "idealized"],
        "linearity": {"s_over_b": [0.01, 0.03], "seeds": [0]},
    }
    snakemake(tmp_path, cfg, "linearity")
    out = tmp_path / "results/tlin/linearity"
    points = pd.read_csv(out / "points.csv")
    assert set(points.data_set) == {"sb0.01-s0", "sb0.03-s0"}
    # the signal (3.5 TeV) fills the window centred on it, in both data sets
    centre = points[(points.window == "sr3300-3700") & (points.efficiency == 1.0)]
    assert centre.signal_window.all() and (centre.n_true > 0).all()
    n_true = centre.groupby("data_set").n_true.max()
    assert n_true["sb0.03-s0"] > 2 * n_true["sb0.01-s0"]
    fits = pd.read_csv(out / "linearity.csv")
    assert set(fits.method) == {"supervised", "idealized"} and fits.slope.notna().all()
    assert "slope" in (out / "linearity.md").read_text()
    assert (out / "linearity.png").stat().st_size > 0


def test_bands_target_pools_injection_and_training_seeds(tmp_path):
    cfg = load(
        "tiny.yaml",
        methods=["supervised", "cathode"],
        classifiers=["bdt"],
        seeds=[0, 1],
        bands={"injection_seeds": [0, 1]},
    )
    snakemake(tmp_path, cfg, "bands")
    res = tmp_path / "results/tiny"
    runs = pd.read_csv(res / "bands/metrics_per_run.csv")
    assert runs.inj.nunique() == 2 and len(runs) == 2 * 2 * 2  # injections x seeds x methods
    summary = pd.read_csv(res / "bands/summary.csv")
    assert set(summary.method) == {"supervised", "cathode"} and (summary.n_seeds == 4).all()
    assert "2 injection seeds" in (res / "bands/summary.md").read_text()
    # each injection seed is a full replica: its own sideband flows, trained differently
    losses = [
        pd.read_csv(next(res.glob(f"{inj}/sr*/flow_sb/fold0/model.losses.csv")))
        for inj in sorted(runs.inj.unique())
    ]
    assert not losses[0].train_loss.equals(losses[1].train_loss)
