"""The Hub client: pull models from the Hugging Face Hub (or a mirror), publish them back.

pull: huggingface_hub does the transfer (its cache under HF_HUB_CACHE, resumable downloads, progress bars,
HF_ENDPOINT for a mirror, HF_TOKEN for private repositories, HF_HUB_OFFLINE for the cache alone). hrmkit then
checks every downloaded file against the Hub's own hash (the ETag that names its blob in the cache: the sha256 of
an LFS file, the git blob sha1 of any other) and against the registry's pinned sha256, converts the authors' format, and leaves a model directory
(model.safetensors, config.json, README.md) under HRMKIT_HOME (default ~/.cache/hrmkit/models/<name>), written
to a temporary folder and renamed into place, with `.hrmkit-source.json` saying where it came from.

pin: `pin(name)` resolves a registry entry's revision to the commit it names now, downloads the files the
entry uses, verifies them as above and writes the commit and their sha256 into the entry's YAML file (the
maintainer's step that turns `revision: main` into a reproducible pin).

publish: a run or model directory becomes a Hub model repository: the weights, config.json and a model card.
It goes to the Hub with HfApi (create_repo + upload_folder), or with `to=DIR` into a local git repository on
branch `main`, the layout a self-hosted mirror such as olah serves from its `mirrors-path`
(`<mirrors-path>/models/<ORG>/<NAME>`). Files are stored as plain git objects (no git-lfs needed).

Every failure a user can cause ends in one HrmkitError; huggingface_hub is imported lazily.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import yaml

from hrmkit.errors import HrmkitError
from hrmkit.zoo import card
from hrmkit.zoo.registry import _REPO_ID, ZooEntry, find

SOURCE_FILE = ".hrmkit-source.json"  # inside a pulled folder: repo, revision, commit, format, sha256 of inputs
HRMKIT_FILES = ("model.safetensors", "config.json", "README.md")
_NOT_WEIGHTS = (".md", ".yaml", ".yml", ".json", ".txt", ".py", ".ipynb", ".png", ".jpg", ".jpeg", ".svg",
                ".html", ".csv", ".gitattributes", ".gitignore", ".safetensors")
_SEQ_LEN = {"sudoku": 81, "maze": 900, "arc": 900}


# ------------------------------------------------------------------------------------------------ settings
def models_home() -> Path:
    """Where pulled models live: $HRMKIT_HOME/models (default ~/.cache/hrmkit/models)."""
    return Path(os.environ.get("HRMKIT_HOME") or Path.home() / ".cache" / "hrmkit").expanduser() / "models"


def _endpoint() -> str:
    from huggingface_hub import constants

    # Read at call time (huggingface_hub reads it once at import), so a mirror set later is honoured.
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None  # None: huggingface_hub's default cache


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or None  # None: huggingface_hub's stored login, if any


# ------------------------------------------------------------------------------------------------ hub errors
@contextlib.contextmanager
def _hub_errors(repo: str, revision: str | None):
    """Turn huggingface_hub and network exceptions into one plain HrmkitError."""
    from huggingface_hub import errors as hf

    rev = revision or "main"
    try:
        yield
    except hf.GatedRepoError:
        raise HrmkitError(f"{repo} is gated: accept its terms on the Hub and set HF_TOKEN") from None
    except hf.RepositoryNotFoundError:
        raise HrmkitError(f"repository {repo} not found on {_endpoint()} (if it is private, set HF_TOKEN)") from None
    except hf.RevisionNotFoundError:
        raise HrmkitError(f"revision '{rev}' not found in {repo} on {_endpoint()}") from None
    except hf.RemoteEntryNotFoundError as exc:
        raise HrmkitError(f"{repo}@{rev}: a file is missing on the Hub ({_first_line(exc)})") from None
    except hf.LocalEntryNotFoundError as exc:
        if _offline():
            raise HrmkitError(_offline_message(repo, rev)) from None
        # online, a download failed and the cache has no copy: say why (not "offline")
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _network_errors()):
            raise HrmkitError(f"cannot reach {_endpoint()} for {repo} ({_first_line(cause)}); check the network, "
                              "set HF_ENDPOINT for a mirror, or HF_HUB_OFFLINE=1 to use the local cache") from None
        raise HrmkitError(f"{repo}@{rev}: download from {_endpoint()} failed and the file is not in the cache "
                          f"({_first_line(cause or exc)})") from None
    except hf.OfflineModeIsEnabled:
        raise HrmkitError(_offline_message(repo, rev)) from None
    except hf.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        if status in (401, 403):
            raise HrmkitError(f"{repo}: not allowed (HTTP {status}); set HF_TOKEN to a token with access") from None
        raise HrmkitError(f"{repo}@{rev}: the Hub answered HTTP {status} ({_first_line(exc)})") from None
    except _network_errors() as exc:
        raise HrmkitError(
            f"cannot reach {_endpoint()} for {repo} ({_first_line(exc)}); check the network, set HF_ENDPOINT for "
            "a mirror, or HF_HUB_OFFLINE=1 to use the local cache"
        ) from None


def _network_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    with contextlib.suppress(ImportError):
        import httpx

        errors.append(httpx.TransportError)
    with contextlib.suppress(ImportError):  # huggingface_hub >= 2 uses the httpx2 fork
        import httpx2

        errors.append(httpx2.TransportError)
    with contextlib.suppress(ImportError):
        import requests

        errors.append(requests.exceptions.ConnectionError)
    return tuple(errors)


def _offline_message(repo: str, rev: str) -> str:
    cache = _cache_dir() or "the Hugging Face cache"
    return (f"offline (HF_HUB_OFFLINE is set) and {repo}@{rev} is not in {cache}; pull it once with network "
            "access, or unset HF_HUB_OFFLINE")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------------------------ repo files
def find_weights(files: list[str], repo: str) -> str:
    """The authors' weights file among a repository's files: `step_N` (highest N), `checkpoint`, then *.pt."""
    candidates = [f for f in files if not f.lower().endswith(_NOT_WEIGHTS) and not Path(f).name.startswith(".")]
    steps = [(int(m.group(1)), f) for f in candidates if (m := re.fullmatch(r"(?:.*/)?step_(\d+)", f))]
    if steps:
        return max(steps)[1]
    for pattern in (r"(?:.*/)?checkpoint", r".*\.(?:pt|pth|ckpt|bin)"):
        named = sorted(f for f in candidates if re.fullmatch(pattern, f))
        if len(named) == 1:
            return named[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        listing = ", ".join(sorted(files)) or "no files"
        raise HrmkitError(f"{repo} has no weights: neither model.safetensors + config.json nor a torch.save "
                          f"checkpoint (step_N, checkpoint, *.pt) among its files ({listing})")
    raise HrmkitError(f"{repo}: several files could be the weights ({', '.join(sorted(candidates))}); add a "
                      "registry entry naming one (`weights:`) in a folder on HRMKIT_ZOO_PATH")


def detect_format(files: list[str]) -> str:
    return "hrmkit" if {"model.safetensors", "config.json"} <= set(files) else "official"


def _wanted(fmt: str, files: list[str], repo: str, weights: str | None) -> list[str]:
    """The files to download for a format (never the whole repository: it may hold many checkpoints)."""
    if fmt == "hrmkit":
        missing = [f for f in ("model.safetensors", "config.json") if f not in files]
        if missing:
            raise HrmkitError(f"{repo} has no weights in hrmkit format: {', '.join(missing)} missing "
                              f"(files: {', '.join(sorted(files)) or 'none'})")
        return [f for f in HRMKIT_FILES if f in files]
    weights = weights or find_weights(files, repo)
    if weights not in files:
        raise HrmkitError(f"{repo} has no weights file '{weights}' (files: {', '.join(sorted(files)) or 'none'})")
    config = str(Path(weights).parent / "all_config.yaml") if "/" in weights else "all_config.yaml"
    if config not in files:
        raise HrmkitError(f"{repo}: the authors' checkpoint '{weights}' has no all_config.yaml beside it")
    return [weights, config]


def _snapshot_files(snapshot: Path) -> list[str]:
    return sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())


def _fetch(repo: str, revision: str, fmt: str | None, weights: str | None, force: bool):
    """Download what the model needs into the hub cache. Returns (snapshot dir, format, files, commit)."""
    from huggingface_hub import HfApi, snapshot_download

    common = dict(repo_id=repo, revision=revision, cache_dir=_cache_dir(), token=_token())
    if _offline():
        with _hub_errors(repo, revision):
            snapshot = Path(snapshot_download(**common, local_files_only=True))
        files = _snapshot_files(snapshot)
        fmt = fmt or detect_format(files)
        return snapshot, fmt, _wanted(fmt, files, repo, weights), snapshot.name
    with _hub_errors(repo, revision):
        info = HfApi(endpoint=_endpoint(), token=_token()).model_info(repo, revision=revision)
        files = [s.rfilename for s in info.siblings or []]
        fmt = fmt or detect_format(files)
        wanted = _wanted(fmt, files, repo, weights)
        snapshot = Path(snapshot_download(**common, endpoint=_endpoint(), allow_patterns=wanted,
                                          force_download=force))
    return snapshot, fmt, wanted, snapshot.name  # the cache names a snapshot by its commit


def _git_blob_sha1(path: Path) -> str:
    """The id git gives a file's content: sha1 of `blob <size>\\0` + the bytes (the Hub's ETag of a non-LFS file)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: digest).hexdigest()


