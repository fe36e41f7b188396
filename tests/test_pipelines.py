"""The DVC pipelines: the root CPU demo and the paper reproductions in pipelines/<name>/.

The seven paper pipelines are one template, pipelines/paper.dvc.yaml: each pipelines/<name>/dvc.yaml is a
symbolic link to it, filled from the params.yaml beside the link. Fast tests check that structure, load every
dvc.yaml with DVC itself (schema, interpolation, DAG), check the rules every stage keeps (it depends on the whole
package it runs, the card also on the card template; plots are declared as the folders and files the code names,
never by a second list of names), and check that each stage command,
in full and in smoke mode, is accepted by the command it runs (torchrun's and hrmkit's own parsers, the training
config resolver), without running it. Slow tests run the pipelines in smoke mode end to end inside a temporary
git repository: the demo with `dvc repro` twice, `dvc exp run -S`, `dvc metrics show`, `dvc plots show` and
`hrmkit solve`, and every paper pipeline once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: dvc, hrmkit, torchrun
PIPELINES = sorted(p.name for p in (REPO / "pipelines").iterdir() if (p / "dvc.yaml").is_file())
EXPECTED = ["sudoku-extreme-1k", "maze-30x30-hard-1k", "arc-1", "arc-2", "trm-sudoku-extreme-1k",
            "trm-maze-30x30-hard-1k", "trm-arc-1"]
# the paper pipelines' one dvc.yaml (not itself named dvc.yaml, so DVC never reads it as a pipeline of its own)
TEMPLATE = "pipelines/paper.dvc.yaml"
PAPER_STAGES = ["data", "validate", "train", "evaluate", "card"]
# CPU research pipelines: generated data, curriculum stages before `train`
CPU_PIPELINES = {"maze-hard-cpu": ["data_small", "data_mid", "data", "validate", "train_small", "train_mid", "train",
                                   "evaluate", "card"],
                 "sudoku-search-cpu": ["data_easy", "data", "validate", "train_easy", "train", "evaluate", "card"]}
# whether a CPU pipeline's evaluation also runs the untrained model (maze-hard-cpu: off, it would double ~20 minutes)
CPU_BASELINES = {"maze-hard-cpu": False, "sudoku-search-cpu": True}
# params every stage may read besides its own section
COMMON_PARAMS = {"smoke", "gpus"}

pytestmark = [
    pytest.mark.skipif(not (BIN / "dvc").is_file(), reason="dvc is not installed in this environment"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:dvc"),  # DVC's own use of pygtrie
]


# ------------------------------------------------------------------------------------------------ helpers
def _env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", DVC_NO_ANALYTICS="1",
                HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@localhost",
                GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@localhost")


def _run(args: list[str], cwd: Path, timeout: int = 900) -> str:
    r = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def dvc(*args: str, cwd: Path, timeout: int = 900) -> str:
    return _run([str(BIN / "dvc"), *args], cwd, timeout)


def git(*args: str, cwd: Path) -> str:
    return _run(["git", *args], cwd)


def make_repo(tmp: Path, pipelines: list[str] = (), root: bool = False, smoke: bool = True,
              shared: Path | None = None) -> Path:
    """A fresh git + DVC repository with the project's DVC files (the paper template and its links as they are),
    the hrmkit sources and card template its stages depend on, `smoke` set in every params.yaml and the public
    puzzle files (../shared/data) pointed at `shared`. Committed, so that `dvc exp run` has a base."""
    repo = tmp / "repo"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
    shutil.copytree(REPO / "hrmkit", repo / "hrmkit", ignore=ignore)
    shutil.copytree(REPO / "examples", repo / "examples")
    shutil.copytree(REPO / "zoo", repo / "zoo")  # the card template (the root card stage depends on it)
    shutil.copy(REPO / ".dvcignore", repo / ".dvcignore")
    (repo / ".gitignore").write_text("/data/\n/runs/\n/reports/\n")
    params_files = []
    if root:
        for name in ("dvc.yaml", "params.yaml"):
            shutil.copy(REPO / name, repo / name)
        params_files.append(repo / "params.yaml")
    if pipelines:
        (repo / "pipelines").mkdir()
        shutil.copy(REPO / TEMPLATE, repo / TEMPLATE)
    for name in pipelines:
        shutil.copytree(REPO / "pipelines" / name, repo / "pipelines" / name, ignore=ignore, symlinks=True)
        params_files.append(repo / "pipelines" / name / "params.yaml")
    for path in params_files:
        text = re.sub(r"(?m)^smoke: .*$", f"smoke: {'true' if smoke else 'false'}", path.read_text())
        if shared is not None:
            text = text.replace("../../../shared/data", str(shared))
        path.write_text(text)
    git("init", "-q", cwd=repo)
    dvc("init", "-q", cwd=repo)
    shutil.copy(REPO / ".dvc" / "config", repo / ".dvc" / "config")  # analytics off, how dicts become options
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "pipelines", cwd=repo)
    return repo


def load_stages(repo: Path) -> dict[str, list]:
    """{dvc.yaml path: its stages} as DVC itself parses them (schema, ${} interpolation, DAG checks)."""
    from dvc.repo import Repo

    by_file: dict[str, list] = {}
    with Repo(str(repo)) as r:
        for stage in r.index.stages:  # the file's own name: a link to the template is not the template
            path = Path(stage.dvcfile.path)
            by_file.setdefault((path.parent.resolve() / path.name).relative_to(repo.resolve()).as_posix(),
                               []).append(stage)
        r.index.graph  # noqa: B018 - builds the DAG: overlapping outputs and cycles raise here
    return by_file


def shell_argv(cmd: str, cwd: Path) -> list[str]:
    """The argv the shell runs for a stage command (its $(...) expanded), without running the program."""
    program, _, rest = cmd.partition(" ")
    out = subprocess.run(["sh", "-c", f"printf '%s\\0' {rest}"], cwd=cwd, capture_output=True, text=True, check=True)
    return [program, *out.stdout.split("\0")[:-1]]


def check_hrmkit_argv(argv: list[str], cwd: Path) -> None:
    """Parse `hrmkit ...` with the real CLI (unknown options, bad types fail) and resolve a training config."""
    import typer

    from hrmkit.cli import app

    assert argv[0] == "hrmkit", argv
    cmd, args, names = typer.main.get_command(app), argv[1:], []
    while hasattr(cmd, "list_commands"):  # a group (typer ships its own click: no isinstance)
        names.append(args[0])
        cmd, args = cmd.get_command(cmd.context_class(cmd), args[0]), args[1:]
        assert cmd is not None, f"no command hrmkit {' '.join(names)}"
    assert names, argv
    ctx = cmd.make_context(" ".join(["hrmkit", *names]), list(args))
    if names == ["train"]:
        from hrmkit.models.config import HRMConfig, ModelConfig, TRMConfig
        from hrmkit.train.config import resolve

        spec = ctx.params["config"]
        path, _, section = spec.partition(":")
        fields = set(HRMConfig.__dataclass_fields__) | set(TRMConfig.__dataclass_fields__)
        preset, cfg, model = resolve(None, f"{cwd / path}:{section}", ctx.params["overrides"] or [], fields)
        ModelConfig.from_name(preset, **model)  # the model config the run would build
        assert cfg.global_batch_size >= 1


def option(argv: list[str], name: str) -> str | None:
    """The value of `name VALUE` in argv (the last one), None when absent."""
    values = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]
    return values[-1] if values else None


def check_stage_outputs(stages: list, argvs: dict[str, list[str]], baselines: bool) -> None:
    """The training curves' PNG is a plot of the train stage; the evaluation's plots are one folder, the one
    `hrmkit eval --out` draws into; the card stage writes one README.md with
    `hrmkit zoo card` (no git repository inside a DVC output); the untrained baseline is on or off as `baselines`
    says (paper pipelines: off for ARC only)."""
    from hrmkit.evaluate import PLOTS_DIR
    from hrmkit.train.loop import CURVES_FILE

    by_name = {s.name: s for s in stages}
    train, card = by_name["train"], by_name["card"]
    curves = (Path(option(argvs["train"], "--live-dir")) / CURVES_FILE).as_posix()
    assert curves in {o.def_path for o in train.outs if o.is_plot}, f"{train.addressing}: {curves} is no plot"
    plots = (Path(option(argvs["evaluate"], "--out")) / PLOTS_DIR).as_posix()
    assert [o.def_path for o in by_name["evaluate"].outs if o.is_plot] == [plots], by_name["evaluate"].addressing
    assert argvs["card"][1:3] == ["zoo", "card"], argvs["card"]
    card_out = option(argvs["card"], "--out")
    assert card_out.endswith("/README.md") and [o.def_path for o in card.outs] == [card_out], card.addressing
    assert option(argvs["card"], "--report") in {o.def_path for o in by_name["evaluate"].outs if o.is_metric}
    evaluate = argvs["evaluate"]
    assert ("--baselines" if baselines else "--no-baselines") in evaluate, evaluate


def check_stage_commands(stages: list) -> dict[str, list[str]]:
    """Every stage: one hrmkit command (through torchrun for training) whose options its parsers accept."""
    argvs = {}
    for stage in stages:
        cwd = Path(stage.wdir)
        argv = shell_argv(stage.cmd, cwd)
        if argv[0] == "torchrun":
            from torch.distributed.run import get_args_parser

            launch = get_args_parser().parse_args(argv[1:])
            assert launch.standalone and launch.no_python and launch.training_script == "hrmkit", argv
            argv = [launch.training_script, *launch.training_script_args]
        assert "${" not in " ".join(argv), f"{stage.addressing}: unresolved interpolation in {argv}"
        check_hrmkit_argv(argv, cwd)
        argvs[stage.name] = argv
    return argvs


# ------------------------------------------------------------------------------------------------ fast checks
def test_every_paper_pipeline_is_there():
    assert sorted(EXPECTED + list(CPU_PIPELINES)) == PIPELINES
    for name in PIPELINES:
        for f in ("dvc.yaml", "params.yaml", "README.md"):
            assert (REPO / "pipelines" / name / f).is_file(), f"pipelines/{name}/{f} missing"


def test_paper_pipelines_are_one_template():
    """Each paper pipeline's dvc.yaml is a relative link to the template (so it works in any checkout), and its
    params.yaml names the pipeline after its folder; the template names no pipeline; the CPU pipelines keep
    their own files."""
    template = (REPO / TEMPLATE).read_text()
    for name in EXPECTED:
        link = REPO / "pipelines" / name / "dvc.yaml"
        assert link.is_symlink() and os.readlink(link) == "../paper.dvc.yaml", f"{link}: not a link to {TEMPLATE}"
        assert link.resolve() == (REPO / TEMPLATE).resolve()
        assert yaml.safe_load(link.with_name("params.yaml").read_text())["name"] == name
        assert name not in template, f"{TEMPLATE} names {name}: a value for its params.yaml"
    for name in CPU_PIPELINES:
        assert not (REPO / "pipelines" / name / "dvc.yaml").is_symlink()


def test_plot_names_are_written_once():
    """The evaluation's PNG names are hrmkit.evaluate's alone: no dvc.yaml lists them (each declares the folder)."""
    from hrmkit.evaluate import PLOT_FILES

    for path in [REPO / "dvc.yaml", REPO / TEMPLATE, *(REPO / "pipelines" / n / "dvc.yaml" for n in CPU_PIPELINES)]:
        text = path.read_text()
        assert not [f for f in PLOT_FILES if f in text], f"{path.relative_to(REPO)} names plot files"


def test_every_stage_depends_on_the_package_and_the_card_on_its_template(tmp_path):
    """`dvc stage list --all` reads every pipeline; each stage depends on the whole hrmkit package (so no edit of
    the code leaves a stale output), and each card stage on zoo/MODEL_CARD.md too."""
    repo = make_repo(tmp_path, EXPECTED + list(CPU_PIPELINES), root=True)
    listed = dvc("stage", "list", "--all", "--name-only", cwd=repo).split()
    for name in EXPECTED:
        assert [s for s in listed if s.startswith(f"pipelines/{name}/")] == \
            [f"pipelines/{name}/dvc.yaml:{s}" for s in PAPER_STAGES], listed
    by_file = load_stages(repo)
    assert sorted(by_file) == sorted(["dvc.yaml", *[f"pipelines/{n}/dvc.yaml" for n in PIPELINES]])
    for dvcfile, stages in by_file.items():
        up = "../" * dvcfile.count("/")  # from the dvc.yaml's folder to the top of the repository
        for stage in stages:
            deps = {d.def_path for d in stage.deps}
            assert f"{up}hrmkit" in deps, f"{dvcfile}:{stage.name} does not depend on {up}hrmkit"
            assert not [d for d in deps if d.startswith(f"{up}hrmkit/")], f"{dvcfile}:{stage.name}: a part of hrmkit"
            if stage.name == "card":
                assert f"{up}zoo/MODEL_CARD.md" in deps, f"{dvcfile}:card does not depend on the card template"
    for name in EXPECTED:  # the template filled from the pipeline's own params.yaml, in its own folder
        stages = {s.name: s for s in by_file[f"pipelines/{name}/dvc.yaml"]}
        assert list(stages) == PAPER_STAGES
        assert {Path(s.wdir).resolve() for s in stages.values()} == {(repo / "pipelines" / name).resolve()}
        assert [o.def_path for o in stages["data"].outs] == [f"data/{name}"]
        assert [o.def_path for o in stages["train"].outs if not (o.is_metric or o.is_plot)] == [f"runs/{name}"]


@pytest.mark.parametrize("dvcfile", ["dvc.yaml", *[f"pipelines/{n}/dvc.yaml" for n in EXPECTED + list(CPU_PIPELINES)]])
def test_committed_params_are_the_full_recipe(dvcfile):
    params = yaml.safe_load((REPO / dvcfile).with_name("params.yaml").read_text())
    assert params["smoke"] is False, f"{dvcfile}: params.yaml is committed with smoke on"


@pytest.mark.parametrize("smoke", [False, True], ids=["full", "smoke"])
def test_dvc_files_load_and_commands_parse(tmp_path, smoke, shared_data):
    repo = make_repo(tmp_path, EXPECTED, root=True, smoke=smoke, shared=shared_data)
    stages = load_stages(repo)
    demo = check_stage_commands(stages["dvc.yaml"])
    assert list(demo) == ["build", "validate", "train", "evaluate", "card"]
    assert demo["build"][3] == "sudoku" and "generate" in demo["build"]
    assert not any("shared" in a for argv in demo.values() for a in argv), "the demo must not read ../shared"
    check_stage_outputs(stages["dvc.yaml"], demo, baselines=True)
    for name in EXPECTED:
        argvs = check_stage_commands(stages[f"pipelines/{name}/dvc.yaml"])
        assert list(argvs) == PAPER_STAGES
        check_stage_outputs(stages[f"pipelines/{name}/dvc.yaml"], argvs, baselines="arc" not in name)
        build = argvs["data"]
        sources = [build[i + 1] for i, a in enumerate(build) if a == "--source"]
        if smoke:  # nothing from the internet
            assert not any(s.startswith("hf:") for s in sources), (name, sources)
            assert all(s == "generate" or s.startswith(str(shared_data)) for s in sources), (name, sources)
        elif "arc" not in name:  # the authors' Hub data sets
            assert sources[0].startswith("hf:sapientinc/"), (name, sources)


@pytest.mark.parametrize("smoke", [False, True], ids=["full", "smoke"])
def test_cpu_pipelines_load_and_commands_parse(tmp_path, smoke):
    repo = make_repo(tmp_path, list(CPU_PIPELINES), smoke=smoke)
    stages = load_stages(repo)
    for name, expected in CPU_PIPELINES.items():
        argvs = check_stage_commands(stages[f"pipelines/{name}/dvc.yaml"])
        assert list(argvs) == expected
        check_stage_outputs(stages[f"pipelines/{name}/dvc.yaml"], argvs, baselines=CPU_BASELINES[name])
        for stage, argv in argvs.items():
            if stage.startswith("data"):
                assert option(argv, "--source") == "generate", (name, stage)  # nothing to download
            if stage.startswith("train") and stage not in ("train_small", "train_easy"):
                assert option(argv, "--init"), (name, stage)  # a curriculum stage starts from the one before


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CPU_PIPELINES))
def test_cpu_pipeline_smoke(tmp_path, name):
    repo = make_repo(tmp_path, [name])
    out = dvc("repro", f"pipelines/{name}/dvc.yaml", cwd=repo)
    assert _ran(out) == set(CPU_PIPELINES[name]), out
    base = repo / "pipelines" / name
    metrics = json.loads((base / "reports/eval/metrics.json").read_text())
    assert "exact_accuracy" in metrics
    assert ("baseline_untrained_exact_accuracy" in metrics) == CPU_BASELINES[name]
    assert (base / "reports/model/README.md").is_file()
    assert not _ran(dvc("repro", f"pipelines/{name}/dvc.yaml", cwd=repo))


def test_each_stage_reads_only_its_section(tmp_path):
    from dvc.dependency.param import ParamsDependency

    repo = make_repo(tmp_path, EXPECTED, root=True, smoke=False)
    by_file = load_stages(repo)
    assert sorted(by_file) == sorted(["dvc.yaml", *[f"pipelines/{n}/dvc.yaml" for n in EXPECTED]])
    for dvcfile, stages in by_file.items():
        for stage in stages:
            keys = {k for d in stage.deps if isinstance(d, ParamsDependency) for k in d.params}
            own = {k for k in keys if k not in COMMON_PARAMS}
            sections = {k.split(".")[0].removesuffix("_smoke") for k in own}
            assert len(sections) <= 1, f"{dvcfile}:{stage.name} reads {sorted(own)}"


def test_dvc_rejects_a_broken_dvc_yaml(tmp_path):
    """The validation above is DVC's: a stage with an unknown key or a missing param does not load."""
    from dvc.exceptions import DvcException

    repo = make_repo(tmp_path, root=True)
    text = (repo / "dvc.yaml").read_text()
    (repo / "dvc.yaml").write_text(text.replace("    deps:\n", "    depz:\n", 1))
    with pytest.raises(DvcException):
        load_stages(repo)
    (repo / "dvc.yaml").write_text(text.replace("${build.task}", "${build.no_such_key}"))
    with pytest.raises(DvcException):
        load_stages(repo)


