"""Bump hunt in mjj after anomaly-score cuts (docs/bumphunt.md).

* :mod:`~anode_cathode.bumphunt.functions` – dijet (3, 4, 5 parameters) and UA2 functions,
  binned Poisson fits (:func:`fit_dijet`, :func:`choose_fit` by F-test) and the SR prediction
  (:func:`predict`); :mod:`~anode_cathode.bumphunt.bias` – bias tests across the functions and
  fit-range variation.
* :mod:`~anode_cathode.bumphunt.significance` – local significance with a Gaussian-constrained
  background (:func:`local_significance`), Asimov Z, global p-values from toys
  (:func:`global_pvalue`), the trials-factor bound (:func:`trials_factor_pvalue`) and the
  Gross–Vitells approximation.
* :mod:`~anode_cathode.bumphunt.cuts` – per-fold score cuts (:func:`fold_thresholds`,
  :func:`apply_cut`) and the binning anchored at the SR edges (:func:`histogram_edges`).
* :mod:`~anode_cathode.bumphunt.window` – the bump hunt of one window at each cut
  (:func:`window_bumphunt`, :class:`CutResult`).
* :mod:`~anode_cathode.bumphunt.toys` – background-only pseudo-experiments
  (:func:`background_toys`) and the check of their failed fits.
* :mod:`~anode_cathode.bumphunt.crosscheck` – the pyBumpHunter cross-check.
* :mod:`~anode_cathode.bumphunt.scores` – data scores averaged over seeds
  (:func:`mean_data_scores`).
* :mod:`~anode_cathode.bumphunt.scan` – the scan over windows: one row per method and cut
  (:func:`scan_method`); :mod:`~anode_cathode.bumphunt.report` – its Markdown table.
* :mod:`~anode_cathode.bumphunt.plots` – spectra with fits, local Z scans, p-value null checks
  and the sculpting check (import it explicitly; it loads matplotlib when it plots).

References: Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727; Gross, Vitells, arXiv:1005.1891;
BumpHunter, arXiv:1101.0390.
"""

from __future__ import annotations

from anode_cathode.bumphunt.crosscheck import BumpHunterResult, pybumphunter_crosscheck
from anode_cathode.bumphunt.cuts import apply_cut, fold_thresholds, histogram_edges
from anode_cathode.bumphunt.functions import (
    SQRT_S_TEV,
    DijetFit,
    bin_integrals,
    choose_fit,
    dijet_density,
    fit_dijet,
    ftest_pvalue,
    predict,
)
from anode_cathode.bumphunt.report import pvalue_markdown
from anode_cathode.bumphunt.scan import FitFailure, MethodScan, null_pvalues, scan_cut, scan_method
from anode_cathode.bumphunt.scores import DataScores, mean_data_scores
from anode_cathode.bumphunt.significance import (
    GlobalPValue,
    asimov_z,
    count_upcrossings,
    global_pvalue,
    gross_vitells,
    local_significance,
    q0_statistic,
    trials_factor_pvalue,
)
from anode_cathode.bumphunt.toys import (
    MAX_FAILED_FRACTION,
    ToyScan,
    background_toys,
    check_toy_failures,
)
from anode_cathode.bumphunt.window import (
    CutResult,
    configured_fit,
    window_bumphunt,
    window_bumphunt_per_cut,
)

__all__ = [
    "MAX_FAILED_FRACTION",
    "SQRT_S_TEV",
    "BumpHunterResult",
    "CutResult",
    "DataScores",
    "DijetFit",
    "FitFailure",
    "GlobalPValue",
    "MethodScan",
    "ToyScan",
    "apply_cut",
    "asimov_z",
    "background_toys",
    "bin_integrals",
    "check_toy_failures",
    "choose_fit",
    "configured_fit",
    "count_upcrossings",
    "dijet_density",
    "fit_dijet",
    "fold_thresholds",
    "ftest_pvalue",
    "global_pvalue",
    "gross_vitells",
    "histogram_edges",
    "local_significance",
    "mean_data_scores",
    "null_pvalues",
    "predict",
    "pvalue_markdown",
    "pybumphunter_crosscheck",
    "q0_statistic",
    "scan_cut",
    "scan_method",
    "trials_factor_pvalue",
    "window_bumphunt",
    "window_bumphunt_per_cut",
]
