"""Every file and folder hrmkit writes goes through here: complete or absent, never through a symbolic link.

- ``write_text / write_bytes / write_json / copy_file / atomic_path``: a temporary file in the target's own
  folder (``.NAME.tmp-XXXXXXXX``), written, fsync'ed, renamed onto the target (and the folder fsync'ed). On any
  failure (disk full, read-only, Ctrl-C) the temporary file is removed and an existing target stays as it was.
- ``check_target``: the checks each of those makes first, usable on their own before long work: the target is
  not a symbolic link, its folder (resolved) lies inside ``root`` (the folder the command means to write in;
  default: the target's own folder as given), it is not a folder, and an existing file is replaced only with
  ``replace=True`` (the caller owns it, or the user passed ``--overwrite``).
- ``check_writable``: create the folder if needed and write + delete a probe file, so that a read-only or full
  disk, or an output path that is a file, is reported before minutes of work rather than after.
- ``atomic_dir``: a whole folder built under a temporary sibling name and renamed into place; ``dir_lock``: an
  exclusive lock (``.NAME.lock`` beside the folder, released by the kernel if the process dies) so that two
  writers of the same folder cannot both succeed.

Every refusal is an HrmkitError naming the path; OS errors (ENOSPC, EROFS, EACCES) propagate as OSError with
their filename and the CLI's error boundary turns them into one line.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from hrmkit.errors import HrmkitError

TMP_MARK = ".tmp-"


@contextmanager
def _named(target: Path) -> Iterator[None]:
    """An OSError without a file name (a writer given a file object: np.save, savefig) gets the target's."""
    try:
        yield
    except OSError as err:
        if err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror or os.strerror(err.errno), str(target)) from err
        raise


@contextmanager
def safetensors_write(target: str | Path) -> Iterator[None]:
    """safetensors reports a failed write (disk full, I/O error) as SafetensorError("... (os error 28)"): turn it
    into the OSError it was, naming ``target``, so that the error boundary says "no space left" for that file."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - only safetensors' I/O errors are translated
        match = re.search(r"os error (\d+)", str(err))
        if type(err).__name__ == "SafetensorError" and match:
            code = int(match.group(1))
            raise OSError(code, os.strerror(code), str(target)) from err
        raise


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")


def _inside(child: Path, root: Path) -> bool:
    return child == root or root in child.parents


def check_target(path: str | Path, *, root: str | Path | None = None, replace: bool = False) -> Path:
    """Refuse a target that would be written through a link, outside ``root``, over a folder, or over a file the
    caller does not own (``replace=False``). Returns the path (not resolved: the name the user gave)."""
    path = Path(path)
    if path.is_symlink():
        raise HrmkitError(f"{path}: is a symbolic link; refusing to write through it (remove it first)")
    parent = path.parent.resolve()
    if root is not None:
        root_resolved = Path(root).resolve()
        if not _inside(parent, root_resolved):
            raise HrmkitError(f"{path}: resolves to {parent / path.name}, outside {root}; refusing to write there")
    if path.is_dir():
        raise HrmkitError(f"{path}: is a folder, expected a file name")
    if path.exists() and not replace:
        raise HrmkitError(f"{path}: already exists (pass --overwrite to replace it)")
    if path.parent.exists() and not path.parent.is_dir():
        raise HrmkitError(f"{path.parent}: is a file, not a folder")
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mkdir(folder: Path) -> None:
    """mkdir -p with a clear error when a component is a file (instead of FileExistsError/NotADirectoryError)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        for p in [folder, *folder.parents]:
            if p.exists() and not p.is_dir():
                raise HrmkitError(f"{p}: is a file, not a folder") from None
        raise


@contextmanager
def atomic_path(path: str | Path, *, root: str | Path | None = None, replace: bool = False,
                mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that takes a file name (savefig, save_file, np.save);
    on success it is fsync'ed and renamed onto ``path``, on any exception removed."""
    path = check_target(path, root=root, replace=replace)
    _mkdir(path.parent)
    tmp = _tmp_name(path)
    try:
        with _named(path):
            yield tmp
        if not tmp.is_file():
            raise HrmkitError(f"{path}: nothing was written")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        check_target(path, root=root, replace=replace)  # the target may have appeared (or become a link) meanwhile
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def write_bytes(path: str | Path, data: bytes, **kw) -> Path:
    with atomic_path(path, **kw) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, encoding: str = "utf-8", **kw) -> Path:
    return write_bytes(path, text.encode(encoding), **kw)


