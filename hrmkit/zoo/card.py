"""Model cards: the README.md of a Hub model repository, rendered from the template `MODEL_CARD.md`.

The YAML metadata (library_name, tags, datasets, model-index) is built with huggingface_hub's ModelCardData so
the model-index follows the Hub's schema; the body is the template's text with `$placeholders` filled in.
Facts come from files, never from guesses: the run's config.json and weights, the evaluation report's
metrics.json, the data set's metadata JSON (provenance, hashes), or, for the authors' checkpoints, the registry
entry and their all_config.yaml.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import struct
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hrmkit.errors import HrmkitError, where

TEMPLATE = Path(__file__).with_name("registry") / "MODEL_CARD.md"
REPORT_NAMES = ("metrics.json", "report/metrics.json", "reports/metrics.json", "eval/metrics.json")
# `hrmkit eval` keys shown in the card's "Difficulty and baselines" paragraph rather than the model-index
BASELINE_PREFIX = "baseline_"
DIFFICULTY_KEYS = ("givens_mean", "givens_min", "givens_max", "rating_mean",
                   "path_length_mean", "path_length_min", "path_length_max", "grid_side")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")  # as hrmkit.zoo.registry
TRAIN_CONFIG, STATE = "train_config.json", "checkpoint/state.json"  # what a training run leaves (hrmkit.train)
DATA_META_NAMES = ("provenance.json",)  # written by `hrmkit data build` (hrmkit/data/format.py)
TASK_TEXT = {
    "sudoku": "It solves 9x9 Sudoku: the input is the 81 cells (blank or given digit), the output the 81 digits.",
    "maze": "It finds the shortest path through a 30x30 maze: input the walls, start and goal; output the path "
            "cells marked.",
    "arc": "It answers ARC tasks: the input is a test grid (padded into 30x30), the output the predicted grid; "
           "several augmented views are voted on to give two attempts.",
}
TASK_LIMITS = {
    "sudoku": "Only 9x9 Sudoku. Answers can be checked exactly: `hrmkit solve` verifies every one.",
    "maze": "Only 30x30 mazes in the training format (`# SGo`). A path is verified to be a valid shortest path.",
    "arc": "Puzzle-embedding rows belong to the training puzzles (and their augmentations); on a new task the "
           "model has no learned embedding for it, which is the main limit of this recipe on unseen ARC tasks.",
}


@dataclass
class CardFacts:
    """Everything a card says, gathered from files before rendering."""

    repo: str  # ORG/NAME the card is for
    title: str
    summary: str
    task: str | None
    config: dict
    n_params: str | None  # human text: parameters and stored values
    metrics: list[dict] = field(default_factory=list)  # {name, value, dataset, split, source}
    datasets: list[str] = field(default_factory=list)  # Hub data set ids
    data_provenance: dict | None = None
    data_note: str = ""
    training: dict | None = None
    training_note: str = ""
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    citation: str = ""
    base_model: str | None = None
    license: str | None = None
    report_summary: dict[str, float] = field(default_factory=dict)  # exact/token accuracy, baselines, difficulty


# ------------------------------------------------------------------------------------------------ helpers
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def count_stored(path: Path) -> int:
    """Number of values in a safetensors file (weights and buffers), read from its JSON header alone."""
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
    except (OSError, struct.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HrmkitError(f"{path}: not a readable safetensors file ({exc})") from None
    total = 0
    for name, info in header.items():
        if name != "__metadata__":
            n = 1
            for d in info["shape"]:
                n *= d
            total += n
    return total


def count_params(config: dict) -> int:
    """Trainable parameters of the model a config describes, built on the meta device (no memory, no init)."""
    import torch

    from hrmkit.models import ModelConfig, build

    with torch.device("meta"):
        model = build(ModelConfig.from_dict(config))
    return sum(p.numel() for p in model.parameters())


def _params_text(config: dict, weights: Path) -> str:
    stored = count_stored(weights)
    n = count_params(config)
    return f"{n:,} ({stored:,} values stored in model.safetensors, buffers such as H_init/L_init included)"


def infer_task(config: dict) -> str | None:
    """Task from the model's shape when nothing says it: 81 cells is Sudoku, 900 cells is a maze or ARC grid."""
    seq_len, vocab = config.get("seq_len"), config.get("vocab_size")
    if seq_len == 81:
        return "sudoku"
    if seq_len == 900 and vocab is not None:
        return "maze" if vocab <= 6 else "arc"
    return None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise HrmkitError(f"{where(path, err.lineno)}: not valid JSON ({err.msg})") from None
    except OSError as exc:
        raise HrmkitError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise HrmkitError(f"{path}: expected a JSON object")
    return data


