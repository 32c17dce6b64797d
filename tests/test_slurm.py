"""The workflow through a real SLURM scheduler (single node on loopback, fake GPU).

Starts the cluster with .ci/slurm/start_local_slurm.sh (root and apt needed, else skipped),
runs a tiny config with the repository's SLURM profile, kills a GPU job mid-way (scancel),
checks the failure is reported and that rerunning the same command resumes without
recomputing finished outputs, compares the results with a local run of the same config, and
stops the cluster even when something fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd, subprocess_env

REPO = Path(__file__).resolve().parents[1]
CI = REPO / ".ci" / "slurm"

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

CONFIG = {
    "run": "slurm_ci",
    "data": {"builtin": {"n_background": 60_000, "n_signal": 6_000, "n_extra_background": 20_000}},
    "injection": {"n_signal": 300},
    "methods": ["supervised", "cathode"],
    "classifiers": ["bdt", "mlp"],
    "seeds": [0],
    "mlp": {"batch_size": 512, "epochs": 2, "n_best_epochs": 1},
    "bdt": {"n_models": 1, "max_iter": 20},
    "flow": {
        "n_blocks": 2,
        "hidden_features": 16,
        "batch_size": 512,
        "learning_rate": 0.002,
        "epochs": 30,  # long enough to be cancelled mid-training
        "n_best_epochs": 2,
    },
    "diagnostics": {"max_events": 10_000},
}


def _slurm_cmd(workdir: Path, *args: str) -> list[str]:
    return snakemake_cmd(
        workdir,
        "--workflow-profile",
        str(REPO / "profiles/slurm"),
        "--slurm-status-command",
        "squeue",  # no slurmdbd on the CI cluster
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--jobs",
        "4",
        "--verbose",
        *args,
    )


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("the SLURM test starts a local cluster and needs root")
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        pytest.skip("the SLURM test installs Debian's slurm packages and needs apt")
    try:
        start = subprocess.run(
            ["bash", str(CI / "start_local_slurm.sh")], capture_output=True, text=True, timeout=600
        )
        if start.returncode != 0:
            pytest.fail(f"local SLURM cluster did not start:\n{start.stdout}\n{start.stderr}")
        yield
    finally:
        subprocess.run(["bash", str(CI / "stop_local_slurm.sh")], capture_output=True, timeout=120)


def _squeue() -> list[tuple[str, str, str]]:
    out = subprocess.run(["squeue", "-h", "-o", "%i|%k|%T"], capture_output=True, text=True)
    return [tuple(line.split("|")) for line in out.stdout.splitlines() if line.count("|") == 2]


def _kill_first(rule: str, started: Path, timeout: float = 300) -> str:
    """scancel the first job of `rule` once it runs and ``started`` (its log) shows a training
    epoch, so that the step itself receives SLURM's SIGTERM; returns the job id."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        training = started.exists() and "epoch 1/" in started.read_text(errors="replace")
        for job_id, comment, state in _squeue():
            if comment.startswith(f"rule_{rule}") and state == "RUNNING" and training:
                subprocess.run(["scancel", job_id], check=True)
                return job_id
        time.sleep(0.2)
    raise AssertionError(f"no running {rule} job appeared within {timeout} s")


def _outputs(workdir: Path) -> dict[str, float]:
    res = workdir / "results"
    return {
        str(p.relative_to(res)): p.stat().st_mtime
        for p in res.rglob("*")
        if p.is_file() and p.suffix in {".h5", ".pt", ".csv", ".json"}
    }


def test_workflow_on_slurm_matches_local_and_resumes(slurm_cluster, tmp_path):
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    for d in (slurm_dir, local_dir):
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump(CONFIG))

    # 1. first run: a GPU job (the sideband flow) is killed mid-way -> the run reports it
    log_path = tmp_path / "first_run.log"
    with open(log_path, "w") as log_file:  # a file, not a pipe: --verbose output is large
        first = subprocess.Popen(
            _slurm_cmd(slurm_dir, "--retries", "0"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            env=subprocess_env(),
        )
        try:
            flow_log = slurm_dir / "results/slurm_ci/n300-s0/sr3300-3700/flow_sb/train.log"
            killed = _kill_first("train_flow", flow_log)
            first.wait(timeout=900)
        finally:
            if first.poll() is None:
                first.kill()
    log1 = log_path.read_text()
    assert first.returncode != 0, log1[-3000:]
    assert "train_flow" in log1 and "Error" in log1, log1[-3000:]
    # the step's own one-line error (here: the signal scancel sent) is the last line shown
    last = log1.strip().splitlines()[-1]
    assert last.startswith("anode-cathode train-flow: error: stopped by SIGTERM"), log1[-3000:]
    sbatch = [line for line in log1.splitlines() if "sbatch call" in line and "train_flow" in line]
    assert sbatch and "--gpus=1" in sbatch[0], "GPU rule not submitted with --gpus=1"
    print(f"killed SLURM job {killed}; sbatch for the GPU rule:\n{sbatch[0]}")
    done_before = _outputs(slurm_dir)
    assert any(k.endswith("split.h5") for k in done_before)
    assert not any(k.endswith("flow_sb/fold0/model.pt") for k in done_before)

    # 2. the same command again resumes: finished outputs are kept, the rest is computed
    second = subprocess.run(
        _slurm_cmd(slurm_dir), capture_output=True, text=True, env=subprocess_env(), timeout=1200
    )
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    done_after = _outputs(slurm_dir)
    for path, mtime in done_before.items():
        assert done_after[path] == mtime, f"{path} was recomputed"
    assert any(k.endswith("flow_sb/fold0/model.pt") for k in done_after)

    # 3. same results as a local run of the same config
    local = subprocess.run(
        snakemake_cmd(local_dir, "--cores", "2"),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=1200,
    )
    assert local.returncode == 0, (local.stdout + local.stderr)[-4000:]
    a = pd.read_csv(slurm_dir / "results/slurm_ci/metrics_per_seed.csv")
    b = pd.read_csv(local_dir / "results/slurm_ci/metrics_per_seed.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    assert len(a) == 4 and (a.max_sic > 0).all()
