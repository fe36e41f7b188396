"""hrmkit.atomic: complete or absent, never through a symbolic link, never over what it does not own."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from hrmkit import atomic
from hrmkit.errors import HrmkitError


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if atomic.TMP_MARK in p.name or p.name.endswith(".lock"))


def test_write_replaces_only_when_asked_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": 1})
    assert target.read_text() == '{\n "a": 1\n}\n'
    with pytest.raises(HrmkitError, match="already exists"):
        atomic.write_json(target, {"a": 2})
    atomic.write_json(target, {"a": 2}, replace=True)
    assert '"a": 2' in target.read_text() and _leftovers(tmp_path) == []


def test_a_symlink_target_is_refused_and_its_file_untouched(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "README.md").symlink_to(outside)
    with pytest.raises(HrmkitError, match="symbolic link"):
        atomic.write_text(folder / "README.md", "card", root=folder, replace=True)
    assert outside.read_text() == "precious"


def test_a_parent_that_resolves_outside_root_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(HrmkitError, match="outside"):
        atomic.write_text(root / "sub" / "x.txt", "x", root=root)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_folder_target_and_a_file_parent_are_named(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(HrmkitError, match="is a folder"):
        atomic.write_text(tmp_path / "d", "x")
    (tmp_path / "f").write_text("")
    with pytest.raises(HrmkitError, match="is a file"):
        atomic.write_text(tmp_path / "f" / "x.txt", "x")


def test_a_failed_write_removes_its_temp_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    target.write_text("old")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError) as err:
        atomic.write_text(target, "new" * 1000, replace=True)
    assert err.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_dir_refuses_a_folder_that_appeared_and_cleans_up(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(HrmkitError, match="appeared"):
        with atomic.atomic_dir(out) as tmp:
            (tmp / "a").write_text("mine")
            out.mkdir()
            (out / "b").write_text("theirs")
    assert [p.name for p in out.iterdir()] == ["b"] and _leftovers(tmp_path) == []
    with atomic.atomic_dir(out, replace=True) as tmp:
        (tmp / "a").write_text("mine")
    assert [p.name for p in out.iterdir()] == ["a"] and _leftovers(tmp_path) == []


def test_dir_lock_excludes_a_second_process_and_dies_with_its_holder(tmp_path):
    out = tmp_path / "ds"
    code = ("import sys, time; from hrmkit.atomic import dir_lock\n"
            "with dir_lock(sys.argv[1]):\n print('held', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(HrmkitError, match="another hrmkit process"):
            with atomic.dir_lock(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with atomic.dir_lock(out):  # the kernel released the dead holder's lock
        pass
    assert _leftovers(tmp_path) == []


def test_check_writable_says_read_only_before_work(tmp_path, monkeypatch):
    real_open = open

    def ro_open(path, mode="r", *a, **k):
        if "w" in mode and atomic.TMP_MARK in str(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr("builtins.open", ro_open)
    with pytest.raises(OSError) as err:
        atomic.check_writable(tmp_path / "report", folder=True)
    assert err.value.errno == errno.EROFS
    monkeypatch.undo()
    assert atomic.check_writable(tmp_path / "report", folder=True).is_dir()
    assert os.listdir(tmp_path / "report") == []


def test_copy_files_is_all_or_none(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a", "b"):
        (src / name).write_text(f"new {name}")
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "a").write_text("old a")
    calls = []
    real = atomic.shutil.copyfile

    def second_fails(s, d):
        calls.append(s)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(d))
        return real(s, d)

    monkeypatch.setattr(atomic.shutil, "copyfile", second_fails)
    with pytest.raises(OSError):
        atomic.copy_files({dst / "a": src / "a", dst / "b": src / "b"}, root=dst)
    assert sorted(p.name for p in dst.iterdir()) == ["a"] and (dst / "a").read_text() == "old a"
