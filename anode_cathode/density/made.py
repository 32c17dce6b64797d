"""MADE network and the masked autoregressive flow built from it (nflows transforms).

The network joins the condition at the input layer like the original CATHODE MADE (Germain et
al., arXiv:1502.03509): input → ``n_made_layers`` hidden layers → output, ReLU, no residual
blocks. Compared with nflows' own MADE this saves one matrix product, one activation and one
addition per block (≈ 25 % faster training on a CPU).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from nflows.distributions import StandardNormal
from nflows.flows import Flow
from nflows.transforms import (
    BatchNorm,
    CompositeTransform,
    MaskedAffineAutoregressiveTransform,
    MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
    RandomPermutation,
    ReversePermutation,
    Transform,
)
from nflows.transforms.autoregressive import AutoregressiveTransform
from nflows.transforms.splines import rational_quadratic as rq
from torch import nn

__all__ = ["TRANSFORMS", "MaskedMLP", "build_flow"]

#: Autoregressive transforms accepted by :func:`build_flow`.
TRANSFORMS = ("affine", "spline")


class MaskedMLP(nn.Module):
    """MADE network: output ``j`` depends on inputs ``< j`` (degree order) and on the context.

    With a context, hidden degrees run over ``0 … features - 1`` and degree-0 units see only
    the context, so the parameters of the first feature depend on the condition too (nflows'
    MADE and the original CATHODE MADE leave them unconditional constants).

    Parameters
    ----------
    features, context_features
        Number of autoregressive inputs and of conditions (joined at the input layer).
    hidden_features, n_hidden_layers
        Width of the hidden layers and number of hidden-to-hidden layers (the reference
        CATHODE MADE has one).
    output_multiplier
        Parameters per feature; outputs are ordered feature-major (``view(-1, features, k)``),
        as nflows' elementwise transforms expect.
    """

    def __init__(
        self,
        features: int,
        context_features: int,
        hidden_features: int,
        n_hidden_layers: int,
        output_multiplier: int,
    ) -> None:
        super().__init__()
        self.hidden_features = hidden_features  # nflows' spline scales widths by its sqrt
        deg_in = torch.arange(1, features + 1)
        if context_features:  # degree-0 units see only the condition: feature 1 depends on it
            deg_hidden = torch.arange(hidden_features) % features
        else:
            deg_hidden = torch.arange(hidden_features) % max(1, features - 1) + min(1, features - 1)
        deg_out = deg_in.repeat_interleave(output_multiplier)
        to_context = torch.ones(hidden_features, context_features)  # the condition: everywhere
        first = torch.cat([(deg_hidden[:, None] >= deg_in).float(), to_context], dim=1)
        masks = [first]
        masks += [(deg_hidden[:, None] >= deg_hidden).float()] * n_hidden_layers
        masks.append((deg_out[:, None] > deg_hidden).float())
        sizes = [features + context_features] + [hidden_features] * (n_hidden_layers + 1)
        sizes.append(features * output_multiplier)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        for i, mask in enumerate(masks):
            self.register_buffer(f"mask{i}", mask)

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = inputs if context is None else torch.cat([inputs, context], dim=1)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h = F.linear(h, layer.weight * getattr(self, f"mask{i}"), layer.bias)
            if i < last:
                h = F.relu(h, inplace=True)  # ReLU backward needs only its output
        return h


class _AffineMADE(MaskedAffineAutoregressiveTransform):
    """nflows affine MAF layer (softplus scale) on a :class:`MaskedMLP`."""

    def __init__(self, features: int, context: int, hidden: int, layers: int) -> None:
        self.features = features
        self._epsilon = 1e-3
        AutoregressiveTransform.__init__(self, MaskedMLP(features, context, hidden, layers, 2))


class _SplineMADE(MaskedPiecewiseRationalQuadraticAutoregressiveTransform):
    """nflows rational-quadratic spline MAF layer (linear tails) on a :class:`MaskedMLP`."""

    def __init__(
        self, features: int, context: int, hidden: int, layers: int, bins: int, bound: float
    ) -> None:
        self.num_bins, self.tails, self.tail_bound = bins, "linear", bound
        self.min_bin_width = rq.DEFAULT_MIN_BIN_WIDTH
        self.min_bin_height = rq.DEFAULT_MIN_BIN_HEIGHT
        self.min_derivative = rq.DEFAULT_MIN_DERIVATIVE
        net = MaskedMLP(features, context, hidden, layers, self._output_dim_multiplier())
        AutoregressiveTransform.__init__(self, net)


def build_flow(
    features: int,
    context_features: int = 1,
    transform: str = "affine",
    n_blocks: int = 15,
    hidden_features: int = 128,
    n_made_layers: int = 1,
    batch_norm: bool = True,
    permutation: str = "reverse",
    n_bins: int = 8,
    tail_bound: float = 3.0,
) -> Flow:
    """nflows ``Flow``: ``n_blocks`` × [MADE transform, batch norm, permutation], N(0, 1) base.

    Weights come from torch's global random state (seed it, e.g. in ``torch.random.fork_rng``).
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    if permutation not in ("reverse", "random"):
        raise ValueError(f"permutation must be 'reverse' or 'random', got {permutation!r}")
    layers: list[Transform] = []
    for _ in range(int(n_blocks)):
        if transform == "affine":
            layers.append(_AffineMADE(features, context_features, hidden_features, n_made_layers))
        else:
            layers.append(
                _SplineMADE(
                    features, context_features, hidden_features, n_made_layers, n_bins, tail_bound
                )
            )
        if batch_norm:
            layers.append(BatchNorm(features))
        if features > 1:
            perm = ReversePermutation if permutation == "reverse" else RandomPermutation
            layers.append(perm(features))
    return Flow(CompositeTransform(layers), StandardNormal([features]))