def verify_download(snapshot: Path, sha256: dict[str, str], repo: str, commit: str) -> None:
    """Check each downloaded file (`sha256`: file -> its sha256, computed once by the caller) against the Hub's hash.

    huggingface_hub stores a file as `blobs/<etag>` and links `snapshots/<commit>/<file>` to it; the Hub's ETag is
    the sha256 of an LFS file and the git blob sha1 of any other, so the blob's name is the hash the server
    vouches for. A cache without symlinks (copies) names nothing, and is not checked here.
    """
    for name, digest in sha256.items():
        blob = (snapshot / name).resolve()
        etag = blob.name
        if re.fullmatch(r"[0-9a-f]{64}", etag):
            got = digest
        elif re.fullmatch(r"[0-9a-f]{40}", etag):
            got = _git_blob_sha1(blob)
        else:
            continue
        if got != etag:
            raise HrmkitError(f"{repo}/{name}@{commit[:12]}: the downloaded file does not match the Hub's hash "
                              f"(expected {etag}, got {got}); the download is corrupt: run again with --force")


def check_sha256(snapshot: Path, pins: dict[str, str], sha256: dict[str, str], repo: str,
                 revision: str) -> dict[str, str]:
    """Compare the pinned hashes with the downloaded files (`sha256`: those already hashed); return the sha256 of
    every pinned file."""
    seen = {}
    for name, expected in sorted(pins.items()):
        path = snapshot / name
        if not path.is_file():
            raise HrmkitError(f"{repo}@{revision}: the registry pins a sha256 for '{name}' but it was not downloaded "
                              "(not in the repository at this revision?)")
        got = sha256.get(name) or card.sha256_file(path)
        if got != expected:
            raise HrmkitError(f"sha256 mismatch for {repo}/{name}@{revision}: expected {expected}, got {got}; the file "
                              "changed on the Hub or the download is corrupt (retry with --force); nothing was written")
        seen[name] = got
    return seen


