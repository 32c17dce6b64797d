"""ROOT ntuple reader: flat (Cartesian, polar, expressions) and jagged layouts, chunking, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from anode_cathode.data.features import compute_features
from anode_cathode.data.lhco import RAW_COLUMNS
from anode_cathode.data.root import JET_KEYS, POLAR_KEYS, expand_files, read_root

PT, ETA = 1000.0, 0.5
TAUS = {"tau1": 0.6, "tau2": 0.3, "tau3": 0.2}


def _write(path: Path, branches: dict, tree: str = "Events") -> Path:
    with uproot.recreate(path) as f:
        f.mktree(tree, branches)  # a TTree (item assignment would write an RNTuple)
    return path


def _polar_events() -> dict[str, np.ndarray]:
    """Three events: back-to-back massless jets (pT 1 TeV, eta ±0.5) and two massive ones."""
    ev = {
        "ptj1": [PT, 1500.0, 1300.0],
        "etaj1": [ETA, 0.1, -1.2],
        "phij1": [0.0, 1.0, -2.0],
        "mj1": [0.0, 500.0, 80.0],
        "ptj2": [PT, 1400.0, 1250.0],
        "etaj2": [-ETA, -0.3, 0.7],
        "phij2": [np.pi, -2.0, 1.1],
        "mj2": [0.0, 100.0, 300.0],
    }
    for j in (1, 2):
        for t, v in TAUS.items():
            ev[f"{t}j{j}"] = [v, v / 2, v / 3]
    return {k: np.asarray(v, dtype=np.float64) for k, v in ev.items()}


def _to_cartesian(ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for j in (1, 2):
        pt, eta, phi = ev[f"ptj{j}"], ev[f"etaj{j}"], ev[f"phij{j}"]
        out[f"pxj{j}"] = pt * np.cos(phi)
        out[f"pyj{j}"] = pt * np.sin(phi)
        out[f"pzj{j}"] = pt * np.sinh(eta)
        for q in ("m", *TAUS):
            out[f"{q}j{j}"] = ev[f"{q}j{j}"]
    return out


@pytest.fixture
def flat_file(tmp_path: Path) -> Path:
    """Flat Cartesian ntuple with branches named like the LHCO columns, plus a label."""
    cart = _to_cartesian(_polar_events())
    return _write(tmp_path / "flat.root", {**cart, "is_signal": np.array([0, 1, 0], np.int32)})


CART_MAP = {c: c for c in RAW_COLUMNS}


def test_flat_cartesian_reproduces_vectors_and_mjj(flat_file: Path) -> None:
    df = read_root([str(flat_file)], "Events", branches=CART_MAP, label="is_signal")
    assert list(df.columns) == [*RAW_COLUMNS, "label"]
    assert (df.dtypes == np.float64).all()
    expected = _to_cartesian(_polar_events())
    for c in RAW_COLUMNS:
        np.testing.assert_allclose(df[c], expected[c], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(df["label"], [0.0, 1.0, 0.0])
    assert df.attrs["n_dropped"] == 0
    mjj = compute_features(df)["mjj"].to_numpy()
    assert mjj[0] == pytest.approx(2 * PT * np.cosh(ETA) / 1000.0, rel=1e-12)


def test_flat_polar_mapping(tmp_path: Path) -> None:
    ev = _polar_events()
    names = {k: f"j{k[-1]}_{k[:-2]}" for k in POLAR_KEYS}  # e.g. ptj1 -> j1_pt
    path = _write(tmp_path / "polar.root", {names[k]: ev[k] for k in POLAR_KEYS})
    df = read_root([str(path)], "Events", branches=names, momentum="polar")
    expected = _to_cartesian(ev)
    for c in RAW_COLUMNS:
        np.testing.assert_allclose(df[c], expected[c], rtol=1e-12, atol=1e-9)
    assert "label" not in df.columns
    mjj = compute_features(df)["mjj"].to_numpy()
    assert mjj[0] == pytest.approx(2 * PT * np.cosh(ETA) / 1000.0, rel=1e-12)
    p1 = df[["pxj1", "pyj1", "pzj1", "mj1"]].to_numpy()[1]
    p2 = df[["pxj2", "pyj2", "pzj2", "mj2"]].to_numpy()[1]
    e = np.sqrt(np.sum(p1[:3] ** 2) + p1[3] ** 2) + np.sqrt(np.sum(p2[:3] ** 2) + p2[3] ** 2)
    by_hand = np.sqrt(e**2 - np.sum((p1[:3] + p2[:3]) ** 2)) / 1000.0
    assert mjj[1] == pytest.approx(by_hand, rel=1e-12)


def test_flat_jets_reordered_by_pt(tmp_path: Path) -> None:
    ev = _polar_events()
    swapped = {k: ev[k[:-1] + ("2" if k.endswith("1") else "1")] for k in POLAR_KEYS}
    swapped["ptj1"][2], swapped["ptj2"][2] = ev["ptj1"][2], ev["ptj2"][2]  # event 2 stays ordered
    path = _write(tmp_path / "swapped.root", swapped)
    df = read_root([str(path)], "Events", branches={k: k for k in POLAR_KEYS}, momentum="polar")
    pt1, pt2 = np.hypot(df["pxj1"], df["pyj1"]), np.hypot(df["pxj2"], df["pyj2"])
    assert (pt1 >= pt2).all()
    np.testing.assert_allclose(df["mj1"].to_numpy()[:2], ev["mj1"][:2])


def test_expressions(tmp_path: Path) -> None:
    cart = _to_cartesian(_polar_events())
    branches = {
        "jet_px": ak.Array([[cart["pxj1"][i], cart["pxj2"][i], 5.0] for i in range(3)]),
        "tau2_j1": cart["tau2j1"],
    }
    branches.update({k: v for k, v in cart.items() if k not in ("pxj1", "pxj2", "tau2j1")})
    path = _write(tmp_path / "expr.root", branches)
    mapping = dict(CART_MAP, pxj1="jet_px[:, 0]", pxj2="jet_px[:, 1]", tau2j1="tau2_j1 / 1")
    mapping["mj1"] = "sqrt(mj1 * mj1)"
    df = read_root([str(path)], "Events", branches=mapping)
    for c in RAW_COLUMNS:
        np.testing.assert_allclose(df[c], cart[c], rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match=r"expr\.root.*evaluating"):
        read_root([str(path)], "Events", branches=dict(mapping, pxj2="jet_px[:, 3]"))


def _jagged_file(tmp_path: Path, name: str = "nano.root") -> tuple[Path, np.ndarray]:
    """Events with 1-4 unsorted jets; returns the path and, per kept event, the two leading pT."""
    pts = [[300.0, 1200.0], [900.0], [100.0, 1500.0, 1400.0], [50.0, 60.0, 2000.0, 70.0], [10.0]]
    etas = [[0.1 * i + 0.05 * k for k in range(len(p))] for i, p in enumerate(pts)]
    phis = [[0.3 * k - 1.0 for k in range(len(p))] for p in pts]
    collection = ak.zip(
        {
            "pt": pts,
            "eta": etas,
            "phi": phis,
            "mass": [[p / 10 for p in ev] for ev in pts],
            "tau1": [[0.5] * len(p) for p in pts],
            "tau2": [[p / 10000 for p in ev] for ev in pts],
            "tau3": [[0.1] * len(p) for p in pts],
        }
    )
    path = _write(tmp_path / name, {"FatJet": collection, "label": np.array([0, 1, 0, 1, 1])})
    return path, np.array([[1200.0, 300.0], [1500.0, 1400.0], [2000.0, 70.0]])


JET_MAP = {k: f"FatJet_{k}" for k in JET_KEYS}


def test_jagged_two_leading_jets(tmp_path: Path) -> None:
    path, leading = _jagged_file(tmp_path)
    df = read_root([str(path)], "Events", jets=JET_MAP, label="label")
    assert len(df) == 3
    assert df.attrs["n_dropped"] == 2
    np.testing.assert_allclose(np.hypot(df["pxj1"], df["pyj1"]), leading[:, 0])
    np.testing.assert_allclose(np.hypot(df["pxj2"], df["pyj2"]), leading[:, 1])
    np.testing.assert_allclose(df["mj1"], leading[:, 0] / 10)
    np.testing.assert_allclose(df["tau2j2"], leading[:, 1] / 10000)
    np.testing.assert_array_equal(df["label"], [0.0, 0.0, 1.0])
    # event 0: leading jet is index 1 (eta 0.05, phi -0.7)
    assert df["pzj1"][0] == pytest.approx(1200.0 * np.sinh(0.05))
    assert np.arctan2(df["pyj1"][0], df["pxj1"][0]) == pytest.approx(-0.7)


def test_chunked_equals_single_chunk_and_glob(tmp_path: Path) -> None:
    _jagged_file(tmp_path, "a_1.root")
    _jagged_file(tmp_path, "a_2.root")
    pattern = str(tmp_path / "a_*.root")
    whole = read_root([pattern], "Events", jets=JET_MAP, label="label")
    chunked = read_root([pattern, pattern], "Events", jets=JET_MAP, label="label", step_size=2)
    assert len(whole) == 6 and whole.attrs["n_dropped"] == 4
    assert chunked.attrs["n_dropped"] == 4
    assert whole.attrs["files"] == sorted(str(p) for p in tmp_path.glob("a_*.root"))
    pd.testing.assert_frame_equal(whole, chunked)


def test_unit_scale(flat_file: Path) -> None:
    gev = read_root([str(flat_file)], "Events", branches=CART_MAP)
    scaled = read_root([str(flat_file)], "Events", branches=CART_MAP, unit_scale=0.001)
    np.testing.assert_allclose(scaled.to_numpy(), gev.to_numpy() * 0.001)


def test_expand_files(tmp_path: Path) -> None:
    for name in ("b.root", "a.root", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    a, b = str(tmp_path / "a.root"), str(tmp_path / "b.root")
    assert expand_files([str(tmp_path / "*.root"), a]) == [a, b]
    assert expand_files(["root://eos.example//x.root"]) == ["root://eos.example//x.root"]
    with pytest.raises(FileNotFoundError, match=r"nothing\*\.root"):
        expand_files([str(tmp_path / "nothing*.root")])
    with pytest.raises(FileNotFoundError, match=r"missing\.root"):
        expand_files([str(tmp_path / "missing.root")])
    with pytest.raises(FileNotFoundError, match=r"data\.root\.files"):
        expand_files([])


# ---------------------------------------------------------------- error paths


def test_exactly_one_layout(flat_file: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        read_root([str(flat_file)], "Events")
    with pytest.raises(ValueError, match="exactly one"):
        read_root([str(flat_file)], "Events", branches=CART_MAP, jets=JET_MAP)


def test_missing_mapping_key(flat_file: Path) -> None:
    mapping = {k: v for k, v in CART_MAP.items() if k != "tau3j2"}
    with pytest.raises(ValueError) as err:
        read_root([str(flat_file)], "Events", branches=mapping)
    for part in ("data.root.branches.tau3j2", str(flat_file), "'Events'", "is_signal"):
        assert part in str(err.value)
    with pytest.raises(ValueError, match=r"missing keys \['ptj1'"):
        read_root([str(flat_file)], "Events", branches=CART_MAP, momentum="polar")


def test_missing_branch(flat_file: Path) -> None:
    mapping = dict(CART_MAP, mj2="jet_mass_2 * 1")
    with pytest.raises(ValueError) as err:
        read_root([str(flat_file)], "Events", branches=mapping)
    msg = str(err.value)
    for part in (str(flat_file), "'Events'", "jet_mass_2", "data.root.branches.mj2", "pxj1"):
        assert part in msg
    with pytest.raises(ValueError, match=r"no branch 'truth'.*data\.root\.label"):
        read_root([str(flat_file)], "Events", branches=CART_MAP, label="truth")
    with pytest.raises(ValueError, match=r"not a valid uproot expression.*branches\.mj1"):
        read_root([str(flat_file)], "Events", branches=dict(CART_MAP, mj1="mj1 +"))


def test_missing_file_and_tree(flat_file: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.root"):
        read_root([str(tmp_path / "nope.root")], "Events", branches=CART_MAP)
    with pytest.raises(ValueError, match=r"no tree 'Delphes'.*\['Events'\]"):
        read_root([str(flat_file)], "Delphes", branches=CART_MAP)
    with uproot.recreate(tmp_path / "rntuple.root") as f:
        f["Events"] = {"x": np.ones(2)}  # uproot >= 5.6 writes an RNTuple here
    with uproot.open(tmp_path / "rntuple.root") as f:
        kind = f.classnames(cycle=False)["Events"]
    if "TTree" not in kind:
        with pytest.raises(ValueError, match=r"'Events' is a .*RNTuple, not a TTree"):
            read_root([str(tmp_path / "rntuple.root")], "Events", branches=CART_MAP)
    junk = tmp_path / "junk.root"
    junk.write_bytes(b"not a root file at all" * 10)
    with pytest.raises(ValueError, match=r"junk\.root"):
        read_root([str(junk)], "Events", branches=CART_MAP)


def test_bad_label(tmp_path: Path) -> None:
    cart = _to_cartesian(_polar_events())
    path = _write(tmp_path / "lab.root", {**cart, "y": np.array([0.0, 2.0, 1.0])})
    with pytest.raises(ValueError, match=r"lab\.root.*label branch 'y'.*0 .*1"):
        read_root([str(path)], "Events", branches=CART_MAP, label="y")


def test_nan_reported_with_file_and_count(tmp_path: Path) -> None:
    cart = _to_cartesian(_polar_events())
    cart["tau2j2"][[0, 2]] = np.nan
    cart["pzj1"][1] = np.inf
    path = _write(tmp_path / "nan.root", cart)
    with pytest.raises(ValueError) as err:
        read_root([str(path)], "Events", branches=CART_MAP, step_size=1)
    msg = str(err.value)
    assert "nan.root" in msg
    assert "branches.tau2j2: 2 events" in msg
    assert "branches.pzj1: 1 events" in msg


def test_eta_overflow_reported(tmp_path: Path) -> None:
    ev = _polar_events()
    ev["etaj2"][1] = 1e4  # finite, but pt * sinh(eta) overflows
    path = _write(tmp_path / "eta.root", ev)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning leaks out
        with pytest.raises(ValueError, match=r"eta\.root.*branches\.etaj2: 1 events"):
            read_root([str(path)], "Events", branches={k: k for k in POLAR_KEYS}, momentum="polar")


def test_nan_in_jets(tmp_path: Path) -> None:
    collection = ak.zip({k: [[1300.0, 1200.0], [1500.0, 900.0]] for k in JET_KEYS})
    collection["eta"] = ak.Array([[0.1, -0.2], [0.3, 0.4]])
    collection["tau1"] = ak.Array([[np.nan, 0.5], [0.5, 0.5]])
    path = _write(tmp_path / "jnan.root", {"FatJet": collection})
    with pytest.raises(ValueError, match=r"jnan\.root.*jets\.tau1: 1 events"):
        read_root([str(path)], "Events", jets=JET_MAP)


def test_jagged_branch_in_flat_mode(tmp_path: Path) -> None:
    path, _ = _jagged_file(tmp_path)
    mapping = {c: "FatJet_pt" for c in RAW_COLUMNS}
    with pytest.raises(ValueError, match=r"one number per event.*data\.root\.jets"):
        read_root([str(path)], "Events", branches=mapping)


def test_flat_branch_in_jets_mode(flat_file: Path) -> None:
    mapping = {k: "pxj1" for k in JET_KEYS}
    with pytest.raises(ValueError, match="not a jet collection"):
        read_root([str(flat_file)], "Events", jets=mapping)
