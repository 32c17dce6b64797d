"""Bias test and fit-range variation of the background functions (docs/bumphunt.md).

``python docs/make_fit_bias_table.py`` prints the Markdown tables quoted in docs/bumphunt.md:
for the m_JJ spectrum of the built-in generator (1M QCD events, as in the default run, and a
1 % subsample, the size of the spectrum after a 1 % score cut), every candidate function is
fitted, SR excluded, to background-only pseudo-spectra drawn from every other function fitted
to that spectrum (:func:`anode_cathode.bumphunt.bias.bias_table`), in two signal regions; then
the SR prediction of the chosen default is shown with the fit range starting later
(:func:`anode_cathode.bumphunt.bias.fit_range_variation`). About two minutes on one core.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from anode_cathode.bumphunt.bias import bias_table, fit_range_variation
from anode_cathode.bumphunt.cuts import histogram_edges
from anode_cathode.data.features import compute_features
from anode_cathode.data.generate import generate_background
from anode_cathode.data.regions import Window

FIT_RANGE = (2.9, 7.0)  # the scan configs' fit range: above the trigger turn-on
WINDOWS = (Window(3.3, 3.7), Window(4.1, 4.5))
FITS = ("3", "4", "5", "ua2", "ftest")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--toys", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    mjj = compute_features(generate_background(args.events, rng))["mjj"].to_numpy()
    print(f"{args.events} generator QCD events, {args.toys} pseudo-spectra per cell\n")
    print("mean pull (b_fit - b_true) / sigma_b [its standard deviation] of the SR prediction\n")
    for fraction in (1.0, 0.01):
        sample = mjj if fraction == 1.0 else rng.choice(mjj, int(fraction * mjj.size), False)
        for window in WINDOWS:
            edges, sr = histogram_edges(window, FIT_RANGE, 0.1)
            counts = np.histogram(sample, edges)[0].astype(float)
            table = bias_table(edges, counts, sr, ~sr, fits=FITS, n_toys=args.toys)
            print(f"### {window.name}, {sample.size} events ({counts[sr].sum():.0f} in the SR)\n")
            print("| truth \\ fit | " + " | ".join(FITS) + " |")
            print("|---" * (len(FITS) + 1) + "|")
            for truth, rows in table.groupby("truth", sort=False):
                cells = [f"{r.mean_pull:+.2f} [{r.std_pull:.2f}]" for r in rows.itertuples()]
                print(f"| {truth} | " + " | ".join(cells) + " |")
            print()
    print("### fit-range variation of the 4-parameter fit (1M events)\n")
    print("| window | fit from (TeV) | b | sigma_b | shift / sigma_b,nominal | significance |")
    print("|---|---|---|---|---|---|")
    for window in WINDOWS:
        edges, sr = histogram_edges(window, FIT_RANGE, 0.1)
        counts = np.histogram(mjj, edges)[0].astype(float)
        var = fit_range_variation(edges, counts, sr, ~sr, "4", [2.9, 3.0, 3.1])
        for r in var.itertuples():
            print(
                f"| {window.name} | {r.low:.1f} | {r.b:.0f} | {r.sigma_b:.1f} | "
                f"{r.shift:+.2f} | {r.significance:+.2f} |"
            )


if __name__ == "__main__":
    main()
