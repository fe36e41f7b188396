"""The registry has one copy in git, `zoo/`; the build puts it into the package (setup.py `build_py` copies it to
`hrmkit/zoo/registry/`, MANIFEST.in carries it in the sdist), and an installed hrmkit reads that copy.

Each build here runs on a copy of the source tree (never in the checkout), from the sdist as `python -m build`
would: sdist first, then the package built from the unpacked sdist.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "hrmkit", "zoo")  # what a build reads
REGISTRY = ("hrmkit", "zoo", "registry")
ZOO_FILES = sorted(p.name for p in (REPO / "zoo").iterdir() if p.is_file())


def _python(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=600)


def _same_as_zoo(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ZOO_FILES
    for name in ZOO_FILES:
        assert (folder / name).read_bytes() == (REPO / "zoo" / name).read_bytes(), name


@pytest.fixture(scope="module")
def sdist_tree(tmp_path_factory) -> Path:
    """The unpacked sdist of a copy of the source tree, with a stale packaged copy left in it (an old checkout's
    hrmkit/zoo/registry/) that must not ship."""
    root = tmp_path_factory.mktemp("build")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info", "registry")
    for name in SOURCE:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, src / name)
    stale = src.joinpath(*REGISTRY)
    stale.mkdir()
    (stale / "stale.yaml").write_text("name: stale\n")
    res = _python(["-c", "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))",
                   str(root / "dist")], src)
    assert res.returncode == 0, res.stderr
    with tarfile.open(root / "dist" / res.stdout.split()[-1]) as tar:
        tar.extractall(root / "unpacked", filter="data")
    [tree] = (root / "unpacked").iterdir()
    return tree


def test_the_sdist_carries_zoo(sdist_tree):
    _same_as_zoo(sdist_tree / "zoo")


@pytest.fixture(scope="module")
def built_lib(sdist_tree) -> Path:
    lib = sdist_tree.parent.parent / "lib"
    res = _python(["setup.py", "-q", "build_py", "--build-lib", str(lib)], sdist_tree)
    assert res.returncode == 0, res.stderr
    return lib


def test_build_py_copies_zoo_into_the_package(built_lib, sdist_tree):
    registry = built_lib.joinpath(*REGISTRY)
    _same_as_zoo(registry)  # and nothing else: not the stale copy
    # an entry removed from zoo/ does not survive in a build folder used again
    (registry / "removed.yaml").write_text("name: removed\n")
    res = _python(["setup.py", "-q", "build_py", "--build-lib", str(built_lib)], sdist_tree)
    assert res.returncode == 0, res.stderr
    _same_as_zoo(registry)


def test_a_build_without_zoo_stops(sdist_tree, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(sdist_tree, tree, ignore=shutil.ignore_patterns("zoo"))
    res = _python(["setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")], tree)
    assert res.returncode != 0 and "must hold the registry" in res.stderr


def test_an_installed_package_reads_its_copy_and_zoo_pin_refuses(built_lib, tmp_path):
    """No source tree around it: the registry and the card template come from hrmkit/zoo/registry/, and
    `hrmkit zoo pin` refuses (before any network: HF_HUB_OFFLINE would be the other error)."""
    env = dict(PYTHONPATH=str(built_lib), HF_HUB_OFFLINE="1", HRMKIT_HOME=str(tmp_path / "home"))
    env.pop("HRMKIT_ZOO_PATH", None)
    packaged = built_lib.joinpath(*REGISTRY)
    res = _python(["-c", "from hrmkit.zoo import card, registry\n"
                         "print(registry.checkout_zoo()); print(registry.shipped_dir()); print(card.TEMPLATE)\n"
                         "print(*sorted(str(e.path) for e in registry.load_registry().values()))"],
                  tmp_path, **env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "None", str(packaged), str(packaged / "MODEL_CARD.md"),
        " ".join(str(packaged / n) for n in ZOO_FILES if n.endswith(".yaml"))]

    res = _python(["-m", "hrmkit", "zoo", "list"], tmp_path, **env)
    assert res.returncode == 0 and "sudoku-extreme" in res.stdout, res.stderr
    before = (packaged / "sudoku-extreme.yaml").read_bytes()
    res = _python(["-m", "hrmkit", "zoo", "pin", "sudoku-extreme"], tmp_path, **env)
    assert res.returncode == 1 and res.stdout == ""
    [line] = res.stderr.splitlines()
    assert line.startswith("error: hrmkit zoo pin sudoku-extreme: ") and "inside the installed package" in line
    assert (packaged / "sudoku-extreme.yaml").read_bytes() == before


@pytest.mark.slow
def test_the_wheel_holds_the_registry_and_works_installed(sdist_tree, tmp_path):
    """A real wheel from the sdist (C kernels compiled when a compiler is there), installed into a folder."""
    res = _python(["-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "whl"),
                   str(sdist_tree)], tmp_path)
    assert res.returncode == 0, res.stderr
    [wheel] = (tmp_path / "whl").glob("hrmkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("hrmkit/zoo/registry/")) == ZOO_FILES
    assert "hrmkit/zoo/pulling.py" in names and not any(n.startswith("zoo/") for n in names)
    res = _python(["-m", "pip", "install", "-q", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)],
                  tmp_path)
    assert res.returncode == 0, res.stderr
    res = _python(["-m", "hrmkit", "zoo", "show", "arc-2"], tmp_path, PYTHONPATH=str(tmp_path / "site"),
                  HF_HUB_OFFLINE="1", HRMKIT_HOME=str(tmp_path / "home"))
    assert res.returncode == 0, res.stderr
    assert f"entry file:  {tmp_path / 'site' / 'hrmkit' / 'zoo' / 'registry' / 'arc-2.yaml'}" in res.stdout
