"""The on-disk format of a built puzzle data set, its writer (temp folder, then rename) and its reader.

The format itself (the folder layout, every file, the fields of ``dataset.json``, ``provenance.json``, the
augmentation layouts) is specified in docs/DATA-FORMAT.md: the authors' ``PuzzleDataset`` arrays plus the
provenance and augmentation records this project adds; folders built by the authors' scripts are read too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hrmkit.errors import HrmkitError

FORMAT = "hrmkit-puzzle-dataset"
FORMAT_VERSION = 1
SET = "all"  # the one set name inside each split, as the authors' files are named
SPLITS = ("train", "test")
REQUIRED = ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")
OPTIONAL = ("augmentations", "ratings")
DTYPES = {
    "inputs": np.uint8,
    "labels": np.uint8,
    "puzzle_identifiers": np.int32,
    "puzzle_indices": np.int32,
    "group_indices": np.int32,
    "augmentations": np.int16,
    "ratings": np.int32,
}
AUGMENTATION_WIDTH = {"sudoku-v1": 28, "dihedral-v1": 1, "arc-v1": 11}
BLANK_IDENTIFIER = "<blank>"


def array_file(split: str, name: str) -> str:
    """Relative path of an array file, e.g. ``train/all__inputs.npy``."""
    return f"{split}/{SET}__{name}.npy"


@dataclass
class SplitArrays:
    """The arrays of one split, in memory (for writing) or memory-mapped (after reading)."""

    inputs: np.ndarray  # (N, seq_len)
    labels: np.ndarray  # (N, seq_len)
    puzzle_identifiers: np.ndarray  # (P,)
    puzzle_indices: np.ndarray  # (P + 1,)
    group_indices: np.ndarray  # (G + 1,)
    augmentations: np.ndarray | None = None  # (P, A)
    ratings: np.ndarray | None = None  # (G,)

    @property
    def num_examples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def num_puzzles(self) -> int:
        return int(self.puzzle_identifiers.shape[0])

    @property
    def num_groups(self) -> int:
        return int(self.group_indices.shape[0]) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: getattr(self, name) for name in REQUIRED}
        out.update({name: getattr(self, name) for name in OPTIONAL if getattr(self, name) is not None})
        return out


@dataclass
class SplitPlan:
    """One split written by a ``fill`` function (see ``write_dataset``): every array but the example rows, which
    come through a ``RowWriter``, and how many rows there will be."""

    num_examples: int
    seq_len: int
    puzzle_identifiers: np.ndarray  # (P,)
    puzzle_indices: np.ndarray  # (P + 1,)
    group_indices: np.ndarray  # (G + 1,)
    augmentations: np.ndarray | None = None  # (P, A)
    ratings: np.ndarray | None = None  # (G,)

    num_puzzles = SplitArrays.num_puzzles
    num_groups = SplitArrays.num_groups

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays held here (all but inputs and labels), in ``SplitArrays.arrays`` order."""
        return {n: getattr(self, n) for n in REQUIRED[2:] + OPTIONAL if getattr(self, n) is not None}


class RowWriter:
    """Appends the example rows of one split (inputs and labels, [k, seq_len]) to its two ``.npy`` files.

    The header (the planned shape) goes first, then the rows as they come: the file ends up holding what
    ``numpy.save`` of the whole array writes, and its sha256 is computed on the way (no second read of gigabytes).
    ``digests`` checks that exactly the planned number of rows came."""

    def __init__(self, folder: Path, split: str, plan: SplitPlan):
        self.split, self.expected, self.seq_len, self.rows = split, plan.num_examples, plan.seq_len, 0
        self.paths = {name: array_file(split, name) for name in ("inputs", "labels")}
        self.handles = {name: open(folder / rel, "wb") for name, rel in self.paths.items()}
        self.hashes = {name: hashlib.sha256() for name in self.paths}
        for name in self.paths:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {
                "descr": np.lib.format.dtype_to_descr(np.dtype(DTYPES[name])), "fortran_order": False,
                "shape": (plan.num_examples, plan.seq_len)})
            self._put(name, header.getbuffer())

    def _put(self, name: str, data) -> None:
        self.handles[name].write(data)
        self.hashes[name].update(data)

    def append(self, inputs: np.ndarray, labels: np.ndarray) -> None:
        """Add k rows: ``inputs`` and ``labels`` are [k, seq_len] with values that fit uint8."""
        k = len(inputs)
        if inputs.shape != (k, self.seq_len) or labels.shape != (k, self.seq_len):
            raise ValueError(f"{self.split}: rows of shape {inputs.shape} and {labels.shape}, not [k, {self.seq_len}]")
        if self.rows + k > self.expected:
            raise RuntimeError(f"{self.split}: more than the {self.expected} examples planned")
        self.rows += k
        for name, rows in (("inputs", inputs), ("labels", labels)):
            self._put(name, np.ascontiguousarray(rows, dtype=DTYPES[name]).data)

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()

    def digests(self) -> dict[str, str]:
        """{relative path: sha256} of the two files, once every planned row came."""
        if self.rows != self.expected:
            raise RuntimeError(f"{self.split}: {self.rows} examples written, {self.expected} planned")
        return {self.paths[name]: h.hexdigest() for name, h in self.hashes.items()}