# ------------------------------------------------------------------------------------------------ pull
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
    if task is not None and task not in _SEQ_LEN:
        raise HrmkitError(f"--task must be one of {', '.join(_SEQ_LEN)}, got '{task}'")

    snapshot, fmt, wanted, commit = _fetch(
        repo, rev, entry.format if entry else None, entry.weights if entry else None, force)
    hashes = {f: card.sha256_file(snapshot / f) for f in wanted}  # once: the Hub check, the pins, the record
    verify_download(snapshot, hashes, repo, commit)
    pins = entry.sha256 if entry is not None and rev == entry.revision else {}  # pins hold at the pinned revision
    hashes.update(check_sha256(snapshot, pins, hashes, repo, rev))

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
                  "endpoint": _endpoint(), "sha256": hashes, "name": entry.name if entry else None}
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
    seq_len = seq_len or (entry.seq_len if entry else None) or (_SEQ_LEN[task] if task else None)
    if seq_len is None:
        raise HrmkitError(f"{repo} is in the authors' format, which does not record the sequence length: "
                          "give --task sudoku|maze|arc or --seq-len N")
    official.convert_official(ckpt, out, config_path=config, seq_len=seq_len)
    if entry is not None:
        facts = card.facts_from_entry(entry, out, official_config=config)
    else:
        facts = card.facts_from_dir(out, repo)
        facts.base_model, facts.task = repo, task or facts.task
        facts.data_note = f"Trained by the authors of `{repo}`; the data set is not recorded in their files."
        raw = yaml.safe_load(config.read_text()) or {}
        facts.training = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        facts.training_note = "from the authors' `all_config.yaml`"
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