def write_json(path: str | Path, obj, indent: int | None = 1, **kw) -> Path:
    return write_text(path, json.dumps(obj, indent=indent) + "\n", **kw)


def copy_file(src: str | Path, dst: str | Path, **kw) -> Path:
    """Copy ``src`` (its bytes; a link as ``src`` is read, which is the user's own choice) onto ``dst``."""
    with atomic_path(dst, **kw) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)


def check_writable(path: str | Path, *, folder: bool = False, replace: bool = True) -> Path:
    """Before long work: ``path`` (a file, or with ``folder=True`` a folder) can be written. Creates the folder
    (like the writer would), writes and deletes a probe file in it. OSError (EROFS, EACCES, ENOSPC) propagates."""
    path = Path(path)
    if folder:
        if path.is_symlink() and not path.is_dir():
            raise HrmkitError(f"{path}: is a symbolic link to no folder")
        if path.exists() and not path.is_dir():
            raise HrmkitError(f"{path}: is a file, expected a folder")
        target_dir = path
    else:
        check_target(path, replace=replace)
        target_dir = path.parent
    _mkdir(target_dir)
    probe = target_dir / f".hrmkit-probe{TMP_MARK}{uuid.uuid4().hex[:8]}"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    finally:
        try:
            probe.unlink()
        except FileNotFoundError:
            pass
    return path


@contextmanager
def dir_lock(out: str | Path) -> Iterator[Path]:
    """Hold ``.NAME.lock`` beside the folder ``out`` exclusively; a second holder fails at once with a clear error.
    The kernel drops the lock if the process dies (flock), so a stale file never blocks."""
    out = Path(out)
    _mkdir(out.parent)
    lock = out.parent / f".{out.name}.lock"
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HrmkitError(f"{out}: another hrmkit process is writing it now (lock {lock}); wait for it to "
                              f"finish or choose another --out") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder before us unlinked it between our open and flock
            raise HrmkitError(f"{out}: another hrmkit process is writing it now (lock {lock}); try again")
        try:
            yield lock
        finally:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)


@contextmanager
def atomic_dir(out: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it becomes ``out`` (an existing ``out`` is replaced only with
    ``replace=True``, and is moved aside first so that a failure keeps one complete copy); on failure removed."""
    out = Path(out)
    if out.is_symlink():
        raise HrmkitError(f"{out}: is a symbolic link; refusing to replace it (remove it first)")
    if out.exists() and not out.is_dir():
        raise HrmkitError(f"{out}: is a file, expected a folder")
    _mkdir(out.parent)
    tmp = out.parent / f".{out.name}{TMP_MARK}{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with _named(out):
            yield tmp
        if out.is_symlink():
            raise HrmkitError(f"{out}: became a symbolic link while writing; refusing to replace it")
        if out.exists():
            if not replace:
                raise HrmkitError(f"{out}: appeared while this command was writing it (another process?); "
                                  f"refusing to replace it")
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.rename(tmp, out)
            except OSError as err:
                if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise HrmkitError(f"{out}: appeared while this command was writing it; refusing to "
                                      f"replace it") from None
                raise
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def copy_files(pairs: dict[Path, Path], *, root: str | Path, replace: bool = True) -> list[Path]:
    """Copy several files (``{target: source}``) into the folder ``root`` all or none: every target is checked
    and staged under a temporary name first (fsync'ed), then all are renamed; on any failure the temporary
    files are removed and the targets stay as they were."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target in pairs:
            check_target(target, root=root, replace=replace)
        for target, source in pairs.items():
            tmp = _tmp_name(Path(target))
            staged.append((tmp, Path(target)))
            shutil.copyfile(source, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
        for tmp, target in staged:
            check_target(target, root=root, replace=replace)
        for tmp, target in staged:
            os.replace(tmp, target)
        _fsync_dir(Path(root))
    except BaseException:
        for tmp, _ in staged:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
        raise
    return [t for _, t in staged]
