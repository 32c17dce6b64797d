"""Failures a user can read and recover from: bad input files, full or read-only disks,
permissions under the umask, stale locks and temporary files after a kill, and the one-line
error as the last thing the terminal shows."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd, subprocess_env

from anode_cathode.core import files
from anode_cathode.core.files import InputFileError, OutputError, atomic_path, write_text
from anode_cathode.core.runlock import claim_workdir, failed_step_errors
from anode_cathode.data.inputs import read_inputs
from anode_cathode.data.lhco import LHCO_COLUMNS, read_lhco, write_lhco


def lhco_table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Back-to-back jets of 1.75 TeV pT (m_JJ ~ 3.5 TeV), jet masses ~100 GeV, in GeV."""
    rng = np.random.default_rng(seed)
    pt = rng.uniform(1500, 2000, n)
    df = pd.DataFrame(0.0, index=range(n), columns=list(LHCO_COLUMNS))
    df["pxj1"], df["pxj2"] = pt, -pt
    df["mj1"], df["mj2"] = rng.uniform(50, 150, n), rng.uniform(50, 500, n)
    for j in (1, 2):
        df[f"tau1j{j}"], df[f"tau2j{j}"], df[f"tau3j{j}"] = 0.5, 0.3, 0.2
    return df


# ------------------------------------------------------------------ bad input files
@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "events.h5"
    write_lhco(lhco_table(), path)
    return path


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.h5: LHCO file is empty \(0 bytes\)"):
        read_lhco(path)


def test_truncated_hdf5_is_named(tmp_path, good_file):
    cut = tmp_path / "cut.h5"
    data = good_file.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"cut\.h5: the file is truncated"):
        read_lhco(cut)


def test_not_hdf5_is_named(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("these are not events\n")
    with pytest.raises(InputFileError, match=r"notes\.h5: it is not an HDF5 file"):
        read_lhco(path)


def test_zero_row_table_is_named(tmp_path):
    path = tmp_path / "none.h5"
    write_lhco(lhco_table().iloc[:0], path)
    with pytest.raises(InputFileError, match="0 rows"):
        read_lhco(path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(InputFileError, match="not a regular file"):
        read_lhco(tmp_path)


def test_unreadable_file_is_named(good_file, monkeypatch):
    good_file.chmod(0)
    # root (as on CI) reads any file: make the access check answer as for an ordinary user
    monkeypatch.setattr(files.os, "access", lambda *_args, **_kwargs: False)
    with pytest.raises(InputFileError, match=r"permission denied for user .*read access"):
        read_lhco(good_file)


def _root_file(tmp_path: Path, n: int = 20_000) -> Path:
    import uproot

    rng = np.random.default_rng(0)
    path = tmp_path / "ntuple.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: np.float64 for k in LHCO_COLUMNS[:-1]})
        for _ in range(0, n, 2000):  # many baskets: a cut file fails mid-way
            f["Events"].extend({k: rng.uniform(1, 100, 2000) for k in LHCO_COLUMNS[:-1]})
    return path


def test_truncated_root_file_fails_with_a_named_error(tmp_path):
    from anode_cathode.data.root import read_root

    path = _root_file(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"ntuple\.root: .*(truncated|not a readable)"):
        read_root([str(path)], "Events", branches={k: k for k in LHCO_COLUMNS[:-1]})


def test_damaged_basket_in_the_middle_of_a_root_file_is_named(tmp_path):
    import uproot

    from anode_cathode.data.root import read_root

    path = _root_file(tmp_path)
    branch = uproot.open(path)["Events"][LHCO_COLUMNS[0]]
    seek = int(branch.member("fBasketSeek")[branch.num_baskets // 2])
    data = bytearray(path.read_bytes())
    data[seek + 100 : seek + 1000] = b"\0" * 900  # the compressed payload, not the header
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match=r"ntuple\.root: reading tree 'Events' failed") as err:
        read_root([str(path)], "Events", branches={k: k for k in LHCO_COLUMNS[:-1]}, step_size=2000)
    assert "\n" not in str(err.value) and str(err.value).endswith("data.root.files")


def test_text_file_as_root_is_named_in_one_line(tmp_path):
    from anode_cathode.data.root import read_root

    path = tmp_path / "notes.root"
    path.write_text("not a ROOT file\n" * 40)
    with pytest.raises(InputFileError, match=r"notes\.root: not a readable ROOT file") as err:
        read_root([str(path)], "Events", branches={k: k for k in LHCO_COLUMNS[:-1]})
    # uproot's own message spans lines; the terminal's last line must carry the whole hint
    assert "\n" not in str(err.value) and str(err.value).endswith("data.root.files")


def test_empty_root_file_is_named(tmp_path):
    from anode_cathode.data.root import read_root

    path = tmp_path / "empty.root"
    path.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.root: ROOT file .* is empty"):
        read_root([str(path)], "Events", branches={k: k for k in LHCO_COLUMNS[:-1]})


def test_units_check_names_unit_scale_for_mev_ntuples(tmp_path):
    from anode_cathode.config import load_config

    path = tmp_path / "mev.h5"
    mev = lhco_table()
    mev[list(LHCO_COLUMNS[:-1])] *= 1000.0
    write_lhco(mev, path)
    cfg = load_config(None)
    cfg["data"]["source"] = "lhco"
    with pytest.raises(ValueError, match=r"median m_JJ is 3\.\d+e\+06 GeV.*GeV"):
        read_inputs(cfg, str(path))
    write_lhco(lhco_table(), path)
    assert len(read_inputs(cfg, str(path))["events"]) == 2000


def test_units_hint_names_the_root_key():
    from anode_cathode.data.inputs import _unit_fix

    assert "data.root.unit_scale" in _unit_fix({"source": "root", "root": {"unit_scale": 1.0}})


# ------------------------------------------------------------------ outputs
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "table.md", "x\n")
        write_lhco(lhco_table(10), tmp_path / "events.h5")
    finally:
        os.umask(old)
    for name in ("table.md", "events.h5"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_model_files_are_group_readable(tmp_path):
    from anode_cathode.classifiers.mlp import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    clf = MLPClassifier(hidden_layers=(4,), epochs=1, n_best_epochs=1, random_state=0).fit(X, y)
    old = os.umask(0o022)
    try:
        clf.save(tmp_path / "model.pt")
    finally:
        os.umask(old)
    assert (tmp_path / "model.pt").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission")],
)
def test_disk_full_and_read_only_keep_the_old_file(tmp_path, monkeypatch, code, words):
    target = tmp_path / "summary.md"
    target.write_text("old\n")

    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OutputError, match=rf"summary\.md: cannot write .*{words}"):
        write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]