def read_report(path: Path) -> dict[str, float]:
    """Accuracy-like numbers of an evaluation report (metrics.json with flat keys)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise HrmkitError(f"{path}: evaluation report not found (give the metrics.json written by `hrmkit eval`)")
    data = _read_json(path)
    keep = {}
    for key, value in data.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            "accuracy" in key or key.startswith("pass@")
        ):
            keep[key] = float(value)
    return keep


def read_report_summary(path: Path) -> dict[str, float]:
    """The report's accuracies, baselines and difficulty keys, for the card's "Difficulty and baselines"."""
    path = Path(path)
    data = _read_json(path / "metrics.json" if path.is_dir() else path)
    keep = ("exact_accuracy", "token_accuracy", *DIFFICULTY_KEYS)
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and (k in keep or k.startswith(BASELINE_PREFIX))}


def read_data_meta(data_dir: Path) -> dict:
    """The data set's provenance JSON (written by `hrmkit data build`): source and its hashes, build
    parameters, and the sha256 of every file of the data set."""
    data_dir = Path(data_dir)
    for name in DATA_META_NAMES:
        if (data_dir / name).is_file():
            return _read_json(data_dir / name)
    raise HrmkitError(f"{data_dir}: no data set metadata ({' or '.join(DATA_META_NAMES)}) found")


def _hub_dataset(meta: dict) -> str | None:
    """A data set built from `hf:ORG/NAME` names a Hub data set; that id goes into the card's `datasets:`.
    `hrmkit data build` records its inputs under `sources` (role -> record); a GitHub or local source is no
    Hub data set."""
    candidates = [meta.get("source"), *(meta.get("sources") or {}).values()]
    for source in candidates:
        spec = source.get("spec") if isinstance(source, dict) else source
        if isinstance(spec, str) and spec.startswith("hf:"):
            return (source.get("repo") if isinstance(source, dict) else None) or spec[3:].split("@")[0]
    return None


# ------------------------------------------------------------------------------------------------ gathering
def facts_from_dir(
    model_dir: Path, repo: str, report: Path | None = None, data: Path | None = None
) -> CardFacts:
    """Facts about a training run or a model directory (config.json + model.safetensors)."""
    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json")
    weights = model_dir / "model.safetensors"
    task = None
    facts = CardFacts(repo=repo, title=repo.split("/")[-1], summary="", task=None, config=config,
                      n_params=_params_text(config, weights))

    # A training run (hrmkit/train/loop.py) leaves train_config.json (preset, overrides, every training field,
    # the data folder) and checkpoint/state.json (the step reached).
    old = read_card_metadata(model_dir / "README.md")
    train_cfg = _read_json(model_dir / TRAIN_CONFIG) if (model_dir / TRAIN_CONFIG).is_file() else {}
    state = _read_json(model_dir / STATE) if (model_dir / STATE).is_file() else {}

    # Data: --data, else the data folder the run recorded, else what an earlier card said (a pulled model).
    if data is None and isinstance(train_cfg.get("data"), str) and Path(train_cfg["data"]).is_dir():
        data = Path(train_cfg["data"])
    if data is not None:
        meta = read_data_meta(data)
        facts.data_provenance = meta
        task = meta.get("family")
        hub = _hub_dataset(meta)
        facts.datasets = [hub] if hub else []
        facts.data_note = f"From `provenance.json` of the data set `{Path(data).name}`:"
    else:
        facts.datasets = list(old.get("datasets") or [])
        facts.data_note = "Not recorded: publish with `--data DATA_DIR` to include the data set's provenance."

    if train_cfg:
        facts.training = {"preset": train_cfg.get("preset"), "model_overrides": train_cfg.get("model_overrides"),
                          **(train_cfg.get("train") or {}), "world_size": train_cfg.get("world_size")}
        if "step" in state:
            facts.training["steps_done"] = state["step"]
        facts.training_note = f"from `{TRAIN_CONFIG}` of the run"

    # Metrics: --report, else a metrics.json inside the run, else the model-index of an earlier card.
    if report is None:
        report = next((model_dir / n for n in REPORT_NAMES if (model_dir / n).is_file()), None)
    if report is not None:
        reported = read_report(report)  # raises "not found" with the hint first
        facts.report_summary = read_report_summary(report)
        for key, value in reported.items():
            if key.startswith(BASELINE_PREFIX):  # not the model's numbers: they go beside them, not in model-index
                continue
            facts.metrics.append({"name": key, "value": value, "dataset": (facts.datasets or [""])[0],
                                  "split": "test", "source": f"hrmkit eval report ({Path(report).name})"})
    else:
        facts.metrics = metrics_from_card(model_dir / "README.md")

    facts.task = task or infer_task(config)
    facts.base_model = old.get("base_model")
    facts.license = old.get("license")
    facts.summary = f"An {config.get('arch', 'hrmkit')} model trained with hrmkit" + (
        f" for {facts.task}." if facts.task else ".")
    return facts


def facts_from_entry(entry, model_dir: Path, official_config: Path | None = None) -> CardFacts:
    """Facts about a converted checkpoint of the authors, from its registry entry and all_config.yaml."""
    config = _read_json(Path(model_dir) / "config.json")
    facts = CardFacts(
        repo=entry.name, title=f"{entry.name} (converted from {entry.repo})", summary=entry.description,
        task=entry.task, config=config, n_params=_params_text(config, Path(model_dir) / "model.safetensors"),
        metrics=[{"name": m.name, "value": m.value, "dataset": m.dataset, "split": m.split, "source": m.source,
                  "url": m.url} for m in entry.metrics],
        datasets=sorted({m.dataset for m in entry.metrics if "/" in m.dataset}),
        citation=entry.citation.strip(), base_model=entry.repo, license=entry.license,
    )
    facts.data_note = (f"Trained by the authors on the data set(s) named in the Evaluation table; hrmkit did not "
                       f"build or hash that data. Weights converted from `{entry.repo}` at revision "
                       f"`{entry.revision}` (the commit and the sha256 of the original files are in the Files table).")
    if official_config is not None and Path(official_config).is_file():
        raw = yaml.safe_load(Path(official_config).read_text()) or {}
        facts.training = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        facts.training_note = f"from the authors' `{Path(official_config).name}`"
    return facts


# ------------------------------------------------------------------------------------------------ reading back
def read_card_metadata(path: Path) -> dict:
    """The YAML metadata block at the top of a README.md ({} when there is none)."""
    path = Path(path)
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        raise HrmkitError(f"{path}: the model card's YAML metadata is not valid YAML") from None
    return data if isinstance(data, dict) else {}


def metrics_from_card(path: Path) -> list[dict]:
    """Metrics of an existing card's model-index, so republishing a pulled model keeps them."""
    out = []
    for model in read_card_metadata(path).get("model-index") or []:
        for result in model.get("results") or []:
            ds = result.get("dataset") or {}
            src = result.get("source") or {}
            for m in result.get("metrics") or []:
                out.append({"name": m.get("type"), "value": m.get("value"), "dataset": ds.get("type", ""),
                            "split": ds.get("split", "test"), "source": src.get("name", "earlier model card"),
                            "url": src.get("url")})
    return out


