"""Shared fixtures: small synthetic feature tables and LHCO-format event tables."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# One thread everywhere: the CI machine has 2 shared cores and tests may run beside snakemake.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _single_thread():
    import torch

    torch.set_num_threads(1)


def toy_features(n_bkg: int, n_sig: int, seed: int = 0) -> pd.DataFrame:
    """Feature table with a falling mjj spectrum and a signal bump at 3.5 TeV."""
    rng = np.random.default_rng(seed)
    mjj_b = 2.5 + rng.exponential(0.7, n_bkg)
    mjj_s = rng.normal(3.5, 0.08, n_sig)
    df = pd.DataFrame(
        {
            "mjj": np.r_[mjj_b, mjj_s],
            "mj1": np.r_[rng.gamma(2.0, 0.05, n_bkg), rng.normal(0.1, 0.01, n_sig)],
            "delta_mj": np.r_[rng.gamma(2.0, 0.05, n_bkg), rng.normal(0.4, 0.03, n_sig)],
            "tau21j1": np.r_[rng.beta(6, 4, n_bkg), rng.beta(3, 7, n_sig)],
            "tau21j2": np.r_[rng.beta(6, 4, n_bkg), rng.beta(3, 7, n_sig)],
            "tau32j1": rng.beta(7, 3, n_bkg + n_sig),
            "tau32j2": rng.beta(7, 3, n_bkg + n_sig),
            "label": np.r_[np.zeros(n_bkg), np.ones(n_sig)],
        }
    )
    df["eid"] = np.arange(len(df), dtype=np.float64)  # event identity to check splits
    return df


@pytest.fixture
def toy_events() -> pd.DataFrame:
    return toy_features(40_000, 3_000, seed=1)


@pytest.fixture
def toy_extra() -> pd.DataFrame:
    df = toy_features(30_000, 0, seed=2)
    df = df[(df.mjj > 3.2) & (df.mjj < 3.8)].reset_index(drop=True)
    df["eid"] += 1_000_000
    return df


def subprocess_env() -> dict[str, str]:
    """Environment for subprocesses (snakemake, its jobs) with this interpreter's bin first."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    """This repository's workflow run in ``workdir`` with ``workdir/config.yaml``."""
    repo = Path(__file__).resolve().parents[1]
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *args,
    ]
