"""Dijet fit of an LHCO-like spectrum with and without the rapidity-gap selection (docs/data.md).

``python docs/make_delta_y_check.py`` generates QCD events with the built-in generator but a
wide rapidity range (``dy_max`` 3, like the LHCO R&D sample, which has no |Δy| selection),
then fits the 4-parameter dijet function to the m_JJ spectrum (100 GeV bins) from 2.9 and from
3.0 TeV to 7.0 TeV, once with all events and once after ``data.max_delta_y: 1.3`` as applied
to every input (:func:`anode_cathode.data.selection.select_events`). Prints a Markdown table of
the goodness-of-fit p-values. About a minute on one core.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from anode_cathode.bumphunt.functions import fit_dijet
from anode_cathode.data.features import compute_features
from anode_cathode.data.generate import GeneratorParams, generate_background
from anode_cathode.data.selection import select_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    raw = generate_background(
        args.events, np.random.default_rng(args.seed), GeneratorParams(dy_max=3.0)
    )
    print(f"{args.events} generated QCD events with |dy| < 3\n")
    print("| selection | events | fit from | chi2 / ndf (deviance) | p-value |")
    print("|---|---|---|---|---|")
    for label, max_dy in (("none", None), ("abs(dy) < 1.3", 1.3)):
        mjj = compute_features(select_events(raw, max_dy))["mjj"].to_numpy()
        for lo in (2.9, 3.0):
            edges = np.round(np.arange(lo, 7.0001, 0.1), 6)
            counts = np.histogram(mjj, edges)[0].astype(float)
            try:
                fit = fit_dijet(edges, counts, np.ones(counts.size, bool), 4)
                cells = f"{fit.deviance:.1f} / {fit.ndf} | {fit.gof_pvalue:.2g}"
            except ValueError as err:
                cells = f"fit failed ({err}) |"
            print(f"| {label} | {mjj.size} | {lo} TeV | {cells} |")


if __name__ == "__main__":
    main()
