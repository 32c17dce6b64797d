"""Markdown summary of the scan's p-value table (the workflow report's bump-hunt table)."""

from __future__ import annotations

import pandas as pd

__all__ = ["pvalue_markdown"]


def pvalue_markdown(
    table: pd.DataFrame, run: str, inj: str, ks: float, after_cuts: pd.DataFrame | None = None
) -> str:
    """Markdown table of the scan: one line per method, classifier and cut.

    Parameters
    ----------
    table
        The p-value table (rows of :func:`~anode_cathode.bumphunt.scan.scan_method`).
    run, inj
        Run name and injection tag, for the title.
    ks
        KS p-value of all local p-values against U(0, 1); they are correlated (nested cuts,
        overlapping windows, methods trained on the same events), so it is a rough look,
        not a test.
    after_cuts
        Per method and classifier, the number, mean and maximum of the signed local Z over
        every window and cut below 100 %
        (:func:`~anode_cathode.bumphunt.calibration.per_dataset_z`); left out when None.

    Returns
    -------
    str
        The document, ending with a newline.
    """
    lines = [
        f"# Bump hunt, run '{run}', data set {inj}",
        "",
        "Per method and score cut: the most significant window, its local significance (profile",
        "likelihood, background from the sideband dijet fit with its uncertainty) and the global",
        "p-value of the scan from background-only pseudo-experiments (windows treated as",
        "independent). Global Z (trials): the same look-elsewhere correction in closed form,",
        "1 - (1 - p_local)^n_windows, which also reaches a strong signal's p-value; it is exact",
        "for independent windows only (Bonferroni n·p is the strict bound). Both keep the",
        "trained selection fixed and count windows only, not the choice among cuts and methods:",
        "the p-values calibrated on null ensembles of the whole chain are those of the target",
        "calibrate. pyBumpHunter: its most significant interval and global Z on the same",
        "spectrum.",
        "",
        "| method | classifier | keep | best window | n_obs | b ± σ_b | local Z | global p |"
        " global Z (trials) | windows ≥ 3σ | pyBumpHunter |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        if pd.isna(r.get("local_z")):
            lines.append(
                f"| {r['method']} | {r['classifier']} | {r['efficiency']:g} | fit failed: "
                f"{r['error']} | | | | | | | |"
            )
            continue
        gp = (
            f"< {r['global_p']:.3g}"
            if r["global_p_upper_limit"]
            else f"{r['global_p']:.3g} ± {r['global_p_unc']:.2g}"
        )
        pbh = (
            f"{r['pbh_interval']} TeV, Z_glob {r['pbh_global_z']:.2f}"
            if "pbh_interval" in r and isinstance(r["pbh_interval"], str)
            else ""
        )
        lines.append(
            f"| {r['method']} | {r['classifier']} | {r['efficiency']:g} | {r['best_window']} | "
            f"{r['n_obs']:.0f} | {r['b']:.1f} ± {r['sigma_b']:.1f} | {r['local_z']:.2f} | {gp} | "
            f"{r['global_z_trials']:.2f} | "
            f"{int(r['windows_above_3sigma'])}/{int(r['n_windows'])} | {pbh} |"
        )
    if after_cuts is not None and len(after_cuts):
        lines += [
            "",
            "After the cuts: the signed local Z of every window and cut below 100 %, per method.",
            "On background-only data this is a quick look at sculpting (mean near 0, nothing at",
            "3σ), but a weak one: nested cuts and overlapping windows share the data set's own",
            "fluctuations, so one data set's mean strays by about ±0.5 even for a selection",
            "that cannot sculpt; the calibration's null_check.md gives how often null data sets",
            "pass, per method.",
            "",
            "| method | classifier | tests | mean local Z | max local Z |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.method} | {r.classifier} | {r.tests} | {r.mean_z:+.2f} | {r.max_z:.2f} |"
            for r in after_cuts.itertuples()
        ]
    lines += [
        "",
        f"Local (signed) p-values of all methods, windows and cuts against U(0,1): KS {ks:.3f}.",
        "These values are correlated (nested cuts, overlapping windows, methods trained on the",
        "same events), so this is a rough look, not a test of uniformity; the calibration",
        "(target calibrate) tests one value per independent background-only data set.",
    ]
    return "\n".join(lines) + "\n"
