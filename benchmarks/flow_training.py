"""Training and sampling throughput of the CATHODE-reference flow on LHCO-scale sideband data.

Run ``python benchmarks/flow_training.py`` (defaults: 500k sideband events from the built-in
generator, the affine 15 × 128 MAF with batch norm, batch sizes 256 and 4096, CPU, one thread per
physical core). Three measurements per batch size:

1. *Throughput*: one epoch over ``--steps`` batches (plus 20 % of that for validation), best of
   ``--repeat`` fits (with ``--compile`` the second epoch: the first one compiles).
   ``--precision bfloat16`` runs the MADE networks' matrix products of the training steps in
   bfloat16 (mixed precision; validation and sampling stay float32).
   ``train ev/s`` counts optimisation steps only; ``epoch ev/s`` includes the batch-norm
   refresh on the training set and the validation pass.
2. *Convergence*: a fit on all events (80/20 split) for ``--epochs`` epochs; the table shows the
   validation loss (mean negative log-likelihood in the preprocessed space, lower is better)
   after the last epoch and the best one. Skipped with ``--epochs 0``.
3. *Sampling*: ``--sample-events`` draws from the 10-epoch mixture (or from the throughput fit
   when there is no convergence fit) at mjj values from the signal-region KDE.

The learning rate of batch size ``b`` is ``--lr`` scaled from ``--reference-batch`` with
``--lr-scaling`` (default ``linear``; see :func:`anode_cathode.density.scale_learning_rate` for
the measurements behind that choice). For a GPU, large batches (4096-16384) with linear scaling
are the intended setting: 100 epochs then take a few thousand steps.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from timing import best_of  # benchmarks/timing.py, beside this script

from anode_cathode.core.device import resolve_device, set_threads
from anode_cathode.data.features import BASE_FEATURES, compute_features
from anode_cathode.data.generate import generate_background
from anode_cathode.density import ConditionalFlow, MassKDE, scale_learning_rate

__all__ = ["main", "physical_cores", "sideband_data"]

SR = (3.3, 3.7)


def physical_cores() -> int:
    """Number of physical cores from ``/proc/cpuinfo`` (logical CPUs when unknown)."""
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:
        return os.cpu_count() or 1
    cores, physical = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "physical id":
            physical = value.strip()
        elif key.strip() == "core id":
            cores.add((physical, value.strip()))
    return len(cores) or os.cpu_count() or 1


def sideband_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` sideband events (features, mjj) and the signal-region mjj of the same sample."""
    rng = np.random.default_rng(seed)
    table = compute_features(generate_background(int(n / 0.85) + 1000, rng))
    sr = (table["mjj"] >= SR[0]) & (table["mjj"] < SR[1])
    sb = table[~sr].iloc[:n]
    if len(sb) < n:
        raise RuntimeError(f"generated only {len(sb)} sideband events for {n} requested")
    return sb[list(BASE_FEATURES)].to_numpy(), sb["mjj"].to_numpy(), table["mjj"][sr].to_numpy()


def make_flow(
    args: argparse.Namespace, batch_size: int, epochs: int, precision: str
) -> ConditionalFlow:
    lr = scale_learning_rate(args.lr, batch_size, args.reference_batch, args.lr_scaling)
    return ConditionalFlow(
        transform=args.transform,
        n_blocks=args.blocks,
        hidden_features=args.hidden,
        batch_size=batch_size,
        learning_rate=lr,
        epochs=epochs,
        n_best_epochs=min(10, epochs),
        compile=args.compile,
        train_precision=precision,
        device=args.device,
        n_threads=args.threads,
        random_state=args.seed,
        verbose=args.verbose,
    )


def measure(
    args: argparse.Namespace,
    X: np.ndarray,
    m: np.ndarray,
    m_samples: np.ndarray,
    bs: int,
    precision: str,
) -> str:
    """Throughput, convergence and sampling of one batch size and precision, as table cells."""
    n_train = min(args.steps * bs, int(0.8 * len(X)))
    n_val = max(1, n_train // 4)
    sub = slice(0, n_train)
    val = slice(n_train, n_train + n_val)
    times = []
    warmup = 1 if args.compile else 0  # the first compiled epoch includes compilation
    for _ in range(args.repeat):
        flow = make_flow(args, bs, 1 + warmup, precision).fit(X[sub], m[sub], X[val], m[val])
        times.append((flow.step_times_[-1], flow.epoch_times_[-1]))
    step_s = min(t[0] for t in times)
    epoch_s = min(t[1] for t in times)
    last = best = fit_s = float("nan")
    if args.epochs > 0:
        fit_s, flow = best_of(lambda: make_flow(args, bs, args.epochs, precision).fit(X, m), 1)
        last, best = flow.val_losses_[-1], flow.val_losses_.min()
    sample_s, samples = best_of(lambda: flow.sample(m_samples, random_state=1), args.repeat)
    assert samples.shape == (args.sample_events, X.shape[1]) and np.isfinite(samples).all()
    lr = scale_learning_rate(args.lr, bs, args.reference_batch, args.lr_scaling)
    return (
        f"{lr:8.2g} {n_train / step_s:11,.0f} {n_train / epoch_s:11,.0f} "
        f"{args.epochs:6d} {last:9.4f} {best:9.4f} {fit_s:7.0f} "
        f"{args.sample_events / sample_s:12,.0f}"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the three measurements per batch size and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000, help="sideband events")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--steps", type=int, default=100, help="steps of the throughput epoch")
    parser.add_argument("--epochs", type=int, default=0, help="epochs of the convergence fit")
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate at --reference-batch")
    parser.add_argument("--reference-batch", type=int, default=256)
    parser.add_argument("--lr-scaling", choices=["linear", "sqrt", "none"], default="linear")
    parser.add_argument("--transform", choices=["affine", "spline"], default="affine")
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--compile", action="store_true", help="torch.compile the train step")
    parser.add_argument(
        "--precision",
        choices=["float32", "bfloat16"],
        nargs="+",
        default=["float32"],
        help="matrix products of the MADE networks in the training steps (mixed precision); "
        "several: one row each, side by side",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=physical_cores())
    parser.add_argument("--sample-events", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    device = resolve_device(args.device)

    start = time.perf_counter()
    X, m, m_sr = sideband_data(args.events, args.seed)
    print(
        f"{len(X)} sideband events ({', '.join(BASE_FEATURES)} | mjj) generated in "
        f"{time.perf_counter() - start:.1f} s; device {device}, {args.threads} thread(s), "
        f"{args.transform} {args.blocks}x{args.hidden}, lr {args.lr:g} at batch "
        f"{args.reference_batch} scaled by {args.lr_scaling}"
        f"{', compiled' if args.compile else ''}"
    )
    kde = MassKDE().fit(m_sr, bounds=SR)
    m_samples = kde.sample(args.sample_events, random_state=args.seed)
    header = (
        f"{'batch':>6} {'precision':>9} {'lr':>8} {'train ev/s':>11} {'epoch ev/s':>11} "
        f"{'epochs':>6} {'val last':>9} {'val best':>9} {'fit s':>7} {'sample ev/s':>12}"
    )
    print(header)
    for bs in args.batch_sizes:
        for precision in args.precision:
            row = measure(args, X, m, m_samples, bs, precision)
            print(f"{bs:6d} {precision:>9} {row}", flush=True)
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
