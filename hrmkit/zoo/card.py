"""Model cards: the README.md of a Hub model repository, rendered from the template `MODEL_CARD.md`.

The YAML metadata (library_name, tags, datasets, model-index) is built with huggingface_hub's ModelCardData so
the model-index follows the Hub's schema; the body is the template's text with `$placeholders` filled in. The
wording that fills them (per task, per model setting, the fallbacks) is the template's too: its "card texts"
block at the end (`texts()`); this module picks among them and fills in the numbers.
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
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hrmkit.errors import HrmkitError, where
from hrmkit.zoo.registry import CARD_TEMPLATE, shipped_dir

TEMPLATE = shipped_dir() / CARD_TEMPLATE  # zoo/MODEL_CARD.md of the checkout, or its copy in the package
REPORT_NAMES = ("metrics.json", "report/metrics.json", "reports/metrics.json", "eval/metrics.json")
# `hrmkit eval` keys shown in the card's "Difficulty and baselines" paragraph rather than the model-index
BASELINE_PREFIX = "baseline_"
DIFFICULTY_KEYS = ("givens_mean", "givens_min", "givens_max", "rating_mean",
                   "path_length_mean", "path_length_min", "path_length_max", "grid_side")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")  # as hrmkit.zoo.registry
TRAIN_CONFIG, STATE = "train_config.json", "checkpoint/state.json"  # what a training run leaves (hrmkit.train)
DATA_META_NAMES = ("provenance.json",)  # written by `hrmkit data build` (hrmkit/data/format.py)
TEXTS_MARKER = "<!-- card texts"  # starts the template's texts block; the card's body ends before it


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
    return text("params", trainable=f"{n:,}", stored=f"{stored:,}")


def infer_task(config: dict) -> str | None:
    """Task from the model's shape when nothing says it: 81 cells is Sudoku, 900 cells is a maze or ARC grid."""
    from hrmkit import puzzles

    module = puzzles.infer_family(config.get("seq_len"), config.get("vocab_size"))
    return module.NAME if module is not None else None


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
        facts.data_note = text("data", "provenance", name=Path(data).name)
    else:
        facts.datasets = list(old.get("datasets") or [])
        facts.data_note = text("data", "none")

    if train_cfg:
        facts.training = {"preset": train_cfg.get("preset"), "model_overrides": train_cfg.get("model_overrides"),
                          **(train_cfg.get("train") or {}), "world_size": train_cfg.get("world_size")}
        if "step" in state:
            facts.training["steps_done"] = state["step"]
        facts.training_note = text("training", "run", file=TRAIN_CONFIG)

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
    facts.summary = text("summary", "task" if facts.task else "other", arch=config.get("arch", "hrmkit"),
                         task=facts.task or "")
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
    facts.data_note = text("data", "authors_entry", repo=entry.repo, revision=entry.revision)
    if official_config is not None and Path(official_config).is_file():
        raw = yaml.safe_load(Path(official_config).read_text()) or {}
        facts.training = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        facts.training_note = text("training", "authors", file=Path(official_config).name)
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


# ------------------------------------------------------------------------------------------------ the template
def _split_template(text: str, path: Path = TEMPLATE) -> tuple[dict, str, dict | None]:
    """(the metadata block, the body, the card texts or None) of a template's text."""
    if not text.startswith("---"):
        raise HrmkitError(f"{path}: the template must start with a YAML metadata block")
    end = text.index("\n---", 3)
    body, texts = text[end + 4:].lstrip("\n"), None
    at = body.find("\n" + TEXTS_MARKER)
    if at >= 0:
        body, block = body[:at].rstrip("\n") + "\n", body[at + 1:]
        start, stop = block.find("\n```yaml\n"), block.rfind("\n```")
        if start < 0 or stop <= start:
            raise HrmkitError(f"{path}: the card texts after '{TEXTS_MARKER}' must be one ```yaml block")
        try:
            texts = yaml.safe_load(block[start + 9:stop])
        except yaml.YAMLError as exc:
            raise HrmkitError(f"{path}: the card texts are not valid YAML ({exc})") from None
        if not isinstance(texts, dict):
            raise HrmkitError(f"{path}: the card texts must be a YAML mapping")
    return yaml.safe_load(text[3:end]) or {}, body, texts