def test_unwritable_directory_is_named(tmp_path, monkeypatch):
    def fail(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", fail)
    with pytest.raises(OutputError, match="read-only"), atomic_path(tmp_path / "a.json"):
        pass


def test_unwritable_folder_inside_the_results_is_named(tmp_path, monkeypatch):
    inner = tmp_path / "run" / "n1000-s0"
    inner.mkdir(parents=True)
    if os.geteuid() == 0:  # root writes anywhere: answer the access check as for a user
        real = os.access
        monkeypatch.setattr(
            files.os, "access", lambda p, mode: False if Path(p) == inner else real(p, mode)
        )
    else:
        inner.chmod(0o555)
    with pytest.raises(OutputError, match=r"n1000-s0: cannot write .*permission denied"):
        files.check_writable(tmp_path / "run")
    inner.chmod(0o755)


# ------------------------------------------------------------------ resume
def test_stale_lock_and_temporary_files_are_cleared(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    res = tmp_path / "results" / "run" / "w"
    res.mkdir(parents=True)
    (res / ".model.pt.ab12_x9Z.tmp").write_bytes(b"half")
    (res / "model.pt").write_bytes(b"whole")
    messages = claim_workdir(tmp_path, [tmp_path / "results"])
    assert any("stale lock" in m for m in messages)
    assert any("1 temporary file" in m for m in messages)
    assert not locks.exists()
    assert [p.name for p in res.iterdir()] == ["model.pt"]


def test_a_live_run_is_left_alone(tmp_path):
    meta = tmp_path / ".snakemake"
    (meta / "locks").mkdir(parents=True)
    with open(meta / "anode-cathode.run.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run holds the lock
        assert claim_workdir(tmp_path, []) == [
            "another snakemake run of this workflow is active in this directory"
        ]
    assert (meta / "locks").exists()


def test_failed_step_errors_read_the_last_error_line(tmp_path):
    step = tmp_path / "features.log"
    step.write_text("Traceback ...\nanode-cathode features: error: f.h5: missing columns\n")
    silent = tmp_path / "train.log"
    silent.write_text("epoch 1/3\n")
    main = tmp_path / "snakemake.log"
    main.write_text(
        f"Error in rule features:\n    log: {step} (check log file(s) for error details)\n"
        f"Error in rule train:\n    log: {silent} (check log file(s) for error details)\n"
    )
    # on SLURM the job's own log comes second; a job cancelled before the step started
    cancelled = tmp_path / "slurm_8.log"
    cancelled.write_text("slurmstepd-vm: error: *** JOB 8 ON vm CANCELLED AT 2026-12-04 ***\n")
    never = tmp_path / "flow.log"  # the step never started: its log does not exist
    slurm_step = tmp_path / "slurm_9.log"
    slurm_step.write_text("host: vm\n")
    main.write_text(
        main.read_text()
        + f"Error in rule train_flow:\n    log: {never}, {cancelled} (check log file(s) for "
        "error details)\n"
        + f"Error in rule features:\n    log: {step}, {slurm_step} (check log file(s) for "
        "error details)\n"
    )
    assert failed_step_errors([str(main)]) == [
        "anode-cathode features: error: f.h5: missing columns",
        f"a step failed without an error line; see {silent}",
        "slurmstepd-vm: error: *** JOB 8 ON vm CANCELLED AT 2026-12-04 *** (the step was ended "
        f"by SLURM; see {cancelled})",
    ]


# ------------------------------------------------------------------ end to end
def _run(workdir: Path, cfg: dict, *args: str, **kwargs):
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = snakemake_cmd(workdir, "--cores", "2", *args)
    return subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), **kwargs)


@pytest.mark.slow
def test_step_error_is_the_last_line_on_the_terminal(tmp_path):
    bad = tmp_path / "events.h5"
    lhco_table().drop(columns=["tau3j2"]).to_hdf(bad, key="df")
    cfg = {
        "run": "bad",
        "data": {
            "source": "lhco",
            "lhco": {"events": str(bad), "extra_background": None, "download": False},
        },
    }
    proc = _run(tmp_path, cfg, timeout=300)
    assert proc.returncode == 1
    last = (proc.stdout + proc.stderr).strip().splitlines()[-1]
    assert last.startswith("anode-cathode features: error: ")
    assert "events.h5" in last and "tau3j2" in last
    log = (tmp_path / "results/bad/features.log").read_text()
    assert "Traceback" in log  # the full traceback stays in the step's log


@pytest.mark.slow
def test_unknown_config_key_is_one_line(tmp_path):
    proc = _run(tmp_path, {"run": "x", "bogus_key": 1}, "-n", timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "bogus_key" in out and len(out.splitlines()) < 10


@pytest.mark.slow
def test_cross_key_config_error_is_the_last_line(tmp_path):
    proc = _run(tmp_path, {"run": "x", "windows": {"sr": [3.7, 3.3]}}, "-n", timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert out.strip().splitlines()[-1].startswith("anode-cathode: config key 'windows.sr'")


KILL_CFG = {
    "run": "kill",
    "data": {"builtin": {"n_background": 60_000, "n_signal": 6_000, "n_extra_background": 20_000}},
    "injection": {"n_signal": 300},
    "methods": ["supervised", "cathode"],
    "classifiers": ["bdt"],
    "seeds": [0],
    "bdt": {"n_models": 1, "max_iter": 20},
    "flow": {
        "n_blocks": 2,
        "hidden_features": 16,
        "batch_size": 256,
        "epochs": 40,
        "n_best_epochs": 2,
    },
    "diagnostics": {"max_events": 5_000},
}


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(KILL_CFG))
    cmd = snakemake_cmd(tmp_path, "--cores", "2")
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(),
        start_new_session=True,
    )
    flow_log = tmp_path / "results/kill/n300-s0/sr3300-3700/flow_sb/train.log"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "epoch 2/" not in (
        flow_log.read_text() if flow_log.exists() else ""
    ):
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before the flow trained"
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the running step, as a crash would
    proc.wait()
    assert (tmp_path / ".snakemake/locks").exists()  # the stale lock of the dead run

    old = os.umask(0o022)
    try:
        again = subprocess.run(
            cmd, capture_output=True, text=True, env=subprocess_env(), timeout=900
        )
    finally:
        os.umask(old)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "removed the stale lock" in again.stderr
    res = tmp_path / "results/kill"
    assert (res / "summary.md").exists()
    assert not list(res.rglob(".*.tmp"))
    for path in (res / "summary.csv", flow_log.parent / "fold0/model.pt", res / "sic.png"):
        assert path.stat().st_mode & 0o044 == 0o044, path  # group and others can read


def test_per_file_hdf_keys(tmp_path):
    from anode_cathode.config import load_config

    events, extra = tmp_path / "events.h5", tmp_path / "extra.h5"
    write_lhco(lhco_table(), events, key="events")
    write_lhco(lhco_table(500, seed=1), extra, key="background")
    for k in ("other", "more"):  # several keys: discovery alone cannot decide
        lhco_table(5).to_hdf(events, key=k)
        lhco_table(5).to_hdf(extra, key=k)
    cfg = load_config(
        {
            "data": {
                "source": "lhco",
                "lhco": {"key": {"events": "events", "extra_background": "background"}},
            }
        }
    )
    tables = read_inputs(cfg, str(events), str(extra))
    assert len(tables["events"]) == 2000 and len(tables["extra"]) == 500
    cfg["data"]["lhco"]["key"] = "events"
    with pytest.raises(ValueError, match=r"extra\.h5: no HDF key 'events'.*data\.lhco\.key"):
        read_inputs(cfg, str(events), str(extra))


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("builtin", "data.builtin.extra_mjj_range"),
        ("lhco", "data.lhco.extra_background"),
        ("root", "data.root.extra_background_files"),
    ],
)
def test_checks_before_training_name_the_key_of_the_source(source, key):
    from anode_cathode.config import load_config
    from anode_cathode.pipeline.data import _check_windows_have_events

    cfg = load_config(None)
    cfg["data"]["source"] = source
    sr = pd.DataFrame({"mjj": [3.5, 3.5, 3.6], "label": [0.0, 0.0, 1.0]})
    none = sr.iloc[:0]
    with pytest.raises(ValueError, match=rf"no true background in the signal region.*{key}"):
        _check_windows_have_events({"extra": none, "signal_pool": sr, "data": sr}, cfg)
    background = sr[sr.label == 0]
    with pytest.raises(ValueError, match="no signal events"):
        _check_windows_have_events({"extra": sr, "signal_pool": none, "data": background}, cfg)
    _check_windows_have_events({"extra": sr, "signal_pool": sr, "data": sr}, cfg)


