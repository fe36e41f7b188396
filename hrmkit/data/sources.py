"""Where a data set's puzzles come from: ``hf:<owner>/<name>[@revision]``, local files or folders, ``generate``.

Resolving a source fetches nothing twice (the Hugging Face cache) and records what was read: every file with
its sha256 and, for the hub, the commit it came from, so a build's provenance pins its inputs exactly.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from hrmkit.data.format import sha256_file
from hrmkit.errors import HrmkitError

GENERATE = "generate"


@dataclass
class Source:
    """A resolved source: its kind, the spec the user gave, and the local files (with sha256) it stands for."""

    kind: str  # "hf" | "file" | "dir" | "generate"
    spec: str
    files: dict[str, Path] = field(default_factory=dict)  # role ("train", "test", or a file name) -> local path
    repo: str | None = None
    revision: str | None = None  # the commit a hub source resolved to

    def record(self) -> dict:
        """Provenance entry: spec, kind, and every file (path as given, sha256)."""
        out: dict = {"spec": self.spec, "kind": self.kind}
        if self.repo:
            out.update(repo=self.repo, revision=self.revision)
        if self.kind == "dir":
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


def resolve(spec: str, *, hub_files: tuple[str, ...] = ("train.csv", "test.csv"), dirs: bool = False) -> Source:
    """Turn a ``--source`` value into local files; fails (HrmkitError) before anything is written."""
    if spec == GENERATE:
        return Source("generate", spec)
    if spec.startswith("hf:"):
        repo, _, revision = spec[3:].partition("@")
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise HrmkitError(f"--source {spec}: expected hf:<owner>/<name>[@revision]")
        files = {Path(f).stem: hf_download(repo, f, revision or None) for f in hub_files}
        commit = next(iter(files.values())).parent.name  # snapshots/<commit>/<file> in the hub cache
        return Source("hf", spec, files, repo=repo, revision=commit)
    path = Path(spec).expanduser()
    if not path.exists():
        raise HrmkitError(f"--source {spec}: no such file or folder")
    if path.is_dir():
        if not dirs:
            raise HrmkitError(f"--source {spec}: is a folder; this task reads puzzle files")
        return Source("dir", spec, {"dir": path})
    if dirs:
        raise HrmkitError(f"--source {spec}: ARC sources are folders of task JSON files")
    return Source("file", spec, {"file": path})
