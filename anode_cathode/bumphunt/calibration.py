"""Calibrated significance from background-only ensembles of the whole chain.

Every null data set went through everything that touches data (flows, samples, classifiers,
folds, cuts, fits), so the spread that training on the data adds is in its results, which
fixed-selection toys cannot see. From the ensemble this module derives:

* the **spurious-signal uncertainty** σ_spur of each (method, classifier, cut, window): every
  trained selection was also applied to an independent background sample and fitted the same
  way (:func:`~anode_cathode.bumphunt.window.spurious_signal`); the mean square of that fitted
  signal over the null data sets, minus its statistical part, is σ_spur². It is added to the
  sideband-fit uncertainty of the local test: σ_b² → σ_b² + σ_spur²;
* the **empirical null distribution** of the maximum local Z over a family of tests (the
  windows of one method, classifier and cut, or everything shown side by side), and from it
  the **calibrated global p-value** of the observed maximum: the fraction of null data sets
  whose maximum reaches it, k/N, with binomial uncertainty √(p(1-p)/N) and the floor 1/N
  (no null data set reached it: p < 1/N);
* the **per-data-set sculpting check** (:func:`dataset_summary`): the mean and the maximum of
  one data set's local Z after the cuts, and how often the null data sets pass "mean within
  ±0.3, no test at 3σ". A single background-only data set is a weak check of sculpting: its
  own fluctuations, which nested cuts and overlapping windows share, move the mean by about
  ±0.4–0.5 even for a selection that cannot sculpt. The ensemble gives that pass rate, and a
  method whose rate matches the idealized detector's sculpts no more than chance shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from anode_cathode.bumphunt.significance import local_significance

__all__ = [
    "CalibratedPValue",
    "calibrated_pvalue",
    "dataset_summary",
    "family_maxima",
    "parse_family",
    "per_dataset_z",
    "result_rows",
    "spurious_uncertainty",
    "with_spurious_term",
]

#: Columns that identify one test of a data set.
TEST = ["method", "classifier", "efficiency", "window"]


@dataclass(frozen=True)
class CalibratedPValue:
    """Fraction ``p = k / n`` of null data sets whose maximum is at least the observed one.

    ``uncertainty`` is the binomial standard error √(p(1 - p)/n). With ``k = 0`` the value is
    below the resolution of the ensemble: ``p`` is 0 and ``floor`` (1/n) is what to quote
    (p < 1/n).
    """

    p: float
    uncertainty: float
    k: int
    n: int

    @property
    def floor(self) -> float:
        return 1.0 / self.n

    def __str__(self) -> str:
        if self.k == 0:
            return f"p < {self.floor:.3g} (0 of {self.n} null data sets)"
        return f"p = {self.p:.3g} ± {self.uncertainty:.2g} ({self.k}/{self.n})"


def calibrated_pvalue(observed: float, null_maxima: Iterable[float]) -> CalibratedPValue:
    """Calibrated global p-value of ``observed`` against the null data sets' maxima.

    NaN maxima (a null data set whose fits all failed) are dropped.

    Examples
    --------
    >>> str(calibrated_pvalue(2.5, [0.1, 1.2, 2.5, 3.0]))
    'p = 0.5 ± 0.25 (2/4)'
    """
    values = np.asarray(list(null_maxima), dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("no valid null data set: the calibration needs at least one")
    if not math.isfinite(observed):
        raise ValueError(f"observed maximum {observed} must be finite")
    n = int(values.size)
    k = int(np.count_nonzero(values >= observed))
    p = k / n
    return CalibratedPValue(p, math.sqrt(p * (1.0 - p) / n), k, n)


def result_rows(dataset: str, window_json: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per cut of a ``bumphunt-window`` result file (``dataset`` names the data set)."""
    rows = []
    for r in window_json["results"]:
        w = r["window"]
        rows.append(
            {
                "dataset": dataset,
                "method": window_json["method"],
                "classifier": window_json["classifier"],
                "efficiency": float(r["efficiency"]),
                "window": window_json["window"],
                "window_center": 0.5 * (float(w["sr_lo"]) + float(w["sr_hi"])),
                "n_obs": float(r["n_obs"]),
                "b": float(r["b"]),
                "sigma_b": float(r["sigma_b"]),
                "z": float(r["z"]),
                "z_signed": float(r["z_signed"]),
                "exact_below": float(r.get("exact_below", 0.0)),
                "spurious_signal": float(r.get("spurious_signal", math.nan)),
                "spurious_variance": float(r.get("spurious_variance", math.nan)),
            }
        )
    return rows