# ------------------------------------------------------------------ progress and interrupts
def _two_blobs(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-1, 1, (n, 3)), rng.normal(1, 1, (n, 3))].astype(np.float32)
    return X, np.r_[np.zeros(n), np.ones(n)]


_EPOCH = r"epoch {i}/{n}  train loss [-\d.]+  val loss [-\d.]+  \(\d+\.\d\d s, ~\d+ s left\)"


def test_flow_and_mlp_log_one_line_per_epoch(caplog):
    import logging
    import re

    from anode_cathode.classifiers.mlp import MLPClassifier
    from anode_cathode.density.flow import ConditionalFlow

    X, y = _two_blobs()
    m = np.random.default_rng(1).uniform(3.0, 4.0, X.shape[0])
    with caplog.at_level(logging.INFO, logger="anode_cathode.core.training"):
        MLPClassifier(hidden_layers=(8,), epochs=3, batch_size=128, random_state=0).fit(X, y)
        ConditionalFlow(
            n_blocks=1, hidden_features=8, epochs=2, batch_size=256, random_state=0
        ).fit(X, m)
    text = caplog.text
    for i in (1, 2, 3):
        assert re.search(_EPOCH.format(i=i, n=3), text), text
    for i in (1, 2):
        assert re.search(_EPOCH.format(i=i, n=2), text), text