# ------------------------------------------------------------------------------------------------ pin
def pinned_files(fmt: str, wanted: list[str]) -> list[str]:
    """The files a pin covers: the weights and the config they are read with (not the model card)."""
    return [f for f in wanted if f != "README.md"] if fmt == "hrmkit" else wanted


def pin(name: str, revision: str | None = None) -> tuple[ZooEntry, str, dict[str, str], list[Path]]:
    """Pin a registry entry: its revision -> a full commit, and the sha256 of its files at that commit.

    Rewrites the entry's YAML file in place (and its twin, when the repository's `zoo/` and the packaged copy
    were identical); returns (entry before, commit, {file: sha256}, files written). Needs the network.
    """
    from hrmkit.zoo.registry import get, parse_entry

    entry = get(name)
    if _offline():
        raise HrmkitError(f"hrmkit zoo pin {name} needs the network (HF_HUB_OFFLINE is set)")
    rev = revision or entry.revision
    snapshot, fmt, wanted, commit = _fetch(entry.repo, rev, entry.format, entry.weights, force=False)
    downloaded = {f: card.sha256_file(snapshot / f) for f in wanted}
    verify_download(snapshot, downloaded, entry.repo, commit)
    hashes = {f: downloaded[f] for f in pinned_files(fmt, wanted)}
    path = Path(entry.path)
    old = path.read_text(encoding="utf-8")
    new = rewrite_pins(old, path, commit, hashes, note=f"{rev} on {datetime.date.today()}" if rev != commit else None)
    with tempfile.TemporaryDirectory() as tmp:  # schema-check the new text under the entry's own file name
        probe = Path(tmp) / path.name
        probe.write_text(new, encoding="utf-8")
        parse_entry(probe)
    written = []
    for target in [path, *_twins(path, old)]:
        from hrmkit.atomic import write_text

        write_text(target, new, replace=True)
        written.append(target)
    return entry, commit, hashes, written


def _twins(path: Path, text: str) -> list[Path]:
    """The other copy of a shipped entry (repo `zoo/` <-> package `hrmkit/zoo/registry/`) when it is identical."""
    from hrmkit.zoo.registry import PACKAGED

    shipped = [PACKAGED.parents[2] / "zoo" / path.name, PACKAGED / path.name]
    if path.resolve() not in {o.resolve() for o in shipped}:  # an entry of one's own (HRMKIT_ZOO_PATH): alone
        return []
    return [o for o in shipped if o.resolve() != path.resolve() and o.is_file() and o.read_text(encoding="utf-8") == text]


