"""Independent cross-check of a spectrum with pyBumpHunter (BumpHunter, arXiv:1101.0390)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from anode_cathode.bumphunt._json import plain

__all__ = ["BumpHunterResult", "pybumphunter_crosscheck"]


@dataclass(frozen=True)
class BumpHunterResult:
    """Most significant interval found by pyBumpHunter's BumpHunter1D (TeV, counts)."""

    lo: float
    hi: float
    n_obs: float
    n_ref: float
    local_pvalue: float
    local_z: float
    global_pvalue: float
    global_z: float
    npe: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (non-finite floats as strings) for ``json.dump``."""
        return plain(dataclasses.asdict(self))


def pybumphunter_crosscheck(
    edges: Sequence[float] | np.ndarray,
    counts: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    width_min: int = 1,
    width_max: int | None = None,
    npe: int = 2000,
    seed: int = 0,
) -> BumpHunterResult:
    """Independent scan with pyBumpHunter (BumpHunter1D, histogram mode, excess mode).

    ``reference`` is the background expectation in every bin (e.g. ``CutResult.expected``);
    intervals of ``width_min``–``width_max`` bins are scanned, the local p-value is
    BumpHunter's Poisson tail probability (no background uncertainty) and the global p-value
    comes from ``npe`` Poisson pseudo-experiments of the reference. If no pseudo-experiment
    is as extreme, ``global_pvalue`` is the upper bound 1/npe. pyBumpHunter seeds NumPy's
    global random state; it is restored afterwards. Its progress printout is suppressed.

    Raises
    ------
    ValueError
        ``counts``/``reference`` not one entry per bin, or an invalid reference.
    """
    from pyBumpHunter import BumpHunter1D

    edges = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if not (counts.shape == reference.shape == (edges.size - 1,)):
        raise ValueError("counts and reference must have one entry per bin of edges")
    if not (np.all(np.isfinite(reference)) and np.all(reference >= 0) and reference.sum() > 0):
        raise ValueError("reference must be finite, >= 0 and not all zero")
    bh = BumpHunter1D(
        rang=(float(edges[0]), float(edges[-1])),
        bins=edges,
        mode="excess",
        width_min=width_min,
        width_max=width_max,
        npe=npe,
        nworker=1,
        seed=seed,
    )
    # pyBumpHunter calls np.random.seed: save and restore the legacy global state around it
    state = np.random.get_state()  # noqa: NPY002
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            bh.bump_scan(counts, reference, is_hist=True, do_pseudo=True)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    loc, width = int(bh.min_loc_ar[0]), int(bh.min_width_ar[0])
    p_local = float(bh.min_Pval_ar[0])
    p_global = float(bh.global_Pval) if bh.global_Pval > 0 else 1.0 / npe
    return BumpHunterResult(
        lo=float(edges[loc]),
        hi=float(edges[loc + width]),
        n_obs=float(counts[loc : loc + width].sum()),
        n_ref=float(reference[loc : loc + width].sum()),
        local_pvalue=p_local,
        local_z=float(norm.isf(p_local)),
        global_pvalue=p_global,
        global_z=float(norm.isf(p_global)),
        npe=npe,
    )
