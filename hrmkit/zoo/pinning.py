"""pin: the maintainer's step that turns a registry entry's `revision: main` into a reproducible pin.

`pin(name)` resolves the entry's revision to the commit it names now, downloads the files the entry uses,
verifies them (hrmkit.zoo.hubclient) and writes the commit and their sha256 into the entry's YAML file. A
shipped entry is written in the repository's `zoo/` (the one copy in git; the build copies it into the package);
an installed hrmkit without its repository refuses.
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import yaml

from hrmkit.atomic import write_text
from hrmkit.errors import HrmkitError
from hrmkit.zoo import card, hubclient, registry
from hrmkit.zoo.registry import ZooEntry


def pinned_files(fmt: str, wanted: list[str]) -> list[str]:
    """The files a pin covers: the weights and the config they are read with (not the model card)."""
    return [f for f in wanted if f != "README.md"] if fmt == "hrmkit" else wanted


def entry_file(entry: ZooEntry) -> Path:
    """The YAML file `pin` rewrites: the entry's own file (a shipped entry's is `zoo/NAME.yaml` of the checkout,
    an added one's lies in its HRMKIT_ZOO_PATH folder).

    Refused for the copy inside an installed package (`hrmkit/zoo/registry/`): that copy is not in git, the next
    install replaces it from `zoo/`, and pinning is a change to commit.
    """
    path = Path(entry.path)
    if path.resolve().parent == registry.PACKAGED.resolve():
        raise HrmkitError(
            f"hrmkit zoo pin {entry.name}: {path} is the registry copy inside the installed package, not a file in "
            f"git; pinning writes the repository's zoo/{path.name}: run it in a checkout of hrmkit "
            "(`pip install -e .`), or copy the entry into a folder on HRMKIT_ZOO_PATH and pin that copy")
    return path


def pin(name: str, revision: str | None = None) -> tuple[ZooEntry, str, dict[str, str], list[Path]]:
    """Pin a registry entry: its revision -> a full commit, and the sha256 of its files at that commit.

    Rewrites the entry's YAML file in place (`entry_file`: `zoo/NAME.yaml` of the checkout for a shipped entry);
    returns (entry before, commit, {file: sha256}, files written). Needs the network.
    """
    entry = registry.get(name)
    path = entry_file(entry)  # before any download: an installed hrmkit has nothing to write
    if hubclient.offline():
        raise HrmkitError(f"hrmkit zoo pin {name} needs the network (HF_HUB_OFFLINE is set)")
    rev = revision or entry.revision
    snapshot, fmt, wanted, commit = hubclient.fetch(entry.repo, rev, entry.format, entry.weights, force=False)
    downloaded = {f: card.sha256_file(snapshot / f) for f in wanted}
    hubclient.verify_download(snapshot, downloaded, entry.repo, commit)
    hashes = {f: downloaded[f] for f in pinned_files(fmt, wanted)}
    old = path.read_text(encoding="utf-8")
    new = rewrite_pins(old, path, commit, hashes, note=f"{rev} on {datetime.date.today()}" if rev != commit else None)
    with tempfile.TemporaryDirectory() as tmp:  # schema-check the new text under the entry's own file name
        probe = Path(tmp) / path.name
        probe.write_text(new, encoding="utf-8")
        registry.parse_entry(probe)
    write_text(path, new, replace=True)
    return entry, commit, hashes, [path]


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