# ------------------------------------------------------------------------------------------------ rendering
def _split_template(text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise HrmkitError(f"{TEMPLATE}: the template must start with a YAML metadata block")
    end = text.index("\n---", 3)
    return yaml.safe_load(text[3:end]) or {}, text[end + 4:].lstrip("\n")


def _yaml_block(data: dict) -> str:
    return "```yaml\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip() + "\n```"


_ONE_PASS = {"sudoku": "one pass of single candidates (every blank with exactly one candidate filled, once)",
             "maze": "the input copied unchanged (no path drawn)"}


def difficulty_and_baselines(facts: CardFacts) -> str:
    """The model's accuracy beside the no-model and untrained baselines, and how hard the test puzzles are."""
    r = facts.report_summary
    parts = []
    rows = [("this model", "")]
    if f"{BASELINE_PREFIX}one_pass_exact_accuracy" in r:
        rows.append((_ONE_PASS.get(facts.task or "", "one-pass baseline"), "one_pass_"))
    if f"{BASELINE_PREFIX}untrained_exact_accuracy" in r:
        rows.append(("the same config untrained (fresh seeded weights)", "untrained_"))
    if len(rows) > 1 and "exact_accuracy" in r:
        table = ["| answers of | exact accuracy | token accuracy |", "|---|---|---|"]
        for label, key in rows:
            pre = f"{BASELINE_PREFIX}{key}" if key else ""
            token = r.get(f"{pre}token_accuracy")
            table.append(f"| {label} | {r[pre + 'exact_accuracy']:.4g} | "
                         f"{'-' if token is None else format(token, '.4g')} |")
        parts.append("\n".join(table) + "\n\nToken accuracy counts every labelled cell (Sudoku givens and maze "
                     "walls included), for the model and the baselines alike.")
    if "givens_mean" in r:
        text = (f"Test puzzles: {r['givens_min']:.0f}-{r['givens_max']:.0f} givens (mean {r['givens_mean']:.1f})")
        if "rating_mean" in r:
            text += f"; the exact solver needs {r['rating_mean']:.1f} guesses on average (rating)"
        parts.append(text + ".")
    if "path_length_mean" in r:
        text = (f"Test mazes: shortest paths of {r['path_length_min']:.0f}-{r.get('path_length_max', 0):.0f} "
                f"moves (mean {r['path_length_mean']:.1f})")
        if "grid_side" in r:
            text += f" on a {r['grid_side']:.0f}x{r['grid_side']:.0f} grid"
        parts.append(text + ".")
    if not parts:
        return ("No baselines or difficulty summary were given (`hrmkit eval` writes them into metrics.json; "
                "pass that report with `--report`).")
    return "\n\n".join(parts)


def render(facts: CardFacts, template: Path = TEMPLATE) -> str:
    """README.md text: metadata from ModelCardData (model-index schema), body from the template."""
    from huggingface_hub import EvalResult, ModelCardData

    static, body = _split_template(Path(template).read_text(encoding="utf-8"))
    tags = list(static.pop("tags", []))
    if facts.task and facts.task not in tags:
        tags.append(facts.task)
    if facts.config.get("arch") and facts.config["arch"] not in tags:
        tags.append(facts.config["arch"])
    task = facts.task or "puzzle"
    results = [
        EvalResult(
            task_type=f"{task}-solving", task_name=f"{task.capitalize()} solving",
            dataset_type=m["dataset"] or f"hrmkit/{task}", dataset_name=m["dataset"] or f"{task} test set",
            dataset_split=m["split"], metric_type=m["name"], metric_name=m["name"], metric_value=m["value"],
            # the Hub's schema wants a URL with a source name; a local report has none, the table names it
            source_name=m["source"] if m.get("url") else None, source_url=m.get("url") or None,
        )
        for m in facts.metrics if m.get("name") is not None and m.get("value") is not None
    ]
    if facts.license:
        static["license"] = facts.license
    data = ModelCardData(
        model_name=facts.repo, datasets=facts.datasets or None, tags=tags, base_model=facts.base_model,
        eval_results=results or None, **static,
    )

    if facts.metrics:
        rows = ["| metric | value | data set | split | source |", "|---|---|---|---|---|"]
        rows += [f"| {m['name']} | {m['value']:.4g} | {m['dataset'] or '-'} | {m['split']} | {m['source']} |"
                 for m in facts.metrics]
        metrics_table = "\n".join(rows)
    else:
        metrics_table = "No evaluation report was given: publish with `--report REPORT_DIR` (from `hrmkit eval`)."
    cfg = facts.config
    arch_summary = ", ".join(f"{k}={cfg[k]}" for k in ("arch", "hidden_size", "num_heads", "H_layers", "L_layers",
                                                       "H_cycles", "L_cycles", "halt_max_steps", "seq_len",
                                                       "vocab_size", "puzzle_emb_ndim") if k in cfg)
    files = ["| file | sha256 |", "|---|---|"] + [f"| {n} | `{h}` |" for n, h in sorted(facts.files.items())]
    limits = [TASK_LIMITS.get(facts.task or "", "The task could not be determined from the files given.")]
    if cfg.get("attn_mask") == "grid":
        limits.append(f"Any grid size: attention only over the cells within Manhattan distance "
                      f"{cfg.get('attn_radius', 1)}, with learned embeddings of each offset and no position table "
                      f"(`attn_mask: grid`), so the weights run on square grids of any size (trained on "
                      f"{cfg.get('seq_len', '?')} cells). Information moves a few cells per segment: a larger grid "
                      "needs more segments (`hrmkit solve --max-steps N`, `hrmkit eval --steps N`).")
    else:
        limits.append(f"Fixed input size: sequences of {cfg.get('seq_len', '?')} tokens; another puzzle size needs "
                      "another model.")
    if cfg.get("attn_mask") == "sudoku_peers":
        limits.append("Built-in structural prior: attention only between Sudoku peers (same row, column or box) "
                      "and learned row/column/box embeddings (`attn_mask: sudoku_peers`). This, not the generic "
                      "architecture, is what lets it learn in minutes on a CPU; it works only for 9x9 Sudoku.")
    if cfg.get("halting") == "fixed":
        trained, run = cfg.get("halt_max_steps", "?"), cfg.get("eval_segments") or cfg.get("halt_max_steps", "?")
        limits.append((f"Trained and evaluated with a fixed {trained} segments" if trained == run else
                       f"Trained with a fixed {trained} segments per puzzle and evaluated with {run}") + ", which is "
                      "also how `hrmkit solve` runs it by default; halting on its Q head (`--halt-on q`) stops "
                      "earlier and is less accurate, `--halt-on verified` stops at the first checked answer "
                      "(benchmarks/RESULTS-solve.md).")
    limits.append("Reported numbers are those of the source named beside each; only numbers with the source "
                  "'hrmkit eval report' were measured by hrmkit on these weights.")
    fields = {
        "title": facts.title,
        "summary": facts.summary,
        "what_it_does": TASK_TEXT.get(facts.task or "", "A recurrent reasoning model over fixed-length token "
                                      "sequences.") + " The model refines its answer over several reasoning "
                                      "segments and its Q head says when to stop.",
        "repo": facts.repo,
        "act_steps": cfg.get("halt_max_steps", 16),
        "seq_len": cfg.get("seq_len", "L"),
        "metrics_table": metrics_table,
        "difficulty_baselines": difficulty_and_baselines(facts),
        "arch_summary": arch_summary or "see config.json",
        "n_params": facts.n_params or "unknown",
        "training": (f"{facts.training_note}\n\n" + _yaml_block(facts.training)) if facts.training
        else "not recorded with these weights.",
        "data_provenance": facts.data_note + (("\n\n" + _yaml_block(facts.data_provenance))
                                              if facts.data_provenance else ""),
        "files_table": "\n".join(files) if facts.files else "See the repository's files.",
        "limits": "\n".join(f"- {x}" for x in limits),
        "citation": facts.citation or _HRMKIT_CITATION,
    }
    return f"---\n{data.to_yaml()}\n---\n" + string.Template(body).substitute(fields)


# ------------------------------------------------------------------------------------------------ a run's card
def check_model_dir(src: Path) -> None:
    """A folder worth a card: model.safetensors + a config.json that rebuilds its model."""
    src = Path(src)
    missing = [f for f in ("model.safetensors", "config.json") if not (src / f).is_file()]
    if not src.is_dir() or missing:
        raise HrmkitError(f"{src}: not a training run or model directory ({', '.join(missing) or 'not a folder'} "
                          "missing; expected model.safetensors + config.json)")
    from hrmkit.models import from_pretrained

    from_pretrained(src)  # config.json rebuilds the model and the weights load into it (header checked first)


def card_text(src: Path, repo: str, report: Path | None = None, data: Path | None = None) -> str:
    """The README.md `hrmkit publish SRC --repo REPO` writes (same facts, same file hashes), without git or
    network: the published weights and config.json are byte copies of SRC's, so their sha256 are SRC's."""
    src = Path(src)
    check_model_dir(src)
    if not _REPO_ID.match(repo):
        raise HrmkitError(f"--repo '{repo}' is not a Hub repo id ORG/NAME")
    facts = facts_from_dir(src, repo, report=report, data=data)
    facts.files = {f: sha256_file(src / f) for f in ("model.safetensors", "config.json")}
    return render(facts)


def default_repo(src: Path) -> str:
    """hrmkit/<folder name>, with characters a Hub id refuses replaced."""
    name = re.sub(r"[^\w.-]", "-", Path(src).resolve().name).lstrip(".-_") or "model"
    return f"hrmkit/{name}"


def write_card(src: Path, out: Path, repo: str | None = None, report: Path | None = None,
               data: Path | None = None) -> Path:
    """Write the model card of `src` to the file `out` (temporary name, then renamed)."""
    out = Path(out)
    if out.is_dir():
        raise HrmkitError(f"--out {out}: is a folder; give the card's file name (e.g. {out / 'README.md'})")
    from hrmkit.atomic import check_target, write_text

    check_target(out, replace=True)
    text = card_text(src, repo or default_repo(src), report=report, data=data)
    return write_text(out, text, replace=True)


_HRMKIT_CITATION = """@misc{wang2025hierarchicalreasoningmodel,
  title={Hierarchical Reasoning Model},
  author={Guan Wang and Jin Li and Yuhao Sun and Xing Chen and Changling Liu and Yue Wu and Meng Lu and
          Sen Song and Yasin Abbasi Yadkori},
  year={2025}, eprint={2506.21734}, archivePrefix={arXiv}, primaryClass={cs.AI},
}"""
