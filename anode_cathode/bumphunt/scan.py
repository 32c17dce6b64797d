"""The scan over windows: per method, classifier and cut, the most significant window, its
global p-value from background-only toys and the closed-form trials factor, the null check of
the local p-values, and the pyBumpHunter cross-check. One row per cut (:func:`scan_method`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from anode_cathode.bumphunt.crosscheck import pybumphunter_crosscheck
from anode_cathode.bumphunt.significance import GlobalPValue, global_pvalue, trials_factor_pvalue
from anode_cathode.bumphunt.toys import background_toys, check_toy_failures
from anode_cathode.bumphunt.window import CutResult

__all__ = ["FitFailure", "MethodScan", "null_pvalues", "scan_cut", "scan_method"]


@dataclass(frozen=True)
class FitFailure:
    """A window whose fit failed at one cut (recorded by the per-window step)."""

    window: str
    efficiency: float
    error: str


@dataclass
class MethodScan:
    """Scan of one method and classifier over all windows and cuts.

    Attributes
    ----------
    rows
        One row of the p-value table per cut (see :func:`scan_cut`).
    global_p
        Global p-value from toys per cut efficiency (cuts with at least one window).
    cut_pvalues
        Signed local p-values of every window at every cut below 100 % (null check).
    uncut_pvalues
        Signed local p-value per window without cut: the same spectrum for every method,
        so :func:`null_pvalues` counts it once.
    """

    method: str
    classifier: str
    results: list[CutResult]
    rows: list[dict[str, Any]] = field(default_factory=list)
    global_p: dict[float, GlobalPValue] = field(default_factory=dict)
    cut_pvalues: list[float] = field(default_factory=list)
    uncut_pvalues: dict[str, float] = field(default_factory=dict)


def scan_cut(
    method: str,
    classifier: str,
    efficiency: float,
    cut: Sequence[CutResult],
    *,
    n_toys: int,
    seed: int,
    pybumphunter: bool,
) -> tuple[dict[str, Any], GlobalPValue]:
    """Row of the p-value table for one cut: best window, local and global significance.

    Parameters
    ----------
    method, classifier, efficiency
        What the row describes.
    cut
        The windows' results at this cut, ordered by window centre (at least one).
    n_toys, seed
        Background-only toys per window and their seed (also pyBumpHunter's).
    pybumphunter
        Add pyBumpHunter's interval and Z on the best window's spectrum.

    Returns
    -------
    row : dict
        Table columns; ``error`` is empty (the caller fills in failed windows).
    global_p : GlobalPValue
        Global p-value of the best window from the toys.

    Raises
    ------
    ValueError
        More than 5 % of one window's toy fits failed
        (:func:`~anode_cathode.bumphunt.toys.check_toy_failures`).
    """
    toys = background_toys(cut, n_toys, np.random.default_rng(seed))
    check_toy_failures(toys, cut, context=f"{method} ({classifier}), keep {efficiency:g}: ")
    best = max(cut, key=lambda r: r.z)
    gp = global_pvalue(best.z, toys.max_z)  # drops toys whose fits all failed
    p_trials = trials_factor_pvalue(best.p0, len(cut))
    row = {
        "method": method,
        "classifier": classifier,
        "efficiency": efficiency,
        "best_window": best.window.name,
        "n_obs": best.n_obs,
        "b": best.b,
        "sigma_b": best.sigma_b,
        "local_z": best.z,
        "local_p": best.p0,
        "global_p": gp.p,
        "global_p_unc": gp.uncertainty,
        "global_p_upper_limit": gp.upper_limit,
        "global_z": gp.z,
        "n_toys_failed": toys.n_failed,
        # beyond the toys' reach (p < ~3/n_toys): the same independence assumption
        "global_p_trials": p_trials,
        "global_z_trials": float(norm.isf(p_trials)),
        "n_windows": len(cut),
        "windows_above_3sigma": sum(r.z >= 3 for r in cut),
        # (no KS test over the windows: overlapping windows give correlated p-values)
        "error": "",
    }
    if pybumphunter:
        bhr = pybumphunter_crosscheck(best.edges, best.counts, best.expected, seed=seed)
        row.update(
            {
                "pbh_interval": f"{bhr.lo:.2f}-{bhr.hi:.2f}",
                "pbh_local_z": bhr.local_z,
                "pbh_global_z": bhr.global_z,
            }
        )
    return row, gp


def scan_method(
    method: str,
    classifier: str,
    results: Sequence[CutResult],
    failures: Sequence[FitFailure],
    efficiencies: Sequence[float],
    *,
    n_toys: int,
    seed: int,
    pybumphunter: bool,
) -> MethodScan:
    """Scan of one method and classifier: one table row per cut efficiency.

    Parameters
    ----------
    method, classifier
        What the rows describe.
    results
        Every window's results at every cut.
    failures
        Windows whose fit failed; a cut where every window failed gets a row with the error
        only, never a number.
    efficiencies
        The cuts, in the order of the rows.
    n_toys, seed, pybumphunter
        As in :func:`scan_cut`.

    Returns
    -------
    MethodScan
        Rows, global p-values and the local p-values for the null check.
    """
    scan = MethodScan(method, classifier, list(results))
    for eff in efficiencies:
        cut = sorted((r for r in results if r.efficiency == eff), key=lambda r: r.window.center)
        error = "; ".join(f"{f.window}: {f.error}" for f in failures if f.efficiency == eff)
        if not cut:
            scan.rows.append(
                {"method": method, "classifier": classifier, "efficiency": eff, "error": error}
            )
            continue
        row, gp = scan_cut(
            method, classifier, eff, cut, n_toys=n_toys, seed=seed, pybumphunter=pybumphunter
        )
        row["error"] = error
        scan.global_p[eff] = gp
        scan.rows.append(row)
        if eff >= 1.0:
            scan.uncut_pvalues.update({r.window.name: r.p_signed for r in cut})
        else:
            scan.cut_pvalues += [r.p_signed for r in cut]
    return scan


def null_pvalues(scans: Sequence[MethodScan]) -> list[float]:
    """Signed local p-values of all scans for the null check, each uncut window counted once."""
    cut: list[float] = []
    uncut: dict[str, float] = {}
    for scan in scans:
        cut += scan.cut_pvalues
        uncut.update(scan.uncut_pvalues)
    return cut + list(uncut.values())