@dataclass
class Metadata:
    """``dataset.json`` of one split (the authors' fields first, then hrmkit's)."""

    seq_len: int
    vocab_size: int
    pad_id: int
    ignore_label_id: int
    blank_identifier_id: int
    num_puzzle_identifiers: int
    total_groups: int
    mean_puzzle_examples: float
    sets: list[str]
    family: str
    split: str
    num_examples: int
    num_puzzles: int
    grid: list[int]
    augmentation_layout: str
    augmented: bool
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_dict(cls, data: dict, source: str) -> "Metadata":
        names = set(cls.__dataclass_fields__)
        missing = sorted(n for n in names if n not in data and n not in ("format", "format_version"))
        if missing:
            raise HrmkitError(f"{source}: missing field(s) {', '.join(missing)}")
        if data.get("format", FORMAT) != FORMAT or data.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise HrmkitError(f"{source}: format {data.get('format')} v{data.get('format_version')} not readable")
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Family:
    """What a family's recipe fixes for both splits (ids and shapes); the writer derives the rest."""

    name: str
    seq_len: int
    vocab_size: int
    grid: tuple[int, int]
    augmentation_layout: str
    pad_id: int = 0
    ignore_label_id: int = 0
    blank_identifier_id: int = 0


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class JsonText(str):
    """An item of a JSON array given already encoded, as ``json.dumps(item, indent=1)`` would (for a writer of
    millions of records of one shape, where the generic encoder is the slow part)."""


def _json_dump(path: Path, obj: Any) -> None:
    """``json.dumps(obj, indent=1)`` and a newline into ``path``. A list or an iterator is written item by item
    (the same bytes), so that a long array of puzzle records never sits in memory as one string."""
    if not isinstance(obj, (list, Iterator)):
        path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        return
    with open(path, "w", encoding="utf-8") as fh:
        sep = "[\n "
        for item in obj:
            text = item if isinstance(item, JsonText) else json.dumps(item, indent=1, sort_keys=False)
            fh.write(sep + text.replace("\n", "\n "))  # one level deeper
            sep = ",\n "
        fh.write("[]\n" if sep == "[\n " else "\n]\n")


def check_output(out: Path, overwrite: bool) -> None:
    """Fail early (before any work) when the output folder exists and may not be replaced."""
    out = Path(out)
    if out.is_symlink():
        raise HrmkitError(f"{out}: is a symbolic link; refusing to write through it (remove it or choose another --out)")
    if out.exists() and not out.is_dir():
        raise HrmkitError(f"{out}: is a file, expected a folder (choose another --out)")
    if out.exists() and not overwrite:
        raise HrmkitError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.exists() and not (out / "provenance.json").is_file() and any(out.iterdir()):
        raise HrmkitError(f"{out}: exists and is not an hrmkit data set; refusing to replace it")


def _metadata(fam: Family, split: str, arr: SplitArrays | SplitPlan, num_ids: int, augmented: bool) -> Metadata:
    n, p = arr.num_examples, arr.num_puzzles
    return Metadata(
        seq_len=fam.seq_len,
        vocab_size=fam.vocab_size,
        pad_id=fam.pad_id,
        ignore_label_id=fam.ignore_label_id,
        blank_identifier_id=fam.blank_identifier_id,
        num_puzzle_identifiers=num_ids,
        total_groups=arr.num_groups,
        mean_puzzle_examples=float(n / p) if p else 0.0,
        sets=[SET],
        family=fam.name,
        split=split,
        num_examples=n,
        num_puzzles=p,
        grid=list(fam.grid),
        augmentation_layout=fam.augmentation_layout,
        augmented=augmented,
    )


