"""Calibration step: the observed scan against background-only ensembles of the whole chain.

Reads the per-window bump-hunt results of the observed data set, of ``calibration.n_null``
null data sets (the empirical null distribution) and of ``calibration.n_test`` further null
data sets (calibrated like the observed one: their p-values must be uniform), and writes to
``out_dir``:

* ``calibrated.csv`` / ``calibrated.md``: per method, classifier and cut (and the
  pre-registered family) the observed maximum local Z with the spurious-signal term, its
  calibrated global p-value, and beside it the fixed-selection toys, the trials formula and
  Bonferroni, labelled as not accounting for training;
* ``spurious.csv``: the spurious signal per method, classifier, cut and window;
* ``null_check.md``, ``null_check.csv``: the spread of the local Z over the null data sets
  (with and without the spurious term) and the uniformity of the test sets' calibrated p;
  ``null_datasets.csv``: the per-data-set sculpting check (mean and maximum local Z of each
  null data set after the cuts, and how often it passes);
* ``max_z_cdf_<method>_<clf>.png``, ``local_z_null.png``: the plots of the report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kstest, norm

from anode_cathode.bumphunt.calibration import (
    calibrated_pvalue,
    dataset_summary,
    family_maxima,
    result_rows,
    spurious_uncertainty,
    with_spurious_term,
)
from anode_cathode.bumphunt.plots import plot_local_z_null, plot_max_z_cdf
from anode_cathode.bumphunt.significance import (
    bonferroni_pvalue,
    global_pvalue,
    trials_factor_pvalue,
)
from anode_cathode.bumphunt.toys import background_toys
from anode_cathode.bumphunt.window import CutResult
from anode_cathode.core.files import PathArg, write_text
from anode_cathode.data.io import write_csv
from anode_cathode.data.pseudo import KIND_LABELS, pseudo_data_kind

__all__ = ["calibrate"]

log = logging.getLogger(__name__)


def _dataset_of(path: PathArg) -> str:
    """Data-set tag of ``<run>/<inj>/<window>/bumphunt/<combo>.json``."""
    return Path(path).parents[2].name


def _rows(paths: Sequence[PathArg]) -> tuple[pd.DataFrame, dict[str, list[dict[str, Any]]]]:
    rows, raw = [], {}
    for path in paths:
        d = json.loads(Path(path).read_text())
        rows += result_rows(_dataset_of(path), d)
        raw.setdefault(f"{d['method']}_{d['classifier']}", []).append(d)
    return pd.DataFrame(rows), raw


def _row(
    family: str, pre_registered: bool, where: str, best: Any, maxima: Any, n_tests: int
) -> dict[str, Any]:
    """One line of the calibrated table: the observed maximum ``best`` of a family."""
    cal = calibrated_pvalue(best.z_cal, maxima)
    p_local = float(norm.sf(best.z_cal))
    return {
        "family": family,
        "pre_registered": pre_registered,
        "best_window": where,
        "n_obs": best.n_obs,
        "b": best.b,
        "sigma_b": best.sigma_b,
        "sigma_spur": best.sigma_spur,
        "local_z": best.z_cal,
        "local_z_fit_only": best.z,
        "calibrated_p": cal.p,
        "calibrated_p_unc": cal.uncertainty,
        "calibrated_k": cal.k,
        "n_null": cal.n,
        "toys_p_fixed_selection": np.nan,
        "trials_p": trials_factor_pvalue(p_local, n_tests),
        "bonferroni_p": bonferroni_pvalue(p_local, n_tests),
        "n_tests": n_tests,
    }


def _observed_table(
    observed: pd.DataFrame,
    raw: Mapping[str, list[dict[str, Any]]],
    null: pd.DataFrame,
    family: str,
    n_toys: int,
    seed: int,
) -> tuple[pd.DataFrame, dict[tuple[str, str, float], np.ndarray]]:
    """Per (method, classifier, cut) and for ``family``: observed maximum and its p-values,
    and the fixed-selection toys' maxima of each cut (for the plots)."""
    rows, toy_max = [], {}
    rng = np.random.default_rng(seed)
    for (method, clf, eff), obs in observed.groupby(["method", "classifier", "efficiency"]):
        best = obs.loc[obs.z_cal.idxmax()]
        sel = null[(null.method == method) & (null.classifier == clf)]
        maxima = sel[np.isclose(sel.efficiency, eff)].groupby("dataset").z_cal.max()
        name = f"{method}_{clf}@{eff:g}"
        row = _row(name, family == name, best.window, best, maxima, len(obs))
        results = [
            CutResult.from_dict(r)
            for d in raw[f"{method}_{clf}"]
            for r in d["results"]
            if np.isclose(r["efficiency"], eff)
        ]
        toys = background_toys(results, n_toys, rng).max_z
        toy_max[(method, clf, float(eff))] = toys
        row["toys_p_fixed_selection"] = global_pvalue(best.z, toys).p
        rows.append(row)
    if family == "all":
        best = observed.loc[observed.z_cal.idxmax()]
        where = f"{best.method}_{best.classifier}@{best.efficiency:g} {best.window}"
        rows.append(_row("all", True, where, best, family_maxima(null, "all"), len(observed)))
    return pd.DataFrame(rows), toy_max


