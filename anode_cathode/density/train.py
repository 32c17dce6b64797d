"""Maximum-likelihood training loop for conditional flows, with an epoch ensemble.

Used by :class:`~anode_cathode.density.flow.ConditionalFlow` and usable with any model that has
``log_prob(inputs, context=...)`` (an nflows ``Flow``). Reference setup (CATHODE,
arXiv:2109.00546; ANODE, arXiv:2001.04990): Adam, lr 1e-4, batch 256, 100 epochs, the models of
the 10 epochs with the lowest validation loss are kept, and the batch-norm statistics are
recomputed on the whole training set after every epoch.

Design choices:

* The data move to the device once; every epoch draws one permutation on the device and the
  batches are slices of the permuted tensors (no ``DataLoader``, no per-batch copies), so large
  batches run at full speed on a GPU.
* Losses are mean negative log-likelihoods of whatever space the model sees (for
  ``ConditionalFlow`` the preprocessed space; the preprocessing Jacobian is a constant offset
  for a given data set, so the epoch ranking is the same as in the original space).
* A NaN or infinite training or validation loss raises :class:`FloatingPointError` naming the
  epoch; nothing is filtered (PHYSICS.md §6).
* On the CPU a fit is deterministic for a fixed ``seed`` and thread count: the batch order comes
  from a ``torch.Generator`` seeded with ``seed`` (initial weights are the caller's business).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from nflows.transforms import BatchNorm, CompositeTransform
from torch import nn
from tqdm.auto import tqdm

from anode_cathode.classifiers.ensemble import TopKSnapshots
from anode_cathode.data.io import atomic_path

__all__ = [
    "TrainResult",
    "default_chunk_size",
    "mean_nll",
    "num_threads",
    "refresh_batchnorm",
    "scale_learning_rate",
    "train_density",
]

logger = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


@dataclass
class TrainResult:
    """What :func:`train_density` returns; entry ``i`` of each array is epoch ``i + 1``.

    Attributes
    ----------
    train_losses, val_losses
        Mean negative log-likelihood per epoch (training: running mean over the batches in
        training mode; validation: the model after the epoch, in eval mode).
    best_epochs
        0-based indices of the ``n_best`` epochs with the lowest validation loss, best first.
    snapshots
        CPU state dicts of the models after the epochs in ``best_epochs``, same order.
    epoch_seconds
        Wall time of every epoch (steps, batch-norm refresh, validation, checkpoint).
    step_seconds
        Wall time of the optimisation steps alone (device synchronised at the end).
    """

    train_losses: np.ndarray
    val_losses: np.ndarray
    best_epochs: np.ndarray
    snapshots: list[StateDict]
    epoch_seconds: np.ndarray
    step_seconds: np.ndarray


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run with ``torch.set_num_threads(n)`` when ``n`` is given, restoring the old value."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def default_chunk_size(device: torch.device) -> int:
    """Rows per no-grad forward pass: large on a GPU, cache-sized on a CPU."""
    return 262_144 if device.type == "cuda" else 8_192


def scale_learning_rate(
    learning_rate: float,
    batch_size: int,
    reference_batch_size: int = 256,
    rule: Literal["linear", "sqrt", "none"] = "linear",
) -> float:
    """Learning rate for ``batch_size`` given one tuned at ``reference_batch_size``.

    ``"linear"`` (default) scales with the batch-size ratio (Goyal et al., arXiv:1706.02677);
    ``"sqrt"`` with its square root, the rule that keeps Adam's gradient-noise scale constant
    (Malladi et al., arXiv:2205.10287) and the safer choice far beyond the batch sizes below.
    Linear is the default because CATHODE's lr 1e-4 at batch 256 is conservative: on 500k
    LHCO-like sideband events the 15 × 128 MAF trained stably up to batch 16384 (lr 6.4e-3) and
    reached a lower validation loss after 10 epochs than batch 256 or square-root scaling, and on
    100k events its best validation loss over 100 epochs matched batch 256 at batches 1024 and
    4096 (``benchmarks/flow_training.py``).

    Examples
    --------
    >>> scale_learning_rate(1e-4, 4096)
    0.0016
    >>> scale_learning_rate(1e-4, 4096, rule="sqrt")
    0.0004
    """
    ratio = int(batch_size) / int(reference_batch_size)
    factors = {"sqrt": math.sqrt(ratio), "linear": ratio, "none": 1.0}
    if rule not in factors:
        raise ValueError(f"rule must be one of {sorted(factors)}, got {rule!r}")
    return float(learning_rate) * factors[rule]


def _adam(params: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Fused Adam where the device has the kernel (fewer launches, faster steps)."""
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _flat_transforms(transform: nn.Module) -> list[nn.Module]:
    """The transforms of nested ``CompositeTransform`` objects, in the order they are applied."""
    if isinstance(transform, CompositeTransform):
        return [t for sub in transform._transforms for t in _flat_transforms(sub)]
    return [transform]


