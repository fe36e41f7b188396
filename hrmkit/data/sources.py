"""Where a data set's puzzles come from: ``hf:<owner>/<name>[@revision]``, ``gh:<owner>/<repo>@<commit>[:<path>]``,
local files or folders, ``generate``.

Resolving a source fetches nothing twice (the Hugging Face cache; for GitHub, the commit's tarball unpacked
under $HRMKIT_HOME/github, default ~/.cache/hrmkit/github) and records what was read: every file with its
sha256, for the hub the commit it came from, for GitHub the tarball's sha256, so a build's provenance pins its
inputs exactly. GitHub tarballs come from https://codeload.github.com (HRMKIT_GITHUB_ENDPOINT overrides it: a
mirror, or a local server in tests). GitHub documents archives of a full 40-hex commit and keeps their *contents*
stable, not their compressed bytes: the folder's tree sha256 is the identity to compare, the tarball's sha256
records what was downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hrmkit.data.format import sha256_file
from hrmkit.errors import HrmkitError

GENERATE = "generate"
ARC_FORMS = "ARC sources are folders of task JSON files or ARC Prize collections (*_challenges.json)"


@dataclass
class Source:
    """A resolved source: its kind, the spec the user gave, and the local files (with sha256) it stands for."""

    kind: str  # "hf" | "gh" | "file" | "dir" | "generate"
    spec: str
    files: dict[str, Path] = field(default_factory=dict)  # role ("train", "test", "file", "dir") -> local path
    repo: str | None = None
    revision: str | None = None  # the commit a hub or GitHub source resolved to
    archive: dict | None = None  # GitHub: {url, sha256, path} of the downloaded tarball

    def record(self) -> dict:
        """Provenance entry: spec, kind, and every file (path as given, sha256)."""
        out: dict = {"spec": self.spec, "kind": self.kind}
        if self.repo:
            out.update(repo=self.repo, revision=self.revision)
        if self.archive:
            out["archive"] = dict(self.archive)
        if "dir" in self.files:
            out["sha256"] = tree_sha256(self.files["dir"])
            out["files"] = {"dir": str(self.files["dir"])}
        elif self.files:
            out["files"] = {role: {"path": str(p), "sha256": sha256_file(p)} for role, p in self.files.items()}
        return out


def tree_sha256(root: Path) -> str:
    """One hash for a folder: sha256 over (relative path, file sha256) of every file, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        h.update(f"{path.relative_to(root).as_posix()}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def hf_download(repo: str, filename: str, revision: str | None = None) -> Path:
    """One file of a Hugging Face *dataset* repo, through the standard cache (HF_HUB_CACHE, HF_HUB_OFFLINE)."""
    from huggingface_hub import hf_hub_download  # lazy: only hub sources need it

    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset", revision=revision))
    except Exception as exc:  # noqa: BLE001 - any hub/network failure becomes one plain message
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        hint = " (HF_HUB_OFFLINE is set and the file is not in the local cache)" if offline else ""
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HrmkitError(f"hf:{repo}: cannot download {filename}{hint}: {reason}") from None


# ------------------------------------------------------------------------------------------------ GitHub
GITHUB_ENDPOINT = "https://codeload.github.com"
_GH_SPEC = re.compile(r"^gh:(?P<owner>[A-Za-z0-9][\w.-]*)/(?P<repo>[\w.-]+)@(?P<commit>[0-9a-fA-F]{7,40})"
                      r"(?::(?P<path>[^:]*))?$")


def github_cache() -> Path:
    """$HRMKIT_HOME/github (default ~/.cache/hrmkit/github): one folder per owner/repo/commit."""
    return Path(os.environ.get("HRMKIT_HOME") or Path.home() / ".cache" / "hrmkit").expanduser() / "github"


def _download(url: str, dest: Path, what: str) -> str:
    """Stream `url` into `dest` (temporary name, then renamed); return its sha256."""
    digest = hashlib.sha256()
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as f:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                digest.update(chunk)
                f.write(chunk)
    except urllib.error.HTTPError as err:
        tmp.unlink(missing_ok=True)
        hint = ": check the owner, repository and commit" if err.code == 404 else ""
        raise HrmkitError(f"{what}: {url} answered HTTP {err.code}{hint}") from None
    except (urllib.error.URLError, OSError) as err:
        tmp.unlink(missing_ok=True)
        reason = getattr(err, "reason", None) or err
        raise HrmkitError(f"{what}: cannot download {url} ({reason}); offline? the cache {dest.parent} does not "
                          "hold this commit yet") from None
    os.replace(tmp, dest)
    return digest.hexdigest()


def _unpack(tarball: Path, dest: Path, what: str) -> None:
    """Unpack a GitHub tarball (one top folder, REPO-<sha>/) into `dest` without that top folder, atomically."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            tar.extractall(tmp, filter="data")  # refuses absolute paths, links out of the tree, devices
        tops = list(tmp.iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise HrmkitError(f"{what}: {tarball} is not a GitHub tarball (expected one top-level folder)")
        os.replace(tops[0], dest)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise HrmkitError(f"{what}: {tarball} cannot be unpacked ({err}); delete it to download again") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def github_fetch(owner: str, repo: str, commit: str) -> tuple[Path, dict]:
    """The tree of `owner/repo` at `commit`, from the cache or downloaded once; returns (folder, archive record)."""
    what = f"gh:{owner}/{repo}@{commit}"
    base = github_cache() / owner / repo
    tree, meta_file, tarball = base / commit, base / f"{commit}.json", base / f"{commit}.tar.gz"
    if tree.is_dir() and meta_file.is_file():
        return tree, json.loads(meta_file.read_text())
    base.mkdir(parents=True, exist_ok=True)
    endpoint = (os.environ.get("HRMKIT_GITHUB_ENDPOINT") or GITHUB_ENDPOINT).rstrip("/")
    url = f"{endpoint}/{owner}/{repo}/tar.gz/{commit}"
    sha = _download(url, tarball, what)
    if tree.exists():
        shutil.rmtree(tree)
    _unpack(tarball, tree, what)
    record = {"url": url, "sha256": sha, "path": str(tarball)}
    tmp = meta_file.with_name(f".{meta_file.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, meta_file)  # written last: a tree without it is an interrupted download, fetched again
    return tree, record


def resolve_github(spec: str, dirs: bool) -> Source:
    m = _GH_SPEC.match(spec)
    if m is None:
        raise HrmkitError(f"--source {spec}: expected gh:<owner>/<repo>@<commit>[:<path>] (a commit of 7-40 hex "
                          "digits pins the data)")
    owner, repo, commit, sub = m["owner"], m["repo"], m["commit"].lower(), (m["path"] or "").strip("/")
    if any(part in ("..", ".") for part in sub.split("/")):
        raise HrmkitError(f"--source {spec}: the path inside the repository may not contain '.' or '..'")
    tree, archive = github_fetch(owner, repo, commit)
    path = tree / sub if sub else tree
    if not path.exists():
        top = ", ".join(sorted(p.name for p in tree.iterdir() if not p.name.startswith("."))) or "nothing"
        raise HrmkitError(f"--source {spec}: no '{sub}' in {owner}/{repo} at {commit} (top level: {top})")
    _check_kind(spec, path, dirs)
    return Source("gh", spec, {"dir" if path.is_dir() else "file": path}, repo=f"{owner}/{repo}", revision=commit,
                  archive={**archive, "subdir": sub})


def _check_kind(spec: str, path: Path, dirs: bool) -> None:
    """Puzzle files for Sudoku and mazes; a folder or a .json file for ARC (``dirs``)."""
    if path.is_dir() and not dirs:
        raise HrmkitError(f"--source {spec}: is a folder; this task reads puzzle files")
    if dirs and not path.is_dir() and path.suffix.lower() != ".json":
        raise HrmkitError(f"--source {spec}: is a file; {ARC_FORMS}")


# ------------------------------------------------------------------------------------------------ resolve
def resolve(spec: str, *, hub_files: tuple[str, ...] = ("train.csv", "test.csv"), dirs: bool = False) -> Source:
    """Turn a ``--source`` value into local files; fails (HrmkitError) before anything is written.

    ``dirs``: the ARC form, a folder (kind "dir", recorded by its tree sha256) or a ``.json`` task file or ARC
    Prize collection (kind "file"; the ARC recipe adds the solutions file it read beside it as role
    "solutions", so both are recorded with their sha256)."""
    if spec == GENERATE:
        return Source("generate", spec)
    if spec.startswith("hf:"):
        repo, _, revision = spec[3:].partition("@")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise HrmkitError(f"--source {spec}: expected hf:<owner>/<name>[@revision]")
        files = {Path(f).stem: hf_download(repo, f, revision or None) for f in hub_files}
        commit = next(iter(files.values())).parent.name  # snapshots/<commit>/<file> in the hub cache
        return Source("hf", spec, files, repo=repo, revision=commit)
    if spec.startswith("gh:"):
        return resolve_github(spec, dirs)
    path = Path(spec).expanduser()
    if not path.exists():
        raise HrmkitError(f"--source {spec}: no such file or folder")
    _check_kind(spec, path, dirs)
    return Source("dir", spec, {"dir": path}) if path.is_dir() else Source("file", spec, {"file": path})
