"""publish: a run or model directory becomes a Hub model repository (the weights, config.json and a model card).

It goes to the Hub with HfApi (create_repo + upload_folder), or with `to=DIR` into a local git repository on
branch `main`, the layout a self-hosted mirror such as olah serves from its `mirrors-path`
(`<mirrors-path>/models/<ORG>/<NAME>`). Files are stored as plain git objects (no git-lfs needed).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from hrmkit.errors import HrmkitError
from hrmkit.zoo import card, hubclient


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

    api = HfApi(endpoint=hubclient.endpoint(), token=hubclient.token())
    with hubclient.hub_errors(repo, "main"):
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