def rewrite_pins(text: str, path: Path, commit: str, hashes: dict[str, str], note: str | None = None) -> str:
    """The entry's YAML text with `revision:` set to `commit` and the `sha256:` mapping set to `hashes`.

    Only those two top-level keys change (each from its key to the end of its value's last line, comments on
    those lines included); every other line, comment and the key order stay as they are.
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    spans = {k.value: (k.start_mark.index, v) for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}
    if "revision" not in spans:
        raise HrmkitError(f"{path}: no top-level 'revision' key to pin")

    def line_end(index: int) -> int:
        end = text.find("\n", index)
        return len(text) if end < 0 else end + 1

    def value_end(value: yaml.Node) -> int:
        last = value.end_mark.index
        while last > 0 and text[last - 1] in " \t\r\n":
            last -= 1
        return line_end(last - 1 if last > 0 else 0)

    edits = []
    start, value = spans["revision"]
    edits.append((start, value_end(value), f"revision: {commit}" + (f"  # {note}" if note else "") + "\n"))
    block = "sha256:\n" + "".join(f"  {f}: {h}\n" for f, h in sorted(hashes.items())) if hashes else "sha256: {}\n"
    if "sha256" in spans:
        start, value = spans["sha256"]
        edits.append((start, value_end(value), block))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if "sha256" not in spans:
        text += ("" if text.endswith("\n") else "\n") + block
    return text


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


# ------------------------------------------------------------------------------------------------ publish
def publish(
    src: Path,
    repo: str,
    private: bool = False,
    to: Path | None = None,
    report: Path | None = None,
    data: Path | None = None,
    message: str | None = None,
) -> str:
    """Publish a run or model directory as a Hub model repository; return its URL or the local commit."""
    src = Path(src)
    # the card checks SRC (weights, a config.json that rebuilds its model) and REPO before anything is written;
    # the weights and config.json below are byte copies, so the card's sha256 (of SRC's files) are theirs
    readme = card.card_text(src, repo, report=report, data=data)
    message = message or f"hrmkit publish {src.name}"
    with tempfile.TemporaryDirectory(prefix="hrmkit-publish-") as tmp:
        stage = Path(tmp)
        for f in ("model.safetensors", "config.json"):
            shutil.copyfile(src / f, stage / f)
        (stage / "README.md").write_text(readme, encoding="utf-8")
        if to is not None:
            return _commit_to_git(stage, Path(to), message)
        return _upload(stage, repo, private, message)


def _upload(stage: Path, repo: str, private: bool, message: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=_endpoint(), token=_token())
    with _hub_errors(repo, "main"):
        url = api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo, folder_path=str(stage), commit_message=message, repo_type="model")
    return str(url)


def _git(repo_dir: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise HrmkitError("publish --to needs git on PATH")
    proc = subprocess.run([git, "-C", str(repo_dir), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise HrmkitError(f"{repo_dir}: git {args[0]} failed ({detail[-1] if detail else proc.returncode})")
    return proc.stdout.strip()


def _commit_to_git(stage: Path, to: Path, message: str) -> str:
    """Commit the staged files into the git repository `to` on branch main (created when absent)."""
    if to.exists() and not to.is_dir():
        raise HrmkitError(f"--to {to}: exists and is not a folder")
    from hrmkit.atomic import check_target

    for name in ("model.safetensors", "config.json", "README.md"):  # before staging anything
        check_target(to / name, root=to, replace=True)
    created = not to.exists() or not any(to.iterdir())
    try:
        return _commit_into(stage, to, message, created)
    except BaseException:
        if created:  # a repository this call made and could not finish: nothing of it stays
            shutil.rmtree(to, ignore_errors=True)
        raise


def _commit_into(stage: Path, to: Path, message: str, created: bool) -> str:
    if not created:
        if not (to / ".git").exists():
            raise HrmkitError(f"--to {to}: the folder is not empty and not a git repository")
        branch = _git(to, "symbolic-ref", "--short", "HEAD")
        if branch != "main":
            raise HrmkitError(f"--to {to}: the repository is on branch '{branch}', a Hub repository uses 'main'")
    else:
        to.mkdir(parents=True, exist_ok=True)
        _git(to, "init", "-q")
        _git(to, "symbolic-ref", "HEAD", "refs/heads/main")
    from hrmkit.atomic import copy_files

    names = sorted(p.name for p in stage.iterdir())
    # all files or none, never through a symbolic link in the repository (README.md -> a file elsewhere)
    copy_files({to / name: stage / name for name in names}, root=to, replace=True)
    try:
        _git(to, "add", "--", *names)
        identity = []
        if subprocess.run(["git", "-C", str(to), "config", "user.email"], capture_output=True).returncode != 0:
            identity = ["-c", "user.name=hrmkit", "-c", "user.email=hrmkit@localhost"]
        if _git(to, "status", "--porcelain", "--", *names):
            _git(to, *identity, "commit", "-q", "-m", message)
    except BaseException:  # the commit failed (disk full?): the working tree goes back to the last commit
        if not created:
            subprocess.run(["git", "-C", str(to), "checkout", "-q", "HEAD", "--", *names], capture_output=True)
        raise
    return _git(to, "rev-parse", "HEAD")
