"""`hrmkit pull`, `hrmkit publish` and `hrmkit zoo list|show|card|pin`: parse, call hrmkit.zoo, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hrmkit.errors import HrmkitError
from hrmkit.zoo import card as cards
from hrmkit.zoo import pinning, publishing, pulling, registry


def _opt(help_text: str):
    return typer.Option(help=help_text)


def pull(
    name: Annotated[str, typer.Argument(help="A zoo name (see `hrmkit zoo list`) or a Hub repo id ORG/NAME.")],
    revision: Annotated[Optional[str], _opt("Branch, tag or commit (default: the registry's pin, or main).")] = None,
    out: Annotated[Optional[Path], _opt("Model directory to write (default: $HRMKIT_HOME/models/NAME).")] = None,
    task: Annotated[Optional[str], _opt("sudoku|maze|arc, for an authors'-format repo not in the registry.")] = None,
    seq_len: Annotated[Optional[int], _opt("Sequence length, for an authors'-format repo not in the registry.")] = None,
    force: Annotated[bool, _opt("Download again even if the files are in the cache.")] = False,
) -> None:
    """Download a model (HF_ENDPOINT for a mirror, HF_TOKEN for private repos), convert it, print its folder."""
    path = pulling.pull(name, revision=revision, out=out, task=task, seq_len=seq_len, force=force)
    source = pulling.read_source(path) or {}
    typer.echo(f"pulled {source.get('repo', name)} at {source.get('commit', '?')} ({source.get('format')} format)",
               err=True)
    entry = registry.find(name)
    if entry is not None and not entry.pinned and revision is None:
        try:
            target = str(pinning.entry_file(entry))
        except HrmkitError:  # the copy inside an installed package: pinned in a checkout
            target = f"zoo/{entry.path.name} of a checkout of hrmkit"
        typer.echo(f"note: the registry entry '{name}' follows the branch '{entry.revision}', not a fixed commit; "
                   f"`hrmkit zoo pin {name}` writes the commit and file hashes into {target}", err=True)
    typer.echo(str(path))


def publish(
    run_dir: Annotated[Path, typer.Argument(help="A training run or model folder (model.safetensors + config.json).")],
    repo: Annotated[str, _opt("Hub repo id ORG/NAME.")],
    private: Annotated[bool, _opt("Create the Hub repository as private.")] = False,
    to: Annotated[Optional[Path], _opt("Commit into this local git repository (branch main), not the Hub.")] = None,
    report: Annotated[Optional[Path], _opt("Evaluation report (metrics.json or its folder) for the card.")] = None,
    data: Annotated[Optional[Path], _opt("The data set folder it was trained on (default: the run's).")] = None,
    message: Annotated[Optional[str], _opt("Commit message.")] = None,
) -> None:
    """Write the Hub layout (weights, config.json, model card) and push it (HfApi) or commit it locally (--to)."""
    where = publishing.publish(run_dir, repo, private=private, to=to, report=report, data=data, message=message)
    if to is not None:
        typer.echo(f"committed {repo} to {to} (branch main) at {where}", err=True)
        typer.echo(str(to))
    else:
        typer.echo(where)


zoo_app = typer.Typer(no_args_is_help=True, help="List, inspect and pin the model registry; write model cards.")


def _fmt_metrics(entry: registry.ZooEntry) -> str:
    return ", ".join(f"{m.name} {100 * m.value:.1f}%" for m in entry.metrics) or "-"


@zoo_app.command("list")
def list_models() -> None:
    """One line per registry entry: name, task, format, Hub repo and revision, reported metric."""
    entries = registry.load_registry()
    rows = [("NAME", "TASK", "FORMAT", "REPO@REVISION", "REPORTED")]
    rows += [(e.name, e.task, e.format, f"{e.repo}@{e.revision[:12]}" + ("" if e.pinned else " (unpinned)"),
              _fmt_metrics(e)) for e in entries.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@zoo_app.command("show")
def show(name: Annotated[str, typer.Argument(help="A registry name.")]) -> None:
    """Every field of a registry entry, and whether it has been pulled here."""
    e = registry.get(name)
    lines = [
        f"name:        {e.name}",
        f"description: {e.description}",
        f"repo:        {e.repo}",
        f"revision:    {e.revision}" + ("" if e.pinned else "  (a branch, not a pinned commit: `hrmkit zoo pin` pins it)"),
        f"format:      {e.format}" + (f" (weights file: {e.weights})" if e.weights else ""),
        f"task:        {e.task}",
        f"seq_len:     {e.seq_len}",
        f"arch:        {e.arch}",
        f"license:     {e.license}",
        "metrics:" if e.metrics else "metrics:     none reported",
    ]
    for m in e.metrics:
        check = "measured by hrmkit" if m.verified else "reported"
        lines.append(f"  - {m.name} = {100 * m.value:.1f}% on {m.dataset} ({m.split}); {check}: {m.source}")
    lines.append("sha256:" if e.sha256 else "sha256:      none pinned")
    lines += [f"  {f}: {h}" for f, h in sorted(e.sha256.items())]
    out = pulling.default_out(e.name)
    source = pulling.read_source(out) if out.is_dir() else None
    lines.append(f"pulled:      {out} (commit {source.get('commit')})" if source else "pulled:      no")
    lines.append("citation:")
    lines += [f"  {line}" for line in e.citation.strip().splitlines()]
    lines.append(f"entry file:  {e.path}")
    typer.echo("\n".join(lines))


@zoo_app.command("card")
def card(
    run_dir: Annotated[Path, typer.Argument(help="A training run or model folder (model.safetensors + config.json).")],
    out: Annotated[Path, typer.Option("--out", help="The card file to write (e.g. reports/model/README.md).")],
    report: Annotated[Optional[Path], _opt("Evaluation report (metrics.json or its folder) for the card.")] = None,
    data: Annotated[Optional[Path], _opt("The data set folder it was trained on (default: the run's).")] = None,
    repo: Annotated[Optional[str], _opt("Hub repo id ORG/NAME the card names (default: hrmkit/<folder name>).")]
    = None,
) -> None:
    """Write the model card `hrmkit publish` would write (README.md), without git or network."""
    path = cards.write_card(run_dir, out, repo=repo, report=report, data=data)
    typer.echo(str(path))


@zoo_app.command("pin")
def pin(
    names: Annotated[list[str], typer.Argument(help="Registry names to pin.")],
    revision: Annotated[Optional[str], _opt("Branch, tag or commit to pin (default: the entry's revision).")] = None,
) -> None:
    """Pin entries to the commit their revision names now, with the sha256 of their files (needs the network).

    Downloads the files each entry uses (into the Hugging Face cache), checks them against the Hub's hashes, and
    rewrites the entry's YAML file: `revision:` becomes the full commit, `sha256:` lists the weights and config.
    A shipped entry is written in the repository's zoo/NAME.yaml, to commit (an installed hrmkit without its
    repository refuses); an entry on HRMKIT_ZOO_PATH, in its own file.
    """
    for name in names:
        entry, commit, hashes, written = pinning.pin(name, revision=revision)
        typer.echo(f"{name}: {entry.repo} {revision or entry.revision} -> {commit}", err=True)
        for f, h in sorted(hashes.items()):
            typer.echo(f"  sha256 {f}: {h}", err=True)
        for path in written:
            typer.echo(str(path))
