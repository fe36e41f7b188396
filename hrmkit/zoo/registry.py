"""The model registry: one YAML file per published model, parsed into a frozen `ZooEntry`.

One copy in git: the repository's `zoo/` (`zoo/*.yaml` and the model-card template `zoo/MODEL_CARD.md`). The
build puts it into the package (setup.py `build_py` copies `zoo/` to `hrmkit/zoo/registry/` of the wheel), because
an installed hrmkit has no repository around it. `shipped_dir()` is where this hrmkit reads it: the checkout's
`zoo/` when hrmkit runs from a source tree (an editable install, `pip install -e .`, or PYTHONPATH), else the
packaged `hrmkit/zoo/registry/` (a wheel). `hrmkit zoo pin` writes shipped entries into `zoo/` only.

Extra registries: `HRMKIT_ZOO_PATH` (folders separated by `os.pathsep`) adds entries, read after the shipped
ones; an entry there with the same name replaces the shipped one (to pin another revision, or a private zoo).

Every entry is schema-checked on load; a bad entry stops with `file:line: what is wrong`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hrmkit import puzzles
from hrmkit.errors import HrmkitError, where

PACKAGED = Path(__file__).with_name("registry")  # the copy a wheel holds (written by the build, not kept in git)
_ROOT = Path(__file__).resolve().parents[2]  # the source tree, when hrmkit runs from one
CARD_TEMPLATE = "MODEL_CARD.md"  # beside the entries
FORMATS = ("hrmkit", "official")  # official: the authors' torch.save checkpoint + all_config.yaml
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def __getattr__(name: str):
    if name == "TASKS":  # the tasks an entry may name: the registered families (hrmkit.puzzles.FAMILIES)
        return puzzles.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Metric:
    """One reported evaluation result. `value` is a fraction in [0, 1] (0.55 = 55 %)."""

    name: str  # exact_accuracy, pass@2, ...
    value: float
    dataset: str  # Hub data set id or a plain name
    split: str
    source: str  # where the number comes from (paper figure, report file); never invented
    url: str | None = None  # link to the source (the model-index wants one beside a source name)
    verified: bool = False  # True only when measured by hrmkit on these very weights


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    repo: str  # Hub repo id, ORG/NAME
    revision: str  # commit hash (pinned) or a branch name
    format: str  # one of FORMATS
    task: str  # one of TASKS: the registered families (hrmkit.puzzles.FAMILIES)
    seq_len: int
    arch: str  # architecture preset (hrmkit.models), e.g. paper-sudoku
    license: str
    citation: str
    metrics: tuple[Metric, ...] = ()
    weights: str | None = None  # weights file inside the repo (official format); None: found by name
    sha256: dict[str, str] = field(default_factory=dict, hash=False)  # repo file -> sha256, checked on pull
    path: Path | None = field(default=None, compare=False)  # the YAML file it came from

    @property
    def pinned(self) -> bool:
        """True when the revision is a full commit hash (a branch can move under the same name)."""
        return re.fullmatch(r"[0-9a-f]{40}", self.revision) is not None


# key -> (python types accepted, required)
_FIELDS = {
    "name": (str, True),
    "description": (str, True),
    "repo": (str, True),
    "revision": (str, True),
    "format": (str, True),
    "task": (str, True),
    "seq_len": (int, True),
    "arch": (str, True),
    "license": (str, True),
    "citation": (str, True),
    "metrics": (list, False),
    "weights": (str, False),
    "sha256": (dict, False),
}
_METRIC_FIELDS = {
    "name": (str, True),
    "value": ((int, float), True),
    "dataset": (str, True),
    "split": (str, True),
    "source": (str, True),
    "url": (str, False),
    "verified": (bool, False),
}


def _lines(node: yaml.Node) -> dict:
    """Map each key of a YAML mapping node to its 1-based line, for error messages."""
    return {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}


def _check_fields(data: dict, spec: dict, path: Path, lines: dict, line: int, what: str) -> None:
    for key in data:
        if key not in spec:
            known = ", ".join(spec)
            raise HrmkitError(f"{where(path, lines.get(key, line))}: unknown {what} key '{key}' (known: {known})")
    for key, (types, required) in spec.items():
        if key not in data or data[key] is None:
            if required:
                raise HrmkitError(f"{where(path, line)}: {what} is missing the required key '{key}'")
            continue
        value = data[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            raise HrmkitError(
                f"{where(path, lines.get(key, line))}: '{key}' must be {_type_name(types)}, got {value!r}"
            )


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _type_name(types) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a mapping",
             bool: "true or false"}
    return " or ".join(names[t] for t in _as_tuple(types))


def parse_entry(path: Path) -> ZooEntry:
    """Read and schema-check one registry file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise HrmkitError(f"{path}: cannot read registry entry ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise HrmkitError(f"{where(path, line)}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise HrmkitError(f"{where(path, 1)}: a registry entry must be a YAML mapping")
    lines = _lines(node)
    _check_fields(data, _FIELDS, path, lines, 1, "entry")

    def bad(key: str, msg: str) -> HrmkitError:
        return HrmkitError(f"{where(path, lines.get(key, 1))}: {msg}")

    if not _NAME.match(data["name"]):
        raise bad("name", f"name '{data['name']}' must be lower case letters, digits, '.', '_' or '-'")
    if data["name"] != path.stem:
        raise bad("name", f"name '{data['name']}' must match the file name '{path.stem}'")
    if not _REPO_ID.match(data["repo"]):
        raise bad("repo", f"repo '{data['repo']}' is not a Hub repo id ORG/NAME")
    if not data["revision"].strip():
        raise bad("revision", "revision must not be empty (a commit hash, or a branch such as main)")
    if data["format"] not in FORMATS:
        raise bad("format", f"format '{data['format']}' must be one of {', '.join(FORMATS)}")
    tasks = puzzles.names()
    if data["task"] not in tasks:
        raise bad("task", f"task '{data['task']}' must be one of {', '.join(tasks)}")
    if data["seq_len"] <= 0:
        raise bad("seq_len", f"seq_len must be positive, got {data['seq_len']}")

    sha256 = data.get("sha256") or {}
    sha_lines = _lines(dict((k.value, v) for k, v in node.value).get("sha256"))
    for fname, digest in sha256.items():
        if not isinstance(fname, str) or not isinstance(digest, str) or not _SHA256.match(digest):
            line = sha_lines.get(fname, lines.get("sha256", 1))
            quote = " (quote it: YAML reads an all-digit value as a number)" if isinstance(digest, int) else ""
            raise HrmkitError(f"{where(path, line)}: sha256 of '{fname}' must be 64 lower-case hex digits, "
                              f"got {digest!r}{quote}")

    metrics = []
    metric_nodes = dict((k.value, v) for k, v in node.value).get("metrics")
    for i, item in enumerate(data.get("metrics") or []):
        item_node = metric_nodes.value[i] if metric_nodes is not None else None
        line = item_node.start_mark.line + 1 if item_node is not None else lines.get("metrics", 1)
        if not isinstance(item, dict):
            raise HrmkitError(f"{where(path, line)}: each metric must be a mapping")
        _check_fields(item, _METRIC_FIELDS, path, _lines(item_node), line, "metric")
        if not 0.0 <= float(item["value"]) <= 1.0:
            raise HrmkitError(f"{where(path, line)}: metric value must be a fraction in [0, 1], got {item['value']}")
        metrics.append(Metric(**{**item, "value": float(item["value"])}))

    return ZooEntry(
        **{k: data[k] for k in _FIELDS if k not in ("metrics", "sha256") and data.get(k) is not None},
        metrics=tuple(metrics),
        sha256=dict(sha256),
        path=path,
    )


def checkout_zoo() -> Path | None:
    """The repository's `zoo/` when this hrmkit is imported from its source tree (an editable install or
    PYTHONPATH), else None (an installed wheel). A source tree is the folder above `hrmkit/` holding hrmkit's
    pyproject.toml and `zoo/MODEL_CARD.md` (site-packages holds neither)."""
    project = _ROOT / "pyproject.toml"
    if not (_ROOT / "zoo" / CARD_TEMPLATE).is_file() or not project.is_file():
        return None
    try:
        text = project.read_text(encoding="utf-8")
    except OSError:
        return None
    return _ROOT / "zoo" if re.search(r'^name\s*=\s*"hrmkit"\s*$', text, re.M) else None


def shipped_dir() -> Path:
    """The registry this hrmkit ships: the checkout's `zoo/`, else the packaged copy `hrmkit/zoo/registry/`."""
    return checkout_zoo() or PACKAGED


def registry_dirs() -> list[Path]:
    """The shipped registry, then the folders named in HRMKIT_ZOO_PATH (later ones win)."""
    extra = [Path(p) for p in os.environ.get("HRMKIT_ZOO_PATH", "").split(os.pathsep) if p.strip()]
    return [shipped_dir(), *extra]


def _missing(folder: Path) -> HrmkitError:
    if folder == PACKAGED:
        return HrmkitError(f"{PACKAGED}: hrmkit's registry is missing from this installation (a wheel built "
                           "without the repository's zoo/ folder?); reinstall hrmkit")
    return HrmkitError(f"HRMKIT_ZOO_PATH: {folder} is not a folder")


def load_registry(dirs: list[Path] | None = None) -> dict[str, ZooEntry]:
    """All entries by name, sorted by name."""
    entries: dict[str, ZooEntry] = {}
    for folder in registry_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            raise _missing(folder)
        for path in sorted(folder.glob("*.yaml")):
            entry = parse_entry(path)
            entries[entry.name] = entry
    return dict(sorted(entries.items()))


def get(name: str) -> ZooEntry:
    """The entry called `name`, or an error that lists the close names."""
    entries = load_registry()
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(name, list(entries), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(entries) or 'none'}"
    raise HrmkitError(f"unknown model '{name}': not in the zoo registry and not ORG/NAME{hint} (see `hrmkit zoo list`)")


def find(name: str) -> ZooEntry | None:
    """The entry called `name`, or None."""
    return load_registry().get(name)
