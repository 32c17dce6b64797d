"""Training and inference throughput of the classifiers on synthetic data.

Run ``python benchmarks/classifier_training.py`` (defaults: 500k rows x 4 features, 1 thread).
Timings are the best of ``--repeat`` runs. The MLP trains on all ``--rows`` rows and validates
on a separate 20 % sized set; BDT members are timed on ``--bdt-rows`` rows with early stopping
(half of them held out for validation, as in the reference setup).
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_of  # benchmarks/timing.py, beside this script

from anode_cathode.classifiers import BDTClassifier, MLPClassifier
from anode_cathode.core.device import set_threads

__all__ = ["main", "synthetic"]


def synthetic(n: int, d: int, seed: int, frac: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features; the positive class (fraction ``frac``) is shifted by 0.5 per feature."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < frac).astype(np.int64)
    X = rng.normal(size=(n, d)).astype(np.float32) + 0.5 * y[:, None]
    return X, y


def bench_mlp(args: argparse.Namespace) -> None:
    X, y = synthetic(args.rows, args.features, 0)
    X_val, y_val = synthetic(args.rows // 5, args.features, 1)
    print(f"MLP (3x64), {args.rows} training rows, {len(y_val)} validation rows, {args.device}")
    print(f"{'batch':>6} {'epochs':>6} {'s/epoch':>8} {'train rows/s':>13}")
    model = None
    for bs in args.batch_sizes:
        clf = MLPClassifier(
            batch_size=bs,
            epochs=args.epochs,
            n_best_epochs=args.epochs,
            device=args.device,
            n_threads=args.threads,
            random_state=0,
        )
        seconds, model = best_of(
            lambda clf=clf: clf.fit(X, y, X_val=X_val, y_val=y_val), args.repeat
        )
        per_epoch = seconds / args.epochs
        print(f"{bs:6d} {args.epochs:6d} {per_epoch:8.2f} {args.rows / per_epoch:13,.0f}")
    X_inf, _ = synthetic(args.inference_rows, args.features, 2)
    for k in (1, 10):  # one network and the default 10-epoch ensemble
        model.snapshots_ = [model.snapshots_[0]] * k
        seconds, _ = best_of(lambda: model.decision_function(X_inf), args.repeat)
        print(
            f"inference, {k:2d} snapshot(s), {args.inference_rows} rows: {seconds:6.2f} s "
            f"({args.inference_rows / seconds:,.0f} rows/s)"
        )


def bench_bdt(args: argparse.Namespace) -> None:
    X, y = synthetic(args.bdt_rows, args.features, 3)
    X_inf, _ = synthetic(args.inference_rows, args.features, 4)
    print(f"\nBDT, one member, {args.bdt_rows} rows (early stopping on half of them)")
    print(f"{'backend':>8} {'fit s':>7} {'rounds':>6} {'train rows/s':>13} {'infer rows/s':>13}")
    for backend in args.backends:
        clf = BDTClassifier(backend, n_models=1, n_threads=args.threads, random_state=0)
        fit_s, _ = best_of(lambda clf=clf: clf.fit(X, y), args.repeat)
        member = clf.estimators_[0]
        rounds = member.n_iter_ if backend == "hgb" else member.best_iteration + 1
        inf_s, _ = best_of(lambda clf=clf: clf.decision_function(X_inf), args.repeat)
        print(
            f"{backend:>8} {fit_s:7.2f} {rounds:6d} {args.bdt_rows / fit_s:13,.0f} "
            f"{args.inference_rows / inf_s:13,.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    """Parse options and run the MLP and BDT benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000, help="MLP training rows")
    parser.add_argument("--bdt-rows", type=int, default=250_000, help="BDT training rows")
    parser.add_argument("--inference-rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024, 2048])
    parser.add_argument("--epochs", type=int, default=2, help="MLP epochs per timed fit")
    parser.add_argument("--backends", nargs="+", default=["hgb", "xgboost"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--skip", choices=["mlp", "bdt"], nargs="*", default=[])
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if "mlp" not in args.skip:
        bench_mlp(args)
    if "bdt" not in args.skip:
        bench_bdt(args)


if __name__ == "__main__":
    main()