def _spread(null: pd.DataFrame, label: str) -> pd.DataFrame:
    """Mean and standard deviation of the signed local Z per method, classifier and cut."""
    g = null.groupby(["method", "classifier", "efficiency"])
    out = pd.DataFrame(
        {
            "values": g.z_cal_signed.size(),
            "mean_z": g.z_cal_signed.mean(),
            "std_z": g.z_cal_signed.std(ddof=1),
            "std_z_fit_only": g.z_signed.std(ddof=1),
            "max_z": g.z_cal.max(),
            "above_3sigma": g.z_cal.apply(lambda z: int((z >= 3).sum())),
        }
    ).reset_index()
    out.insert(0, "null_sets", label)
    return out


def _fmt(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.3g}"


def _fmt_p(p: float, unc: float, k: int, n: int) -> str:
    return f"< {1 / n:.2g} (0/{n})" if k == 0 else f"{p:.3g} ± {unc:.2g} ({k}/{n})"


def calibrate(
    cfg: Mapping[str, Any],
    observed: Sequence[PathArg],
    null: Sequence[PathArg],
    test: Sequence[PathArg],
    out_dir: PathArg,
) -> str:
    """Calibrate the observed scan with the null ensembles; returns ``calibrated.md``."""
    cal, bh = cfg["calibration"], cfg["bumphunt"]
    out = Path(out_dir)
    obs_rows, raw = _rows(observed)
    null_rows, _ = _rows(null)
    test_rows, _ = _rows(test) if test else (pd.DataFrame(columns=obs_rows.columns), {})
    sigma_spur = spurious_uncertainty(null_rows)
    obs_rows = with_spurious_term(obs_rows, sigma_spur)
    null_rows = with_spurious_term(null_rows, sigma_spur)
    table, toy_max = _observed_table(
        obs_rows, raw, null_rows, cal["family"], bh["n_toys"], bh["seed"]
    )
    write_csv(table.assign(pseudo_data=pseudo_data_kind(cfg)), out / "calibrated.csv")
    write_csv(sigma_spur, out / "spurious.csv")

    spreads = [_spread(null_rows, f"{null_rows.dataset.nunique()} calibration")]
    test_p: list[float] = []
    if test:
        test_rows = with_spurious_term(test_rows, sigma_spur)
        spreads.append(_spread(test_rows, f"{test_rows.dataset.nunique()} test"))
        reference = family_maxima(null_rows, cal["family"])
        test_max = family_maxima(test_rows, cal["family"])
        test_p = [calibrated_pvalue(z, reference).p for z in test_max]
    spread = pd.concat(spreads, ignore_index=True)
    write_csv(spread, out / "null_check.csv")
    # Calibration and test sets are alike background-only: pooled for the per-set check.
    per_set = dataset_summary(
        pd.concat([null_rows, test_rows] if test else [null_rows], ignore_index=True)
    )
    write_csv(per_set, out / "null_datasets.csv")
    ks = float(kstest(test_p, "uniform").pvalue) if len(test_p) >= 2 else float("nan")

    for (method, clf), sel in null_rows.groupby(["method", "classifier"]):
        plot_max_z_cdf(
            {
                float(eff): g.groupby("dataset").z_cal.max().to_numpy()
                for eff, g in sel.groupby("efficiency")
            },
            {eff: t for (m, c, eff), t in toy_max.items() if (m, c) == (method, clf)},
            n_windows=sel.window.nunique(),
            observed={
                float(r.family.split("@")[1]): r.local_z
                for r in table.itertuples()
                if r.family.startswith(f"{method}_{clf}@")
            },
            path=out / f"max_z_cdf_{method}_{clf}.png",
            title=f"{method} ({clf})",
        )
    plot_local_z_null(null_rows, out / "local_z_null.png")

    md = _markdown(cfg, table, spread, per_set, test_p, ks, len(null), obs_rows)
    write_text(out / "calibrated.md", md)
    kind = KIND_LABELS[pseudo_data_kind(cfg)]
    write_text(
        out / "null_check.md", _null_markdown(spread, per_set, test_p, ks, cal["family"], kind)
    )
    return md


