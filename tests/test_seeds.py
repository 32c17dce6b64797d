"""Independent random streams per (purpose, window, fold, seed)."""

from __future__ import annotations

import itertools

import pytest

from anode_cathode.core.seeds import REPLICA_STEPS, derive_seed, replica_key


def test_streams_are_reproducible_and_distinct():
    keys = [
        (purpose, window, fold, seed)
        for purpose in ("sb_flow", "sr_flow", "cathode_samples", "classifier")
        for window in ("sr3300-3700", "sr3500-3900")
        for fold in range(3)
        for seed in range(3)
    ]
    seeds = [derive_seed(*k) for k in keys]
    assert seeds == [derive_seed(*k) for k in keys]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**31 - 1 for s in seeds)


def test_former_collisions_are_gone():
    # with integer arithmetic the SB flow of fold f (flow.seed + f) and the SR flow of seed 0,
    # fold f (seed * 1000 + f) shared a random state, and CATHODE sampling reused the SB flow's
    for fold in range(5):
        sb = derive_seed("sb_flow", "w", fold, 0)
        assert sb != derive_seed("sr_flow", "w", fold, 0)
        assert sb != derive_seed("cathode_samples", "w", fold, 0)
    # neighbouring keys must not map to neighbouring seeds either
    pairs = itertools.combinations([derive_seed("classifier", "w", f, 0) for f in range(10)], 2)
    assert all(abs(a - b) > 1000 for a, b in pairs)


def test_bad_key_parts():
    with pytest.raises(TypeError):
        derive_seed("sb_flow", 1.5)
    with pytest.raises(ValueError):
        derive_seed("sb_flow", -1)


def test_replicas_give_the_chosen_steps_their_own_streams():
    """Every injection seed is a replica of the whole chain: the steps in bands.vary get a
    stream of their own, the others and injection seed 0 keep the streams of a plain run."""
    vary = ["flow", "classifier"]
    plain = derive_seed("sb_flow", "sr3300-3700", 0, 0)
    seeds = {
        inj: derive_seed("sb_flow", "sr3300-3700", 0, 0, *replica_key({"seed": inj}, "flow", vary))
        for inj in range(4)
    }
    assert seeds[0] == plain and len(set(seeds.values())) == 4
    assert replica_key({"seed": 3}, "sampling", vary) == ()
    assert replica_key(None, "flow", vary) == () == replica_key({"seed": None}, "flow", vary)
    assert {replica_key({"seed": 1}, step, REPLICA_STEPS) for step in REPLICA_STEPS} == {
        ("injection", 1)
    }
    with pytest.raises(ValueError, match="unknown random step"):
        replica_key({"seed": 1}, "injection", vary)