# ------------------------------------------------------------------------------------------------ end to end
def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(?:[^']*:)?([\w-]+)'", output))


@pytest.mark.slow
def test_demo_smoke_end_to_end(tmp_path):
    repo = make_repo(tmp_path, root=True)
    out = dvc("repro", cwd=repo)
    assert _ran(out) == {"build", "validate", "train", "evaluate", "card"}, out
    metrics = json.loads((repo / "reports/demo/eval/metrics.json").read_text())
    assert 0.0 <= metrics["exact_accuracy"] <= 1.0 and metrics["num_examples"] >= 1
    for key in ("baseline_one_pass_exact_accuracy", "baseline_untrained_exact_accuracy", "givens_mean"):
        assert key in metrics, key  # issue 7: the model beside both baselines, and the difficulty
    assert sorted(p.name for p in (repo / "reports/demo/model").iterdir()) == ["README.md"]  # no git, no weights
    card = (repo / "reports/demo/model/README.md").read_text()
    assert "exact_accuracy" in card and "sudoku" in card and "Difficulty and baselines" in card
    assert (repo / "reports/demo/train/learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "demo run", cwd=repo)

    # a second repro does nothing
    again = dvc("repro", cwd=repo)
    assert not _ran(again), again
    assert "up to date" in dvc("status", cwd=repo)

    # one changed parameter re-runs its stage and what depends on it, nothing upstream
    exp = dvc("exp", "run", "-S", "train.lr=0.003", cwd=repo)
    assert _ran(exp) == {"train", "evaluate", "card"}, exp
    shown = json.loads(dvc("exp", "show", "--json", cwd=repo))
    assert "0.003" in json.dumps(shown)

    table = dvc("metrics", "show", cwd=repo)
    assert "exact_accuracy" in table and "reports/demo/eval/metrics.json" in table

    # plots render from files, no network: the evaluation PNGs and the training curves' data
    dvc("plots", "show", "-o", "plots_html", cwd=repo)
    html = (repo / "plots_html" / "index.html").read_text()
    assert "accuracy_per_segment.png" in html and "q_halt_calibration.png" in html
    assert "learning_curves.png" in html  # the training curves as an image
    assert "exact_accuracy" in html  # the dvclive TSV data are inlined in the page
    assert list((repo / "plots_html" / "static").glob("*.png"))

    # the trained model solves the example file
    solved = _run([str(BIN / "hrmkit"), "solve", "examples/sudoku-lines.txt", "--model", "runs/demo",
                   "--device", "cpu", "--json"], repo)
    answers = [json.loads(line) for line in solved.splitlines() if line.startswith("{")]
    assert len(answers) == 10 and all(a["status"] in ("verified", "wrong") for a in answers)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPECTED)
def test_paper_pipeline_smoke(tmp_path, name, shared_data):
    repo = make_repo(tmp_path, [name], shared=shared_data)
    out = dvc("repro", f"pipelines/{name}/dvc.yaml", cwd=repo)
    assert _ran(out) == set(PAPER_STAGES), out
    assert not (repo / "pipelines" / "dvc.lock").exists()  # the lock is the pipeline's, beside its link
    base = repo / "pipelines" / name
    metrics = json.loads((base / "reports/eval/metrics.json").read_text())
    assert "exact_accuracy" in metrics
    if "arc" in name:
        assert "arc_pass@2" in metrics  # the paper's metric
        assert "baseline_untrained_exact_accuracy" not in metrics  # --no-baselines
    else:
        assert "baseline_untrained_exact_accuracy" in metrics
    assert (base / "reports/model/README.md").is_file()
    assert (base / "reports/train/learning_curves.png").is_file()
    assert list((base / "reports/eval/plots").glob("*.png"))
    assert (base / "dvc.lock").is_file() and (repo / TEMPLATE).is_file() and (base / "dvc.yaml").is_symlink()
    assert not _ran(dvc("repro", f"pipelines/{name}/dvc.yaml", cwd=repo))