def _markdown(
    cfg: Mapping[str, Any],
    table: pd.DataFrame,
    spread: pd.DataFrame,
    per_set: pd.DataFrame,
    test_p: Sequence[float],
    ks: float,
    n_files: int,
    observed: pd.DataFrame,
) -> str:
    cal = cfg["calibration"]
    kind = KIND_LABELS[pseudo_data_kind(cfg)]
    lines = [
        f"# Calibrated bump hunt, run '{cfg['run']}', data set {observed.dataset.iloc[0]}",
        "",
        f"Null ensemble: {int(table.n_null.max())} background-only pseudo-data sets ({kind}), "
        "each through the whole chain (flows, samples, classifiers, folds, cuts, fits). "
        "Local Z includes the spurious-signal uncertainty σ_spur of each selection. The "
        "calibrated global p is the fraction k/N of null data sets whose maximum local Z over "
        f"the family reaches the observed one; its resolution is 1/N. Pre-registered family: "
        f"**{cal['family']}**. The last three columns keep the selection fixed (toys around "
        "the fit, the trials formula 1-(1-p)^n, Bonferroni n·p over the family's tests): "
        "they do not account for training on the data.",
        "",
        "| family | best window | n_obs | b ± σ_b ± σ_spur | local Z | calibrated global p "
        "| toys (fixed sel.) | trials | Bonferroni |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        name = f"**{r.family}** (pre-registered)" if r.pre_registered else r.family
        lines.append(
            f"| {name} | {r.best_window} | {r.n_obs:.0f} | {r.b:.1f} ± {r.sigma_b:.1f} ± "
            f"{r.sigma_spur:.1f} | {r.local_z:.2f} | "
            f"{_fmt_p(r.calibrated_p, r.calibrated_p_unc, r.calibrated_k, r.n_null)} | "
            f"{_fmt(r.toys_p_fixed_selection)} | {r.trials_p:.3g} | {r.bonferroni_p:.3g} |"
        )
    lines += ["", _null_markdown(spread, per_set, test_p, ks, cal["family"], kind)]
    return "\n".join(lines) + "\n"


def _null_markdown(
    spread: pd.DataFrame,
    per_set: pd.DataFrame,
    test_p: Sequence[float],
    ks: float,
    family: str,
    kind: str,
) -> str:
    lines = [
        "## Null check (one value per independent null data set)",
        "",
        f"Null data sets: {kind}.",
        "",
        "Signed local Z over the null data sets, pooled over windows (one value per data set "
        "and window): with the spurious-signal term its standard deviation should be 1.",
        "",
        "| null sets | method | classifier | keep | values | mean Z | std Z | std Z (fit only) "
        "| max Z | ≥ 3σ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in spread.itertuples():
        lines.append(
            f"| {r.null_sets} | {r.method} | {r.classifier} | {r.efficiency:g} | {r.values} | "
            f"{r.mean_z:+.2f} | {r.std_z:.2f} | {r.std_z_fit_only:.2f} | {r.max_z:.2f} | "
            f"{r.above_3sigma} |"
        )
    lines += [
        "",
        "Per data set (calibration and test sets together): the mean of its signed local Z "
        "over every window and cut below 100 %, and whether it passes the single-data-set "
        "sculpting check (mean within ±0.3, no test at 3σ). Even a selection that cannot "
        "sculpt fails it on many data sets, since nested cuts and overlapping windows share "
        "each data set's fluctuations: compare a method's pass rate with the idealized "
        "detector's, not with 100 %.",
        "",
        "| method | classifier | data sets | tests per set | mean of the means | "
        "std of the means | mean within ±0.3 | no test ≥ 3σ | both |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in per_set.itertuples():
        lines.append(
            f"| {r.method} | {r.classifier} | {r.datasets} | {r.tests_per_set} | "
            f"{r.mean_of_means:+.2f} | {r.std_of_means:.2f} | {r.frac_mean_ok:.0%} | "
            f"{r.frac_max_ok:.0%} | {r.frac_pass:.0%} |"
        )
    if len(test_p):
        lines += [
            "",
            f"Calibrated global p of the {len(test_p)} test null data sets (family {family}, "
            f"against the calibration sets): KS p-value against U(0, 1) = {ks:.3f} (one "
            "independent value per data set; p has steps of 1/N).",
            "",
            "p values: " + ", ".join(f"{p:.2f}" for p in sorted(test_p)),
        ]
    return "\n".join(lines) + "\n"
