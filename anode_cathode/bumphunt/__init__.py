"""Bump hunt in mjj after anomaly-score cuts (PHYSICS.md §5).

* :mod:`~anode_cathode.bumphunt.functions` – dijet function, binned Poisson fits
  (:func:`fit_dijet`, :func:`choose_fit` by F-test) and the SR prediction (:func:`predict`).
* :mod:`~anode_cathode.bumphunt.significance` – local significance with a Gaussian-constrained
  background (:func:`local_significance`), Asimov Z, global p-values from toys
  (:func:`global_pvalue`), the trials-factor bound (:func:`trials_factor_pvalue`) and the
  Gross–Vitells approximation.
* :mod:`~anode_cathode.bumphunt.scan` – per-fold score cuts, the per-window bump hunt
  (:func:`window_bumphunt`), background-only toys and a pyBumpHunter cross-check.
* :mod:`~anode_cathode.bumphunt.plots` – spectra with fits, local Z scans, p-value null checks
  (import it explicitly; it loads matplotlib).

References: Cowan, Cranmer, Gross, Vitells, arXiv:1007.1727; Gross, Vitells, arXiv:1005.1891;
BumpHunter, arXiv:1101.0390.
"""

from __future__ import annotations

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
from anode_cathode.bumphunt.scan import (
    BumpHunterResult,
    CutResult,
    ToyScan,
    apply_cut,
    background_toys,
    fold_thresholds,
    histogram_edges,
    pybumphunter_crosscheck,
    window_bumphunt,
)
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

__all__ = [
    "SQRT_S_TEV",
    "BumpHunterResult",
    "CutResult",
    "DijetFit",
    "GlobalPValue",
    "ToyScan",
    "apply_cut",
    "asimov_z",
    "background_toys",
    "bin_integrals",
    "choose_fit",
    "count_upcrossings",
    "dijet_density",
    "fit_dijet",
    "fold_thresholds",
    "ftest_pvalue",
    "global_pvalue",
    "gross_vitells",
    "histogram_edges",
    "local_significance",
    "predict",
    "pybumphunter_crosscheck",
    "q0_statistic",
    "trials_factor_pvalue",
    "window_bumphunt",
]
