"""Maximum-likelihood training of conditional flows on the package's one training loop.

Used by :class:`~anode_cathode.density.flow.ConditionalFlow` and usable with any model that has
``log_prob(inputs, context=...)`` (an nflows ``Flow``). Reference setup (CATHODE,
arXiv:2109.00546; ANODE, arXiv:2001.04990): Adam, lr 1e-4, batch 256, 100 epochs, the models of
the 10 epochs with the lowest validation loss are kept, and the batch-norm statistics are
recomputed on the whole training set after every epoch.

The epoch loop itself (device-resident data, one permutation per epoch, fused Adam, top-k
snapshots, non-finite losses as errors, checkpoints, early stopping) is
:func:`anode_cathode.core.training.train_epochs`, shared with the MLP classifier. Losses are
mean negative log-likelihoods of whatever space the model sees (for ``ConditionalFlow`` the
preprocessed space; the preprocessing Jacobian is a constant offset for a given data set, so
the epoch ranking is the same as in the original space).
"""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
import torch
from nflows.transforms import BatchNorm, CompositeTransform
from torch import nn

from anode_cathode.core.training import TrainResult, train_epochs
from anode_cathode.density.made import PRECISIONS, conditioner_precision

__all__ = [
    "TrainResult",
    "default_chunk_size",
    "mean_nll",
    "refresh_batchnorm",
    "scale_learning_rate",
    "train_density",
]


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
    refresh_events: int | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    chunk_size: int | None = None,
    compile: bool = False,
    precision: str = "float32",
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
        with :class:`~anode_cathode.core.training.TopKSnapshots`).
    early_stopping_patience
        Stop when the validation loss has not improved for this many epochs (``None``: never).
    refresh_batchnorm_stats
        After every epoch, set batch-norm running statistics to exact training-set values with
        :func:`refresh_batchnorm` (before the validation loss is computed).
    refresh_events
        Refresh on this many training events, a fixed random subset drawn once (``None``: all).
        The statistics are means and variances of a few features, so 2·10⁵ events fix them to
        ~0.2 % of a standard deviation, while the full pass over a large sideband costs a
        quarter of every CPU epoch.
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
    verbose, description, hint
        Epoch lines on stdout, the model's name in logs, an addition to the error message: as
        in :func:`~anode_cathode.core.training.train_epochs`, which also gives the returned
        :class:`~anode_cathode.core.training.TrainResult` and raises
        :class:`FloatingPointError` naming the epoch of a non-finite loss.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
    dev = torch.device(device)

    def put(a: Any) -> torch.Tensor | None:
        return None if a is None else torch.as_tensor(a, dtype=torch.float32).to(dev)

    x, c, xv, cv = put(inputs), put(context), put(val_inputs), put(val_context)
    if x is None or xv is None or x.shape[0] == 0 or xv.shape[0] == 0:
        raise ValueError("training and validation sets must be non-empty")
    model.to(dev)
    bs = int(batch_size)

    def nll_sum(xb: torch.Tensor, cb: torch.Tensor | None = None) -> torch.Tensor:
        return -model.log_prob(xb, context=cb).sum()

    full_batch = torch.compile(nll_sum) if compile else nll_sum

    def batch_loss(xb: torch.Tensor, cb: torch.Tensor | None = None):
        # float32 leaves the step as it was; bfloat16 only for the forward pass (the backward
        # pass follows the casts autograd recorded), so refresh and validation stay float32
        mixed = conditioner_precision(model, precision) if precision != "float32" else nullcontext()
        with mixed:
            nll = (full_batch if xb.shape[0] == bs else nll_sum)(xb, cb)
        return nll / xb.shape[0], nll

    x_bn, c_bn = x, c
    if refresh_events is not None and int(refresh_events) < x.shape[0]:
        gen = torch.Generator().manual_seed(int(seed) + 1)  # not the batch-order stream
        rows = torch.randperm(x.shape[0], generator=gen)[: int(refresh_events)].to(dev)
        x_bn, c_bn = x[rows], (None if c is None else c[rows])

    def refresh(_: float) -> None:
        refresh_batchnorm(model, x_bn, c_bn, chunk_size)

    return train_epochs(
        model,
        [x] if c is None else [x, c],
        batch_loss,
        lambda: mean_nll(model, xv, cv, chunk_size),
        epochs=epochs,
        batch_size=bs,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        n_best=n_best,
        early_stopping_patience=early_stopping_patience,
        end_of_epoch=refresh if refresh_batchnorm_stats else None,
        seed=seed,
        checkpoint_dir=checkpoint_dir,
        description=description,
        verbose=verbose,
        hint=hint,
    )