def write_dataset(
    out: Path,
    fam: Family | dict[str, Family],  # a dict: each split's own (a maze test split of another size)
    splits: dict[str, SplitArrays] | dict[str, SplitPlan],
    identifiers: list[str],
    provenance: dict | Callable[[], dict],
    *,
    augmented: dict[str, bool] | None = None,
    extra_json: dict[str, Any] | None = None,
    overwrite: bool = False,
    fill: Callable[[dict[str, RowWriter]], None] | None = None,
) -> Path:
    """Write a data set into a temporary sibling folder, then rename it to ``out`` (never half-written: on any
    error the temporary folder is removed and an existing ``out`` stays as it was).

    ``provenance`` gets an ``outputs`` entry: the sha256 of every file written, so that ``validate`` can tell
    a file changed or truncated after the build. It may be a function, called once the arrays are written (so
    that it can record the time they took).

    With ``fill``, ``splits`` are ``SplitPlan``s: a ``RowWriter`` per split is opened in the temporary folder
    and ``fill(writers)`` appends every example row of every split, in order (chunks of any size).
    JSON arrays in ``extra_json`` may be iterators (written item by item).
    """
    from hrmkit.atomic import atomic_dir

    out = Path(out)
    check_output(out, overwrite)
    with atomic_dir(out, replace=overwrite) as tmp:  # refuses an `out` that appeared meanwhile unless overwrite
        for split in splits:
            (tmp / split).mkdir()
        rows: dict[str, str] = {}  # streamed inputs/labels -> sha256
        if fill is not None:
            writers = {split: RowWriter(tmp, split, plan) for split, plan in splits.items()}
            try:
                fill(writers)
            finally:
                for writer in writers.values():
                    writer.close()
            for writer in writers.values():
                rows.update(writer.digests())
        files: dict[str, str] = {}
        for split, arr in splits.items():
            if fill is not None:
                files.update((array_file(split, n), rows[array_file(split, n)]) for n in ("inputs", "labels"))
            for name, a in arr.arrays().items():
                a = np.ascontiguousarray(a, dtype=DTYPES[name])
                rel = array_file(split, name)
                np.save(tmp / rel, a, allow_pickle=False)
                files[rel] = sha256_file(tmp / rel)
            meta = _metadata(fam[split] if isinstance(fam, dict) else fam, split, arr, len(identifiers),
                             bool((augmented or {}).get(split, False)))
            _json_dump(tmp / split / "dataset.json", meta.__dict__)
            files[f"{split}/dataset.json"] = sha256_file(tmp / split / "dataset.json")
        _json_dump(tmp / "identifiers.json", identifiers)
        files["identifiers.json"] = sha256_file(tmp / "identifiers.json")
        for name, obj in (extra_json or {}).items():
            _json_dump(tmp / name, obj)
            files[name] = sha256_file(tmp / name)
        provenance = provenance() if callable(provenance) else provenance
        _json_dump(tmp / "provenance.json", {**provenance, "outputs": files})
        for f in tmp.rglob("*"):  # on disk before the rename makes the folder visible
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
    return out