def spurious_uncertainty(null_rows: pd.DataFrame) -> pd.DataFrame:
    """σ_spur per test from the null data sets' spurious signals.

    σ_spur² = mean(S²) - mean(var_stat): the mean square fitted signal of the selections on
    the independent background sample (bias and spread over trainings), less the part its
    own finite size contributes; 0 when the statistical part explains it all.
    """
    ok = null_rows[np.isfinite(null_rows["spurious_signal"])]
    grouped = ok.groupby(TEST)
    out = pd.DataFrame(
        {
            "n": grouped["spurious_signal"].size(),
            "mean_signal": grouped["spurious_signal"].mean(),
            "rms_signal": grouped["spurious_signal"].apply(lambda s: math.sqrt((s**2).mean())),
            "stat_rms": grouped["spurious_variance"].apply(lambda v: math.sqrt(v.mean())),
        }
    )
    out["sigma_spur"] = np.sqrt(np.clip(out.rms_signal**2 - out.stat_rms**2, 0.0, None))
    return out.reset_index()


def with_spurious_term(rows: pd.DataFrame, sigma_spur: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``sigma_spur``, ``z_cal`` and ``z_cal_signed``: the local test with the
    background uncertainty √(σ_b² + σ_spur²) (σ_spur = 0 where no estimate exists)."""
    merged = rows.merge(sigma_spur[[*TEST, "sigma_spur"]], on=TEST, how="left")
    merged["sigma_spur"] = merged["sigma_spur"].fillna(0.0)
    z, zs = [], []
    for r in merged.itertuples():
        sigma = math.hypot(r.sigma_b, r.sigma_spur)
        z.append(local_significance(r.n_obs, r.b, sigma, exact_below=r.exact_below)[0])
        zs.append(
            local_significance(r.n_obs, r.b, sigma, signed=True, exact_below=r.exact_below)[0]
        )
    merged["z_cal"] = z
    merged["z_cal_signed"] = zs
    return merged


def parse_family(family: str) -> tuple[str, str, float] | None:
    """``"all"`` → None; ``"cathode_bdt@0.01"`` → ("cathode", "bdt", 0.01).

    Raises
    ------
    ValueError
        Any other form, naming the config key.
    """
    if family == "all":
        return None
    try:
        combo, eff = family.split("@")
        method, classifier = combo.rsplit("_", 1)
        return method, classifier, float(eff)
    except ValueError as err:
        raise ValueError(
            f"calibration.family {family!r}: use 'all' or '<method>_<classifier>@<cut>', "
            "e.g. 'cathode_bdt@0.01'"
        ) from err


def family_maxima(rows: pd.DataFrame, family: str, column: str = "z_cal") -> pd.Series:
    """Maximum of ``column`` per data set over the tests of the pre-registered ``family``."""
    chosen = parse_family(family)
    if chosen is not None:
        method, classifier, eff = chosen
        rows = rows[
            (rows.method == method)
            & (rows.classifier == classifier)
            & np.isclose(rows.efficiency, eff)
        ]
        if rows.empty:
            raise ValueError(
                f"calibration.family {family!r} matches no bump-hunt result: its method, "
                "classifier and cut must be among methods, classifiers and bumphunt.efficiencies"
            )
    return rows.groupby("dataset")[column].max()


def per_dataset_z(rows: pd.DataFrame, column: str = "z_cal_signed") -> pd.DataFrame:
    """Per method, classifier and data set: the number, mean and maximum of ``column`` over
    every window and cut below 100 % (the uncut spectrum is not a selection)."""
    cut = rows[rows.efficiency < 1.0]
    g = cut.groupby(["method", "classifier", "dataset"])[column]
    return pd.DataFrame({"tests": g.size(), "mean_z": g.mean(), "max_z": g.max()}).reset_index()


def dataset_summary(
    rows: pd.DataFrame,
    column: str = "z_cal_signed",
    mean_limit: float = 0.3,
    z_limit: float = 3.0,
) -> pd.DataFrame:
    """Per method and classifier: the per-data-set mean and maximum of ``column``
    (:func:`per_dataset_z`) summarised over the data sets.

    Returns one row per (method, classifier) with ``datasets``, ``tests_per_set``, the average
    and standard deviation over the data sets of the per-set mean (``mean_of_means``,
    ``std_of_means``), and the fractions of data sets with ``|mean| <= mean_limit``
    (``frac_mean_ok``), with every test below ``z_limit`` (``frac_max_ok``) and with both
    (``frac_pass``). On background-only data a selection that does not sculpt has
    ``mean_of_means`` ≈ 0; ``std_of_means`` measures how far one data set's mean can stray.
    """
    out = []
    for (method, clf), sets in per_dataset_z(rows, column).groupby(["method", "classifier"]):
        mean_ok, max_ok = sets.mean_z.abs() <= mean_limit, sets.max_z < z_limit
        out.append(
            {
                "method": method,
                "classifier": clf,
                "datasets": len(sets),
                "tests_per_set": int(sets.tests.median()),
                "mean_of_means": float(sets.mean_z.mean()),
                "std_of_means": float(sets.mean_z.std(ddof=1)) if len(sets) > 1 else math.nan,
                "frac_mean_ok": float(mean_ok.mean()),
                "frac_max_ok": float(max_ok.mean()),
                "frac_pass": float((mean_ok & max_ok).mean()),
            }
        )
    return pd.DataFrame(out)
