"""Which code made a result: the package's source hash that every workflow step carries."""

from __future__ import annotations

from anode_cathode.core.provenance import source_hash


def test_source_hash_follows_every_source_file_and_nothing_else(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    first = source_hash(pkg)
    assert first == source_hash(pkg) and len(first) == 12
    (pkg / "notes.txt").write_text("not code")  # data files do not count
    assert source_hash(pkg) == first
    (pkg / "sub" / "b.py").write_text("y = 3\n")  # an edit anywhere changes it
    edited = source_hash(pkg)
    assert edited != first
    (pkg / "sub" / "b.py").rename(pkg / "b.py")  # so does a move with the same content
    assert source_hash(pkg) not in (first, edited)
    assert len(source_hash()) == 12  # the installed package itself
