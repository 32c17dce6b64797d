"""Every step uses the threads its rule gives it, no more (measured, not configured).

On two shared cores a step that starts a second busy thread in a one-thread rule slows every
other job down; the thread settings are checked elsewhere (test_device.py), here real steps
are run as the workflow runs them (``anode-cathode <step> --threads N``) and the CPU time of
each of their threads is read from ``/proc`` while they run. With ``--threads 1`` exactly one
thread may do work; every other thread of the process stays at 0.00 CPU seconds. (With
``--threads 2`` the second thread of these steps uses 0.2-1.0 s, so a leaked pool is seen.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import subprocess_env, toy_features

from anode_cathode.data.io import write_tables

#: CPU seconds after which a thread counts as working (idle pool threads stay at 0).
BUSY_SECONDS = 0.05
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def split_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("threads")
    events = toy_features(60_000, 3_000, seed=1)
    extra = toy_features(60_000, 0, seed=2)
    extra = extra[(extra.mjj > 3.2) & (extra.mjj < 3.8)].reset_index(drop=True)
    dataset = tmp / "dataset.h5"
    write_tables(
        dataset,
        {"data": events.assign(fold=0), "signal_pool": events.iloc[:0], "extra": extra},
    )
    out = tmp / "split.h5"
    _step(["split", "--dataset", str(dataset), "--window", "sr3300-3700", "--out", str(out)])
    return out


def _thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of every thread of process ``pid``."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def _step(args: list[str], config: dict | None = None, threads: int = 1) -> list[float]:
    """Run ``anode-cathode <args> --threads N``; CPU seconds of its threads, busiest first."""
    cfg = json.dumps({"features": ["mj1", "delta_mj", "tau21j1", "tau21j2"], **(config or {})})
    cmd = [sys.executable, "-m", "anode_cathode", *args, "--config", cfg]
    if args[0] != "split":
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=subprocess_env()
    )
    seen: dict[int, float] = {}
    while proc.poll() is None:
        try:
            for tid, cpu in _thread_cpu(proc.pid).items():
                seen[tid] = max(cpu, seen.get(tid, 0.0))
        except FileNotFoundError:  # the process ended between poll() and the read
            break
        time.sleep(0.05)
    err = proc.stderr.read()
    assert proc.wait() == 0, err[-3000:]
    return sorted(seen.values(), reverse=True)


@pytest.mark.parametrize(
    ("what", "args", "config"),
    [
        (
            "BDT (hgb)",
            ["train", "--method", "idealized", "--classifier", "bdt", "--seed", "0", "1"],
            {"bdt": {"n_models": 3, "max_iter": 60}},
        ),
        (
            "BDT (xgboost)",
            ["train", "--method", "idealized", "--classifier", "bdt", "--seed", "0", "1"],
            {"bdt": {"backend": "xgboost", "n_models": 3, "max_iter": 60}},
        ),
        (
            "MLP",
            ["train", "--method", "idealized", "--classifier", "mlp", "--seed", "0", "1"],
            {"mlp": {"epochs": 4, "batch_size": 256, "n_best_epochs": 2}},
        ),
        (
            "flow",
            ["train-flow", "--region", "sb"],
            {"flow": {"n_blocks": 4, "hidden_features": 32, "epochs": 4, "batch_size": 512}},
        ),
    ],
)
def test_a_one_thread_step_works_on_one_thread(split_file, tmp_path, what, args, config):
    outs = ["--out"]
    if args[0] == "train":
        n_seeds = len(args) - args.index("--seed") - 1
        outs += [str(tmp_path / f"scores{i}.h5") for i in range(n_seeds)]
    else:
        outs += [str(tmp_path / "model.pt")]
    cpu = _step([*args, "--split", str(split_file), *outs], config, threads=1)
    busy = [round(c, 2) for c in cpu if c >= BUSY_SECONDS]
    assert len(busy) == 1, f"{what} with --threads 1: CPU seconds per working thread {busy}"
