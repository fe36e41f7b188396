"""The Hub connection that pull, pin and publish share: where the Hub is, how its failures read, which files a
model needs, and downloading them with their hashes checked.

huggingface_hub does the transfer (its cache under HF_HUB_CACHE, resumable downloads, progress bars, HF_ENDPOINT
for a mirror, HF_TOKEN for private repositories, HF_HUB_OFFLINE for the cache alone); it is imported lazily.
Every downloaded file is checked against the Hub's own hash (the ETag that names its blob in the cache: the
sha256 of an LFS file, the git blob sha1 of any other) and against the registry's pinned sha256. Every failure a
user can cause ends in one HrmkitError.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from hrmkit.errors import HrmkitError
from hrmkit.zoo import card

HRMKIT_FILES = ("model.safetensors", "config.json", "README.md")
_NOT_WEIGHTS = (".md", ".yaml", ".yml", ".json", ".txt", ".py", ".ipynb", ".png", ".jpg", ".jpeg", ".svg",
                ".html", ".csv", ".gitattributes", ".gitignore", ".safetensors")


# ------------------------------------------------------------------------------------------------ settings
def endpoint() -> str:
    from huggingface_hub import constants

    # Read at call time (huggingface_hub reads it once at import), so a mirror set later is honoured.
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None  # None: huggingface_hub's default cache


def token() -> str | None:
    return os.environ.get("HF_TOKEN") or None  # None: huggingface_hub's stored login, if any


# ------------------------------------------------------------------------------------------------ hub errors
@contextlib.contextmanager
def hub_errors(repo: str, revision: str | None):
    """Turn huggingface_hub and network exceptions into one plain HrmkitError."""
    from huggingface_hub import errors as hf

    rev = revision or "main"
    try:
        yield
    except hf.GatedRepoError:
        raise HrmkitError(f"{repo} is gated: accept its terms on the Hub and set HF_TOKEN") from None
    except hf.RepositoryNotFoundError:
        raise HrmkitError(f"repository {repo} not found on {endpoint()} (if it is private, set HF_TOKEN)") from None
    except hf.RevisionNotFoundError:
        raise HrmkitError(f"revision '{rev}' not found in {repo} on {endpoint()}") from None
    except hf.RemoteEntryNotFoundError as exc:
        raise HrmkitError(f"{repo}@{rev}: a file is missing on the Hub ({_first_line(exc)})") from None
    except hf.LocalEntryNotFoundError as exc:
        if offline():
            raise HrmkitError(_offline_message(repo, rev)) from None
        # online, a download failed and the cache has no copy: say why (not "offline")
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _network_errors()):
            raise HrmkitError(f"cannot reach {endpoint()} for {repo} ({_first_line(cause)}); check the network, "
                              "set HF_ENDPOINT for a mirror, or HF_HUB_OFFLINE=1 to use the local cache") from None
        raise HrmkitError(f"{repo}@{rev}: download from {endpoint()} failed and the file is not in the cache "
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
            f"cannot reach {endpoint()} for {repo} ({_first_line(exc)}); check the network, set HF_ENDPOINT for "
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
    cache = cache_dir() or "the Hugging Face cache"
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


def wanted_files(fmt: str, files: list[str], repo: str, weights: str | None) -> list[str]:
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


def fetch(repo: str, revision: str, fmt: str | None, weights: str | None, force: bool):
    """Download what the model needs into the hub cache. Returns (snapshot dir, format, files, commit)."""
    from huggingface_hub import HfApi, snapshot_download

    common = dict(repo_id=repo, revision=revision, cache_dir=cache_dir(), token=token())
    if offline():
        with hub_errors(repo, revision):
            snapshot = Path(snapshot_download(**common, local_files_only=True))
        files = _snapshot_files(snapshot)
        fmt = fmt or detect_format(files)
        return snapshot, fmt, wanted_files(fmt, files, repo, weights), snapshot.name
    with hub_errors(repo, revision):
        info = HfApi(endpoint=endpoint(), token=token()).model_info(repo, revision=revision)
        files = [s.rfilename for s in info.siblings or []]
        fmt = fmt or detect_format(files)
        wanted = wanted_files(fmt, files, repo, weights)
        snapshot = Path(snapshot_download(**common, endpoint=endpoint(), allow_patterns=wanted,
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