@torch.no_grad()
def refresh_batchnorm(
    flow: nn.Module,
    inputs: torch.Tensor,
    context: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> int:
    """Set the running statistics of every ``BatchNorm`` transform to exact full-data values.

    Layer by layer, the whole ``inputs`` set is pushed through the transforms of ``flow``; at
    each ``nflows.transforms.BatchNorm`` the running mean and (unbiased) variance are set to the
    mean and variance of its inputs over all rows, computed in float64, before the layer is
    applied with them. Eval-mode densities then equal those of one training-mode pass over the
    full set (CATHODE's refresh after every epoch). Memory: one copy of ``inputs``.

    Parameters
    ----------
    flow
        An nflows ``Flow`` whose ``_transform`` is a (possibly nested) ``CompositeTransform``;
        any module without batch-norm layers is left alone.
    inputs, context
        Training data and conditions on the flow's device.
    chunk_size
        Rows per forward pass of the other transforms (:func:`default_chunk_size` if ``None``).

    Returns
    -------
    int
        Number of batch-norm layers refreshed.

    Raises
    ------
    NotImplementedError
        If a batch-norm layer sits inside another transform (for example a MADE built with
        ``use_batch_norm=True``): its inputs cannot be collected in one pass.
    """
    kinds = (BatchNorm, nn.modules.batchnorm._BatchNorm)
    every = [m for m in flow.modules() if isinstance(m, kinds)]
    if not every:
        return 0
    transform = getattr(flow, "_transform", None)
    transforms = _flat_transforms(transform) if transform is not None else []
    top = [t for t in transforms if isinstance(t, BatchNorm)]
    if len(every) != len(top):
        raise NotImplementedError(
            "refresh_batchnorm handles BatchNorm transforms of the top-level CompositeTransform "
            f"of an nflows Flow only; found {len(every) - len(top)} nested batch-norm layer(s)"
        )
    chunk = int(chunk_size or default_chunk_size(inputs.device))
    was_training = flow.training
    flow.eval()
    try:
        ctx = flow._embedding_net(context) if context is not None else None
        h = inputs
        for transform in transforms:
            if isinstance(transform, BatchNorm):
                h64 = h.double()
                transform.running_mean.copy_(h64.mean(0))
                transform.running_var.copy_(h64.var(0))
                h = transform(h, ctx)[0]
                continue
            out = torch.empty_like(h)
            for s in range(0, h.shape[0], chunk):
                c = None if ctx is None else ctx[s : s + chunk]
                out[s : s + chunk] = transform(h[s : s + chunk], c)[0]
            h = out
    finally:
        flow.train(was_training)
    return len(top)


def mean_nll(
    model: nn.Module,
    inputs: torch.Tensor,
    context: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> float:
    """Mean of ``-model.log_prob(inputs, context)`` in eval mode, summed in float64 by chunks.

    Only call it on a trained model: an nflows batch-norm layer in eval mode before any
    training step has zero running variance and gives meaningless densities.
    """
    chunk = int(chunk_size or default_chunk_size(inputs.device))
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=inputs.device)
    try:
        with torch.inference_mode():
            for s in range(0, inputs.shape[0], chunk):
                c = None if context is None else context[s : s + chunk]
                total -= model.log_prob(inputs[s : s + chunk], context=c).double().sum()
    finally:
        model.train(was_training)
    return total.item() / max(1, inputs.shape[0])


def _check_finite(epoch: int, train_loss: float, val_loss: float, hint: str) -> None:
    if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
        raise FloatingPointError(
            f"non-finite loss at epoch {epoch + 1} (epochs counted from 1): training "
            f"{train_loss}, validation {val_loss}{hint}"
        )


def _save_checkpoint(directory: Path, epoch: int, payload: dict[str, Any]) -> None:
    with atomic_path(directory / f"epoch_{epoch + 1:04d}.pt") as tmp:
        torch.save(payload, tmp)


def _cpu_state(model: nn.Module) -> StateDict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def train_density(
    model: nn.Module,
    inputs: torch.Tensor | np.ndarray,
    context: torch.Tensor | np.ndarray | None,
    val_inputs: torch.Tensor | np.ndarray,
    val_context: torch.Tensor | np.ndarray | None,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    n_best: int = 10,
    early_stopping_patience: int | None = None,
    refresh_batchnorm_stats: bool = True,
    device: torch.device | str = "cpu",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    chunk_size: int | None = None,
    compile: bool = False,
    verbose: bool = False,
    description: str = "flow",
    hint: str = "",
) -> TrainResult:
    """Fit ``model`` by maximum likelihood with Adam and keep its best epochs.

    Parameters
    ----------
    model
        Module with ``log_prob(inputs, context=...)``; moved to ``device`` and trained in place.
    inputs, context
        Training data ``(N, d)`` and conditions ``(N, c)`` (``context`` may be ``None``); float32
        arrays or tensors, copied to ``device`` once.
    val_inputs, val_context
        Validation data, same layout. Must be non-empty.
    epochs, batch_size, learning_rate, weight_decay
        Optimisation settings (Adam; fused kernel when available). The last incomplete batch of
        an epoch is used.
    n_best
        Number of lowest-validation-loss epochs whose weights are kept (running top-k on the CPU
        with :class:`~anode_cathode.classifiers.ensemble.TopKSnapshots`).
    early_stopping_patience
        Stop when the validation loss has not improved for this many epochs (``None``: never).
    refresh_batchnorm_stats
        After every epoch, set batch-norm running statistics to exact training-set values with
        :func:`refresh_batchnorm` (before the validation loss is computed).
    device
        Where to train.
    seed
        Seed of the ``torch.Generator`` that draws the batch order.
    checkpoint_dir
        If given, ``epoch_NNNN.pt`` (model and optimizer state, losses) is written there after
        every epoch, atomically.
    chunk_size
        Rows per no-grad pass for refresh and validation (:func:`default_chunk_size`).
    compile
        Compile the loss of a full batch with :func:`torch.compile` (forward and backward;
        a short last batch runs eagerly). On a CPU it needs a C++ compiler, costs roughly a
        minute of compilation per fit and makes batch-256 steps ≈ 1.6× faster; the numbers
        are not bitwise equal to eager mode.
    verbose
        Show the progress bar even without a terminal (it is shown on a TTY anyway).
    description
        Label of the progress bar.
    hint
        Appended to the :class:`FloatingPointError` message (for example a count of NaN inputs).

    Returns
    -------
    TrainResult
        Losses, timings, best epochs and their weights; ``model`` holds the last epoch's.

    Raises
    ------
    FloatingPointError
        When a training or validation loss is NaN or infinite; the message names the epoch.
    """
    dev = torch.device(device)
    if int(epochs) < 1 or int(batch_size) < 1 or int(n_best) < 1:
        raise ValueError("epochs, batch_size and n_best must be at least 1")

    def put(a: Any) -> torch.Tensor | None:
        return None if a is None else torch.as_tensor(a, dtype=torch.float32).to(dev)

    x, c, xv, cv = put(inputs), put(context), put(val_inputs), put(val_context)
    if x is None or xv is None or x.shape[0] == 0 or xv.shape[0] == 0:
        raise ValueError("training and validation sets must be non-empty")
    model.to(dev)
    opt = _adam(model.parameters(), float(learning_rate), float(weight_decay))
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    keeper: TopKSnapshots[StateDict] = TopKSnapshots(int(n_best))
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    n, bs = x.shape[0], int(batch_size)

    def nll_sum(xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        return -model.log_prob(xb, context=cb).sum()

    full_batch = torch.compile(nll_sum) if compile else nll_sum
    train_losses: list[float] = []
    val_losses: list[float] = []
    epoch_s: list[float] = []
    step_s: list[float] = []
    best, best_epoch = math.inf, -1
    bar = tqdm(
        total=int(epochs),
        desc=description,
        unit="epoch",
        disable=not (verbose or sys.stderr.isatty()),
        leave=bool(verbose),
    )
    try:
        for epoch in range(int(epochs)):
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=gen, device=dev)
            xp = x[perm]  # one gather per epoch; batches are views
            cp = None if c is None else c[perm]
            total = torch.zeros((), dtype=torch.float64, device=dev)
            for s in range(0, n, bs):
                xb, cb = xp[s : s + bs], None if cp is None else cp[s : s + bs]
                nll = (full_batch if xb.shape[0] == bs else nll_sum)(xb, cb)
                opt.zero_grad(set_to_none=True)
                (nll / xb.shape[0]).backward()
                opt.step()
                total += nll.detach()
            train_losses.append(total.item() / n)  # .item() synchronises the device
            step_s.append(time.perf_counter() - t0)
            if refresh_batchnorm_stats and math.isfinite(train_losses[-1]):
                refresh_batchnorm(model, x, c, chunk_size)
            val_losses.append(mean_nll(model, xv, cv, chunk_size))
            _check_finite(epoch, train_losses[-1], val_losses[-1], hint)
            keeper.offer(epoch, val_losses[-1], lambda: _cpu_state(model))
            if ckpt is not None:
                payload = {
                    "epoch": epoch + 1,
                    "model": _cpu_state(model),
                    "optimizer": opt.state_dict(),
                    "train_losses": list(train_losses),
                    "val_losses": list(val_losses),
                }
                _save_checkpoint(ckpt, epoch, payload)
            epoch_s.append(time.perf_counter() - t0)
            bar.set_postfix(train=f"{train_losses[-1]:.4f}", val=f"{val_losses[-1]:.4f}")
            bar.update()
            logger.debug(
                "%s epoch %d: train %.6f val %.6f (%.2f s)",
                description,
                epoch + 1,
                train_losses[-1],
                val_losses[-1],
                epoch_s[-1],
            )
            if val_losses[-1] < best:
                best, best_epoch = val_losses[-1], epoch
            elif early_stopping_patience is not None and (
                epoch - best_epoch >= int(early_stopping_patience)
            ):
                logger.info(
                    "%s: early stop after epoch %d (best epoch %d)",
                    description,
                    epoch + 1,
                    best_epoch + 1,
                )
                break
    finally:
        bar.close()
    return TrainResult(
        train_losses=np.asarray(train_losses),
        val_losses=np.asarray(val_losses),
        best_epochs=keeper.indices,
        snapshots=keeper.snapshots,
        epoch_seconds=np.asarray(epoch_s),
        step_seconds=np.asarray(step_s),
    )