@lru_cache(maxsize=8)
def _read_template(path: Path, stamp: tuple[int, int]) -> tuple[dict, str, dict | None]:
    del stamp  # part of the cache key only: an edited template is read again
    try:
        return _split_template(path.read_text(encoding="utf-8"), path)
    except OSError as exc:
        raise HrmkitError(f"{path}: cannot read the model-card template ({exc.strerror})") from None


def _template(path: Path = TEMPLATE) -> tuple[dict, str, dict | None]:
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise HrmkitError(f"{path}: cannot read the model-card template ({exc.strerror})") from None
    static, body, texts = _read_template(path, (st.st_mtime_ns, st.st_size))
    return dict(static), body, texts


def texts(template: Path = TEMPLATE) -> dict:
    """The card texts of a template; one without its own has those of the shipped template."""
    found = _template(template)[2]
    if found is None:
        found = _template(TEMPLATE)[2]
    if found is None:
        raise HrmkitError(f"{TEMPLATE}: the template has no card texts (a '{TEXTS_MARKER} ... -->' line, then "
                          "a ```yaml block)")
    return found


def text(*keys: str, template: Path = TEMPLATE, **fields) -> str:
    """One card text by its keys (`text("limits", "fixed_size", seq_len=81)`), its `$fields` filled in. The last
    key falls back to `other` where the texts have no such key (a task the template does not name)."""
    node = texts(template)
    for i, key in enumerate(keys):
        if not isinstance(node, dict):
            node = None
            break
        node = node.get(key, node.get("other") if i == len(keys) - 1 else None)
    if not isinstance(node, str):
        raise HrmkitError(f"{template}: the card texts have no text at {'.'.join(keys)}")
    try:
        return string.Template(node).substitute({k: str(v) for k, v in fields.items()})
    except (KeyError, ValueError) as exc:
        raise HrmkitError(f"{template}: card text {'.'.join(keys)} has a placeholder hrmkit does not fill "
                          f"({exc})") from None


# ------------------------------------------------------------------------------------------------ rendering


