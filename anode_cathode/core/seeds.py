"""Independent random streams for every (purpose, window, fold, seed) of a run.

Seeds used to be integer arithmetic (``seed * 1000 + fold``, ``flow seed + fold``), which
collided: the sideband flow of fold f and the signal-region flow of seed 0, fold f got the
same random state, and CATHODE's sampling reused the flow's own. Here every stream is named by
what it is for and where it is used, and :class:`numpy.random.SeedSequence` turns the name into
a seed; different names give statistically independent streams.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["REPLICA_STEPS", "derive_seed", "replica_key"]


def _entropy(part: int | str) -> int:
    if isinstance(part, bool) or not isinstance(part, int | str):
        raise TypeError(f"seed key parts must be int or str, got {part!r}")
    if isinstance(part, int):
        if part < 0:
            raise ValueError(f"seed key parts must be >= 0, got {part}")
        return part
    return int.from_bytes(hashlib.sha256(part.encode()).digest()[:8], "little")


def derive_seed(purpose: str, *key: int | str) -> int:
    """A 31-bit seed for the random stream ``purpose`` at ``key`` (window, fold, seed, ...).

    Parameters
    ----------
    purpose
        What the stream is for, e.g. ``"sb_flow"``, ``"sr_flow"``, ``"cathode_samples"``,
        ``"classifier"``.
    key
        Where it is used: window name, fold, the configured seed, ... (ints >= 0 or strings).

    Returns
    -------
    int
        In ``[0, 2**31 - 1)``, usable as ``random_state`` by numpy, torch and scikit-learn.

    Examples
    --------
    >>> derive_seed("sb_flow", "sr3300-3700", 0, 0) == derive_seed("sb_flow", "sr3300-3700", 0, 0)
    True
    >>> derive_seed("sb_flow", "w", 1, 0) != derive_seed("sr_flow", "w", 1, 0)
    True
    """
    entropy = [_entropy(purpose), *(_entropy(k) for k in key)]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0]
    return int(state) % (2**31 - 1)


#: Random steps whose streams can follow the injection seed (config ``bands.vary``).
REPLICA_STEPS = ("flow", "sampling", "classifier")


def replica_key(
    injection: Mapping[str, Any] | None, step: str, vary: Sequence[str]
) -> tuple[str, int] | tuple[()]:
    """Extra key parts that give ``step`` its own stream for each injected data set.

    Each injection seed then repeats the whole chain with independent randomness (injected
    signal events, and the steps in ``vary``): bands over injection seeds cover all of it
    (target ``bands``). Injection seed 0 adds nothing, so a run with seed 0 keeps the streams
    of a run without replicas.

    Parameters
    ----------
    injection
        The data set's injection (``seed`` key; ``None`` or a missing seed count as 0).
    step
        One of :data:`REPLICA_STEPS`.
    vary
        The steps that follow the injection seed.

    Examples
    --------
    >>> replica_key({"seed": 2}, "flow", ["flow", "classifier"])
    ('injection', 2)
    >>> replica_key({"seed": 2}, "sampling", ["flow"]), replica_key({"seed": 0}, "flow", ["flow"])
    ((), ())
    """
    if step not in REPLICA_STEPS:
        raise ValueError(f"unknown random step {step!r}; valid: {REPLICA_STEPS}")
    seed = int((injection or {}).get("seed") or 0)
    return ("injection", seed) if seed and step in vary else ()
