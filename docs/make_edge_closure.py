"""Edge closure of CATHODE's samples: delta_mj near its hard edge at 0 (docs/methods.md).

``python docs/make_edge_closure.py results/default/n1000-s0/sr3300-3700`` reads a window of a
finished run (its ``split.h5`` and every fold's ``cathode/fold*/samples.h5``) and prints, per
delta_mj bin in GeV, the ratio of the samples' and the true SR background's distributions (each
normalised to one) with its statistical error, and the fraction of samples below 0. Seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from anode_cathode.data.io import read_tables

EDGES_GEV = (0.0, 5.0, 12.5, 25.0, 50.0, 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("window_dir", type=Path, help="results/<run>/<injection>/<window>")
    args = parser.parse_args()
    data = read_tables(args.window_dir / "split.h5")["data"]
    sr_lo, sr_hi = (float(x) for x in args.window_dir.name.removeprefix("sr").split("-"))
    in_sr = (data["mjj"] >= sr_lo / 1000) & (data["mjj"] < sr_hi / 1000)
    truth = 1000 * data.loc[in_sr & (data["label"] == 0), "delta_mj"].to_numpy()
    files = sorted(args.window_dir.glob("cathode/fold*/samples.h5"))
    if not files:
        raise SystemExit(f"{args.window_dir}: no cathode/fold*/samples.h5 (run CATHODE first)")
    samples = 1000 * np.concatenate(
        [read_tables(f)["samples"]["delta_mj"].to_numpy() for f in files]
    )
    h_t = np.histogram(truth, EDGES_GEV)[0]
    h_s = np.histogram(samples, EDGES_GEV)[0]
    ratio = (h_s / samples.size) / (h_t / truth.size)
    error = ratio * np.sqrt(1.0 / h_t + 1.0 / np.maximum(h_s, 1))
    print(f"{args.window_dir}: {truth.size} SR background events, {samples.size} samples\n")
    print("| delta_mj (GeV) | SR background | samples / truth |")
    print("|---|---|---|")
    for lo, hi, n, r, e in zip(EDGES_GEV, EDGES_GEV[1:], h_t, ratio, error, strict=False):
        print(f"| [{lo:g}, {hi:g}) | {n} | {r:.3f} ± {e:.3f} |")
    print(f"\nsamples below 0: {np.mean(samples < 0):.2e}")


if __name__ == "__main__":
    main()