@pytest.mark.parametrize("backend", ["hgb", "xgboost"])
def test_bdt_logs_one_line_per_member(caplog, backend):
    import logging
    import re

    from anode_cathode.classifiers.bdt import BDTClassifier

    X, y = _two_blobs()
    with caplog.at_level(logging.INFO, logger="anode_cathode.classifiers.bdt"):
        BDTClassifier(backend=backend, n_models=3, max_iter=15, random_state=0).fit(X, y)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        timing = r"\(\d+\.\d\d s, ~\d+ s left\)"
        pattern = rf"BDT member {i}/3  \d+ rounds  val loss 0\.\d{{4}}  {timing}"
        assert re.fullmatch(pattern, line), line


_SLOW_STEP = """
import sys, time
import anode_cathode.cli as cli
from anode_cathode.core.files import atomic_path

def slow(args):
    with atomic_path(args.out) as tmp:
        tmp.write_text("half written")
        print("writing", flush=True)
        time.sleep(60)

build = cli.build_parser
def parser():
    p = build()
    sub = next(a for a in p._actions if a.dest == "command")
    s = sub.add_parser("slow")
    s.add_argument("out")
    s.set_defaults(func=slow)
    return p

cli.build_parser = parser
sys.exit(cli.main(["slow", sys.argv[1]]))
"""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_killed_step_removes_its_temporary_file(tmp_path, signame):
    out = tmp_path / "table.h5"
    out.write_text("the previous result")
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_STEP, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        # a shell's background job (`nohup ... &`) starts with SIGINT ignored, and so would
        # this step; a step started from a terminal or by Snakemake has it at its default
        preexec_fn=_default_sigint,
    )
    assert proc.stdout.readline().strip() == "writing"
    assert len(list(tmp_path.glob(".table.h5.*.tmp"))) == 1
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + getattr(signal, signame)
    assert err.strip().splitlines()[-1] == (
        f"anode-cathode slow: error: stopped by {signame} (killed or cancelled); no partial "
        "output kept, run the same command again to resume"
    )
    assert list(tmp_path.glob(".*.tmp")) == []
    assert out.read_text() == "the previous result"
