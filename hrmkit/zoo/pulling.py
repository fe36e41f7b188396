"""pull: a zoo name or ORG/NAME from the Hugging Face Hub (or a mirror) into a model directory.

The files the model needs are downloaded and verified (hrmkit.zoo.hubclient), the authors' format is converted
(hrmkit.zoo.official), and the model directory (model.safetensors, config.json, README.md) is left under
HRMKIT_HOME (default ~/.cache/hrmkit/models/<name>), written to a temporary folder and renamed into place, with
`.hrmkit-source.json` saying where it came from. `resolve` is the same, with a folder or an earlier pull used as
it is.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import yaml

from hrmkit import puzzles
from hrmkit.errors import HrmkitError
from hrmkit.zoo import card, hubclient
from hrmkit.zoo.registry import _REPO_ID, ZooEntry, find

SOURCE_FILE = ".hrmkit-source.json"  # inside a pulled folder: repo, revision, commit, format, sha256 of inputs


def __getattr__(name: str):
    if name == "_SEQ_LEN":  # family -> the sequence length of its authors' data (hrmkit.puzzles.seq_lens)
        from hrmkit import puzzles

        return puzzles.seq_lens()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def models_home() -> Path:
    """Where pulled models live: $HRMKIT_HOME/models (default ~/.cache/hrmkit/models)."""
    return Path(os.environ.get("HRMKIT_HOME") or Path.home() / ".cache" / "hrmkit").expanduser() / "models"


def default_out(name: str, revision: str | None = None) -> Path:
    key = name.replace("/", "--") + (f"@{revision}" if revision else "")
    return models_home() / key


def read_source(model_dir: Path) -> dict | None:
    path = Path(model_dir) / SOURCE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def pull(
    name: str,
    revision: str | None = None,
    out: Path | None = None,
    task: str | None = None,
    seq_len: int | None = None,
    force: bool = False,
) -> Path:
    """Fetch a zoo name or ORG/NAME, convert it if it is in the authors' format; return the model directory."""
    entry: ZooEntry | None = find(name)
    if entry is None and not _REPO_ID.match(name):
        from hrmkit.zoo.registry import get

        get(name)  # raises "unknown model" with the close names
    repo = entry.repo if entry else name
    rev = revision or (entry.revision if entry else "main")
    out = Path(out) if out is not None else default_out(name, revision if entry is None or revision else None)
    if out.exists() and any(out.iterdir()) and read_source(out) is None:
        raise HrmkitError(f"{out} exists and is not a folder made by `hrmkit pull`; choose another --out")
    if task is not None and task not in puzzles.FAMILIES:
        raise HrmkitError(f"--task must be one of {', '.join(puzzles.FAMILIES)}, got '{task}'")

    snapshot, fmt, wanted, commit = hubclient.fetch(
        repo, rev, entry.format if entry else None, entry.weights if entry else None, force)
    hashes = {f: card.sha256_file(snapshot / f) for f in wanted}  # once: the Hub check, the pins, the record
    hubclient.verify_download(snapshot, hashes, repo, commit)
    pins = entry.sha256 if entry is not None and rev == entry.revision else {}  # pins hold at the pinned revision
    hashes.update(hubclient.check_sha256(snapshot, pins, hashes, repo, rev))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        if fmt == "hrmkit":
            for f in wanted:
                shutil.copyfile(snapshot / f, tmp / f)
            if "README.md" not in wanted:
                facts = card.facts_from_dir(tmp, repo)
                facts.base_model = repo
                (tmp / "README.md").write_text(card.render(facts), encoding="utf-8")
        else:
            sources = {f"{f} (original, {repo}@{commit[:12]})": hashes[f] for f in wanted}
            _convert_official(snapshot / wanted[0], snapshot / wanted[1], tmp, entry, repo, task, seq_len, sources)
        source = {"repo": repo, "revision": rev, "commit": commit, "format": fmt,
                  "endpoint": hubclient.endpoint(), "sha256": hashes, "name": entry.name if entry else None}
        (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=1))
        _swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _convert_official(ckpt: Path, config: Path, out: Path, entry: ZooEntry | None, repo: str,
                      task: str | None, seq_len: int | None, sources: dict[str, str]) -> None:
    """The authors' checkpoint -> model.safetensors + config.json (hrmkit.zoo.official), then a model card."""
    from hrmkit.zoo import official

    task = task or (entry.task if entry else None)
    seq_len = seq_len or (entry.seq_len if entry else None) or (puzzles.family(task).SEQ_LEN if task else None)
    if seq_len is None:
        raise HrmkitError(f"{repo} is in the authors' format, which does not record the sequence length: "
                          f"give --task {'|'.join(puzzles.FAMILIES)} or --seq-len N")
    official.convert_official(ckpt, out, config_path=config, seq_len=seq_len)
    if entry is not None:
        facts = card.facts_from_entry(entry, out, official_config=config)
    else:
        facts = card.facts_from_dir(out, repo)
        facts.base_model, facts.task = repo, task or facts.task
        facts.data_note = card.text("data", "authors_repo", repo=repo)
        raw = yaml.safe_load(config.read_text()) or {}
        facts.training = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        facts.training_note = card.text("training", "authors", file="all_config.yaml")
    facts.files = {"model.safetensors": card.sha256_file(out / "model.safetensors"), **sources}
    (out / "README.md").write_text(card.render(facts), encoding="utf-8")


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace `out` by the complete folder `tmp` (the old one is moved aside first, then deleted)."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def resolve(name: str) -> Path:
    """A model directory for `name`: an existing folder, a pulled zoo name or ORG/NAME, or pull it now.

    Local before hub: a folder made by an earlier pull is used without any network call (for a registry entry,
    when it was pulled at the entry's revision).
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    entry = find(name)
    if entry is None and (name.startswith((".", "/", "~")) or not _REPO_ID.match(name)) and (
        "/" in name or os.sep in name
    ):
        raise HrmkitError(f"{name}: no such model directory")
    out = default_out(name)
    source = read_source(out) if out.is_dir() else None
    if source is not None and (entry is None or source.get("revision") == entry.revision):
        return out
    if entry is not None or not _REPO_ID.match(name):
        return pull(name)
    try:
        return pull(name)
    except HrmkitError as err:  # "runs/demo" is both a missing folder and a possible ORG/NAME: say both
        raise HrmkitError(f"{name} is not a model folder here, and pulling it from the Hub failed: {err}") from None