def _yaml_block(data: dict) -> str:
    return "```yaml\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip() + "\n```"


def difficulty_and_baselines(facts: CardFacts, template: Path = TEMPLATE) -> str:
    """The model's accuracy beside the no-model and untrained baselines, and how hard the test puzzles are."""
    r = facts.report_summary
    parts = []
    rows = [(text("baselines", "this_model", template=template), "")]
    if f"{BASELINE_PREFIX}one_pass_exact_accuracy" in r:
        rows.append((text("baselines", "one_pass", facts.task or "other", template=template), "one_pass_"))
    if f"{BASELINE_PREFIX}untrained_exact_accuracy" in r:
        rows.append((text("baselines", "untrained", template=template), "untrained_"))
    if len(rows) > 1 and "exact_accuracy" in r:
        table = ["| answers of | exact accuracy | token accuracy |", "|---|---|---|"]
        for label, key in rows:
            pre = f"{BASELINE_PREFIX}{key}" if key else ""
            token = r.get(f"{pre}token_accuracy")
            table.append(f"| {label} | {r[pre + 'exact_accuracy']:.4g} | "
                         f"{'-' if token is None else format(token, '.4g')} |")
        parts.append("\n".join(table) + "\n\n" + text("baselines", "token_note", template=template))
    if "givens_mean" in r:
        line = text("difficulty", "puzzles", template=template, givens_min=f"{r['givens_min']:.0f}",
                    givens_max=f"{r['givens_max']:.0f}", givens_mean=f"{r['givens_mean']:.1f}")
        if "rating_mean" in r:
            line += text("difficulty", "rating", template=template, rating_mean=f"{r['rating_mean']:.1f}")
        parts.append(line + ".")
    if "path_length_mean" in r:
        line = text("difficulty", "mazes", template=template, path_length_min=f"{r['path_length_min']:.0f}",
                    path_length_max=f"{r.get('path_length_max', 0):.0f}",
                    path_length_mean=f"{r['path_length_mean']:.1f}")
        if "grid_side" in r:
            line += text("difficulty", "grid", template=template, grid_side=f"{r['grid_side']:.0f}")
        parts.append(line + ".")
    if not parts:
        return text("baselines", "none", template=template)
    return "\n\n".join(parts)


def structural_prior(cfg: dict) -> tuple[bool, str]:
    """(runs on grids of any size, the family whose relation graph its attention follows or '') of a config.json,
    whichever spelling it uses (`attn_mask: family-graph` + `structure`, or the older `sudoku_peers` / `grid`);
    a config the model code does not accept (a foreign checkpoint's) has neither."""
    from hrmkit.models.config import ModelConfig

    try:
        model = ModelConfig.from_dict({"arch": "hrm_act_v1", **cfg})  # the prior's fields are the same for TRM
    except HrmkitError:
        return False, ""
    return model.any_size, model.structure if model.uses_graph else ""


def limits(facts: CardFacts, template: Path = TEMPLATE) -> list[str]:
    """The card's Limits: the task's, then those of the model's settings, then where the numbers come from."""
    cfg = facts.config
    found = [text("limits", "task", facts.task or "other", template=template)]
    any_size, graph = structural_prior(cfg)
    if any_size:
        found.append(text("limits", "any_size", template=template, attn_radius=cfg.get("attn_radius", 1),
                          seq_len=cfg.get("seq_len", "?")))
    else:
        found.append(text("limits", "fixed_size", template=template, seq_len=cfg.get("seq_len", "?")))
    if graph in texts(template)["limits"].get("graph", {}):  # the family's words for its prior, where it has some
        found.append(text("limits", "graph", graph, template=template))
    if cfg.get("halting") == "fixed":
        trained, run = cfg.get("halt_max_steps", "?"), cfg.get("eval_segments") or cfg.get("halt_max_steps", "?")
        segments = text("limits", "segments", "same" if trained == run else "differ", template=template,
                        trained=trained, run=run)
        found.append(text("limits", "fixed_halting", template=template, segments=segments))
    found.append(text("limits", "sources", template=template))
    return found


def render(facts: CardFacts, template: Path = TEMPLATE) -> str:
    """README.md text: metadata from ModelCardData (model-index schema), body and wording from the template."""
    from huggingface_hub import EvalResult, ModelCardData

    static, body, _ = _template(template)
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
        metrics_table = text("no_report", template=template)
    cfg = facts.config
    arch_summary = ", ".join(f"{k}={cfg[k]}" for k in ("arch", "hidden_size", "num_heads", "H_layers", "L_layers",
                                                       "H_cycles", "L_cycles", "halt_max_steps", "seq_len",
                                                       "vocab_size", "puzzle_emb_ndim") if k in cfg)
    files = ["| file | sha256 |", "|---|---|"] + [f"| {n} | `{h}` |" for n, h in sorted(facts.files.items())]
    fields = {
        "title": facts.title,
        "summary": facts.summary,
        "what_it_does": text("task", facts.task or "other", template=template) + " "
        + text("refines", template=template),
        "repo": facts.repo,
        "act_steps": cfg.get("halt_max_steps", 16),
        "seq_len": cfg.get("seq_len", "L"),
        "metrics_table": metrics_table,
        "difficulty_baselines": difficulty_and_baselines(facts, template),
        "arch_summary": arch_summary or text("not_recorded", "arch", template=template),
        "n_params": facts.n_params or text("not_recorded", "params", template=template),
        "training": (f"{facts.training_note}\n\n" + _yaml_block(facts.training)) if facts.training
        else text("not_recorded", "training", template=template),
        "data_provenance": facts.data_note + (("\n\n" + _yaml_block(facts.data_provenance))
                                              if facts.data_provenance else ""),
        "files_table": "\n".join(files) if facts.files else text("not_recorded", "files", template=template),
        "limits": "\n".join(f"- {x}" for x in limits(facts, template)),
        "citation": facts.citation or text("citation", template=template),
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