# ---------------------------------------------------------------------------------------------------- reading


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise HrmkitError(f"{path}: missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HrmkitError(f"{path}: not valid JSON ({exc})") from None


def load_array(path: Path, mmap: bool = True) -> np.ndarray:
    """One ``.npy`` file, memory-mapped; a missing, truncated or foreign file is an HrmkitError."""
    if not path.is_file():
        raise HrmkitError(f"{path}: missing")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise HrmkitError(f"{path}: unreadable array ({exc})") from None


@dataclass
class Split:
    """One split of a data set on disk: its metadata and memory-mapped arrays."""

    name: str
    meta: Metadata
    arrays: SplitArrays


@dataclass
class Dataset:
    """A data set folder opened for reading (arrays memory-mapped, nothing loaded until used)."""

    path: Path
    provenance: dict
    identifiers: list[str]
    splits: dict[str, Split] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.provenance.get("family") or next(iter(self.splits.values())).meta.family

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise HrmkitError(f"{self.path}: no split {name!r} (has: {', '.join(self.splits) or 'none'})")
        return self.splits[name]


AUTHORS = "authors"  # Metadata.format of a split read from the authors' files
AUTHORS_FIELDS = ("pad_id", "ignore_label_id", "blank_identifier_id", "vocab_size", "seq_len",
                  "num_puzzle_identifiers", "total_groups", "mean_puzzle_examples", "sets")


def authors_families() -> dict[tuple[int, int], tuple[str, list[int], str]]:
    """(seq_len, vocab_size) of the authors' builders -> (family, board rows x cols, augmentation layout), from
    the family registry (``hrmkit.puzzles``); also readable as ``AUTHORS_FAMILIES``."""
    from hrmkit import puzzles

    return {(m.SEQ_LEN, m.VOCAB_SIZE): (m.NAME, list(m.GRID), m.AUGMENTATION_LAYOUT) for m in puzzles.modules()}


def __getattr__(name: str):
    if name == "AUTHORS_FAMILIES":
        return authors_families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_authors(data: dict) -> bool:
    """A ``dataset.json`` written by the authors' scripts: their fields and none of hrmkit's."""
    return "format" not in data and "family" not in data and all(k in data for k in AUTHORS_FIELDS)


def authors_metadata(data: dict, split: str, arrays: SplitArrays, source: str) -> Metadata:
    """hrmkit's metadata for an authors'-built split, derived from its arrays (see the module docstring)."""
    key, families = (data["seq_len"], data["vocab_size"]), authors_families()
    if key not in families:
        known = ", ".join(f"{n} (seq_len {k[0]}, vocab {k[1]})" for k, (n, _, _) in families.items())
        raise HrmkitError(f"{source}: an authors'-format data set with seq_len {key[0]} and vocab_size {key[1]} "
                          f"is none of the families hrmkit reads: {known}")
    family, grid, layout = families[key]
    if arrays.inputs.ndim != 2 or arrays.inputs.shape[1] != data["seq_len"]:
        raise HrmkitError(f"{source}: inputs are {list(arrays.inputs.shape)}, not [N, {data['seq_len']}]")
    return Metadata(**{k: data[k] for k in AUTHORS_FIELDS}, family=family, split=split,
                    num_examples=arrays.num_examples, num_puzzles=arrays.num_puzzles, grid=grid,
                    augmentation_layout=layout, augmented=arrays.num_puzzles > arrays.num_groups, format=AUTHORS)


def load_split(path: Path, split: str, mmap: bool = True) -> Split:
    path = Path(path)
    source = str(path / split / "dataset.json")
    data = read_json(path / split / "dataset.json")
    if not isinstance(data, dict):
        raise HrmkitError(f"{source}: not a JSON object")
    found = {}
    for name in REQUIRED + OPTIONAL:
        f = path / array_file(split, name)
        if name in REQUIRED or f.exists():
            found[name] = load_array(f, mmap)
    arrays = SplitArrays(**found)
    meta = authors_metadata(data, split, arrays, source) if is_authors(data) else Metadata.from_dict(data, source)
    return Split(split, meta, arrays)


def read_identifiers(path: str | Path) -> list[str]:
    """identifiers.json of a data set folder (or the file itself): puzzle identifier -> name."""
    path = Path(path)
    file = path / "identifiers.json" if path.is_dir() else path
    if not file.is_file():
        raise HrmkitError(f"{path}: no identifiers.json (give a data set folder or its identifiers.json)")
    names = read_json(file)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise HrmkitError(f"{file}: not a JSON list of puzzle names")
    return names


def open_dataset(path: str | Path, mmap: bool = True) -> Dataset:
    """Open a built data set; every split folder holding a ``dataset.json`` is read."""
    path = Path(path)
    if not path.is_dir():
        raise HrmkitError(f"{path}: no such data set folder")
    if not (path / "identifiers.json").is_file() and not any((path / s / "dataset.json").is_file() for s in SPLITS):
        raise HrmkitError(f"{path}: not a data set folder (no identifiers.json, no train/ or test/ with a "
                          "dataset.json); `hrmkit data build` makes one")
    identifiers = read_identifiers(path)
    provenance = read_json(path / "provenance.json") if (path / "provenance.json").is_file() else None
    ds = Dataset(path, provenance or {}, identifiers)
    for split in SPLITS:
        if (path / split / "dataset.json").is_file():
            ds.splits[split] = load_split(path, split, mmap)
    if not ds.splits:
        raise HrmkitError(f"{path}: no split folder with a dataset.json")
    if provenance is None:
        metas = [s.meta for s in ds.splits.values()]
        if not all(m.format == AUTHORS for m in metas):
            raise HrmkitError(f"{path / 'provenance.json'}: missing (every folder `hrmkit data build` writes has one)")
        ds.provenance = {"format": AUTHORS, "family": metas[0].family,
                         "note": "built by the HRM authors' dataset scripts; read as is (no provenance recorded)"}
    if (path / "augmentations.json").is_file():
        ds.extra["augmentations"] = read_json(path / "augmentations.json")
    return ds
