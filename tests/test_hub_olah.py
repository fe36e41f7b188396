"""The real Hub protocol without internet: olah (a self-hosted Hugging Face mirror) serves local git repositories
on 127.0.0.1, and `hrmkit pull` talks to it through huggingface_hub with HF_ENDPOINT.

olah, offline, answers from `mirrors-path`: a repository `ORG/NAME` is the git repository
`<mirrors-path>/models/ORG/NAME`, served at any commit of its branches (API, tree, HEAD and GET of files).
`hrmkit publish --to` writes exactly such a repository.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from hrmkit.api import load  # hrmkit.load once the package root exports it
from hrmkit.cli import app
from hrmkit.models import ModelConfig, build
from hrmkit.zoo import card, hub, registry
from hrmkit.zoo.official import load_official

pytest.importorskip("olah")
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to build mirror repositories")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def olah(tmp_path_factory):
    """An olah server in offline mode on a free port of 127.0.0.1, serving the git repositories under `mirror`."""
    root = tmp_path_factory.mktemp("olah")
    mirror = root / "mirror"
    (mirror / "models").mkdir(parents=True)
    port = _free_port()
    config = root / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\n'
        f'repos-path = "{root / "cache"}"\nmirrors-path = ["{mirror}"]\n'
        "[accessibility]\noffline = true\n"
    )
    log_path = root / "server.log"
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "--config", str(config), "--log-path", str(root / "logs")],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"olah exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"olah did not listen within 60 s:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", repos=mirror / "models", log=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def online(olah, tmp_path, monkeypatch):
    """This test only: network allowed, to the local mirror; a fresh hub cache and hrmkit home."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # read once at import
    monkeypatch.setenv("HF_ENDPOINT", olah.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HRMKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return olah


def git_repo(path: Path, files: dict[str, Path | bytes]) -> str:
    """A git repository on main holding `files` (as the authors' Hub repositories hold theirs); its commit."""
    path.mkdir(parents=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else Path(content).read_bytes()
        (path / name).write_bytes(data)
    ident = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    for args in (["init", "-q"], ["symbolic-ref", "HEAD", "refs/heads/main"], ["add", "-A"],
                 [*ident, "commit", "-q", "-m", "upload"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def entry_yaml(folder: Path, name: str, repo: str, revision: str, sha256: dict[str, str]) -> None:
    """A registry entry for an authors'-format repository, in a folder put on HRMKIT_ZOO_PATH."""
    folder.mkdir(exist_ok=True)
    pins = "".join(f"\n  {f}: {h}" for f, h in sha256.items())
    (folder / f"{name}.yaml").write_text(
        f"name: {name}\ndescription: the reference tiny HRM in the authors' format\nrepo: {repo}\n"
        f"revision: {revision}\nformat: official\ntask: sudoku\nseq_len: 81\narch: tiny\nlicense: apache-2.0\n"
        f"citation: none\nsha256:{pins or ' {}'}\n"
        "metrics:\n  - {name: exact_accuracy, value: 0.0, dataset: test-org/sudoku, split: test,\n"
        "     source: untrained reference weights, url: 'https://example.org/reference'}\n"
    )


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def error_of(res) -> str:
    """The one error line of a failed command (progress bars may precede it on stderr), and no traceback."""
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in res.output, res.output
    return errors[0]


def test_publish_serve_pull_roundtrip(online, tmp_path):
    torch.manual_seed(0)
    model = build(ModelConfig.from_name("tiny")).eval()
    run = tmp_path / "run"
    model.save_pretrained(run)

    res = invoke("publish", str(run), "--repo", "hrmkit-test/tiny", "--to", str(online.repos / "hrmkit-test" / "tiny"))
    assert res.exit_code == 0, res.output

    res = invoke("pull", "hrmkit-test/tiny")
    assert res.exit_code == 0, res.output + online.log.read_text()[-2000:]
    pulled = Path(res.stdout.strip())
    assert pulled == Path(os.environ["HRMKIT_HOME"]) / "models" / "hrmkit-test--tiny"
    assert sorted(p.name for p in pulled.iterdir()) == [".hrmkit-source.json", "README.md", "config.json",
                                                          "model.safetensors"]
    assert (pulled / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    source = hub.read_source(pulled)
    assert source["endpoint"] == online.url and len(source["commit"]) == 40 and source["format"] == "hrmkit"
    # it really went through the server
    assert "/hrmkit-test/tiny/resolve/" in online.log.read_text()

    loaded = load("hrmkit-test/tiny")  # resolved to the pulled folder, no second download
    inputs = torch.randint(1, 11, (2, 81), generator=torch.Generator().manual_seed(1))
    want, got = model.trace(inputs, steps=2), loaded.trace(inputs, steps=2)
    torch.testing.assert_close(got["logits"], want["logits"], rtol=0, atol=0)

    # the hub cache serves a second pull with the network off
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
    res = invoke("pull", "hrmkit-test/tiny", "--out", str(tmp_path / "again"))
    del os.environ["HF_HUB_OFFLINE"]
    assert res.exit_code == 0, res.output
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()


def test_authors_format_pulled_converted_and_parity(online, tmp_path, monkeypatch, reference_dir):
    ref = reference_dir
    commit = git_repo(online.repos / "sapient-test" / "hrm-tiny",
                      {"step_0": ref / "step_0", "all_config.yaml": ref / "all_config.yaml",
                       "README.md": b"---\nlicense: apache-2.0\n---\nauthors' tiny checkpoint\n"})
    zoo = tmp_path / "zoo"
    entry_yaml(zoo, "hrm-tiny", "sapient-test/hrm-tiny", commit, {"step_0": card.sha256_file(ref / "step_0")})
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(zoo))

    res = invoke("pull", "hrm-tiny")
    assert res.exit_code == 0, res.output
    pulled = Path(res.stdout.strip())
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in pulled.iterdir()}
    source = hub.read_source(pulled)
    assert source["commit"] == commit and source["format"] == "official"
    meta = card.read_card_metadata(pulled / "README.md")
    assert meta["base_model"] == "sapient-test/hrm-tiny" and meta["library_name"] == "hrmkit"
    readme = (pulled / "README.md").read_text()
    assert card.sha256_file(ref / "step_0") in readme and commit[:12] in readme  # provenance of the original

    # a pulled folder publishes like a run; its card keeps where the weights came from
    hub.publish(pulled, "me/republished", to=tmp_path / "republished")
    again = card.read_card_metadata(tmp_path / "republished" / "README.md")
    assert again["base_model"] == "sapient-test/hrm-tiny" and again["model-index"][0]["name"] == "me/republished"
    assert again["model-index"][0]["results"][0]["source"]["url"] == "https://example.org/reference"

    model = load("hrm-tiny")
    inputs = load_file(str(ref / "inputs.safetensors"))
    out = model.trace(inputs["inputs"], puzzle_identifiers=inputs["puzzle_identifiers"], steps=4)
    # the pull is lossless: the same outputs, bit for bit, as converting the original file directly
    direct = load_official(ref / "step_0", seq_len=81)
    same = direct.trace(inputs["inputs"], puzzle_identifiers=inputs["puzzle_identifiers"], steps=4)
    for key in ("logits", "q_halt_logits", "q_continue_logits"):
        torch.testing.assert_close(out[key], same[key], rtol=0, atol=0)
    # and the pulled folder reproduces the authors' outputs within 1e-5. Computed, as in tests/test_convert.py,
    # with the AVX2 kernels the reference was made with: AVX-512 float32 rounding alone drifts ~1.6e-5 by step 4.
    # On an AVX-512 CPU MKL's matmuls take other kernels whatever ATEN_CPU_CAPABILITY says (1.8e-5 measured on a
    # Xeon with AVX-512/AMX), so the check needs a CPU with AVX2 and no AVX-512, as the reference's.
    flags = " " + Path("/proc/cpuinfo").read_text().replace("\n", " ") + " "
    if " avx2 " not in flags or " avx512f " in flags:
        pytest.skip("the 1e-5 reference check needs an x86 CPU with AVX2 and no AVX-512 (the reference's kernels)")
    script = textwrap.dedent(f"""
        from safetensors.torch import load_file
        from hrmkit.api import load
        model = load({str(pulled)!r})
        inputs = load_file({str(ref / "inputs.safetensors")!r})
        want = load_file({str(ref / "outputs.safetensors")!r})
        out = model.trace(inputs["inputs"], inputs["puzzle_identifiers"], steps=4)
        worst = max((out[k] - want[k]).abs().max().item() for k in ("logits", "q_halt_logits", "q_continue_logits"))
        assert worst <= 1e-5, worst
        print("max abs diff", worst)
    """)
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "max abs diff" in proc.stdout, proc.stdout + proc.stderr


def test_authors_format_without_entry_needs_task(online, tmp_path, reference_dir):
    git_repo(online.repos / "sapient-test" / "no-entry",
             {"checkpoint": reference_dir / "step_0", "all_config.yaml": reference_dir / "all_config.yaml"})
    res = invoke("pull", "sapient-test/no-entry")
    assert "give --task sudoku|maze|arc or --seq-len N" in error_of(res)
    res = invoke("pull", "sapient-test/no-entry", "--task", "sudoku", "--out", str(tmp_path / "m"))
    assert res.exit_code == 0, res.output
    assert load(tmp_path / "m").config.seq_len == 81


def test_hash_mismatch_writes_nothing(online, tmp_path, monkeypatch, reference_dir):
    commit = git_repo(online.repos / "sapient-test" / "tampered",
                      {"step_0": reference_dir / "step_0", "all_config.yaml": reference_dir / "all_config.yaml"})
    zoo = tmp_path / "zoo"
    wrong = hashlib.sha256(b"another file").hexdigest()
    entry_yaml(zoo, "tampered", "sapient-test/tampered", commit, {"step_0": wrong})
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(zoo))
    res = invoke("pull", "tampered", "--out", str(tmp_path / "out"))
    assert error_of(res).startswith("error: sha256 mismatch for sapient-test/tampered/step_0")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_repo_without_weights(online, tmp_path):
    git_repo(online.repos / "hrmkit-test" / "empty", {"README.md": b"# nothing here\n", "notes.txt": b"hi\n"})
    res = invoke("pull", "hrmkit-test/empty", "--out", str(tmp_path / "out"))
    assert error_of(res).startswith("error: hrmkit-test/empty has no weights")
    assert not (tmp_path / "out").exists()


def test_repo_not_on_the_server(online, tmp_path):
    res = invoke("pull", "hrmkit-test/absent", "--out", str(tmp_path / "out"))
    message = error_of(res)
    assert "hrmkit-test/absent" in message and "not found" in message


def test_pin_writes_commit_and_hashes_then_pull_holds_to_them(online, tmp_path, monkeypatch, reference_dir):
    ref = reference_dir
    repo_dir = online.repos / "sapient-test" / "to-pin"
    commit = git_repo(repo_dir, {"step_0": ref / "step_0", "all_config.yaml": ref / "all_config.yaml"})
    zoo = tmp_path / "zoo"
    entry_yaml(zoo, "to-pin", "sapient-test/to-pin", "main", {})
    path = zoo / "to-pin.yaml"
    text = path.read_text().replace("revision: main", "# a comment that stays\nrevision: main  # follow main")
    path.write_text(text)
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(zoo))

    res = invoke("pull", "to-pin", "--out", str(tmp_path / "before"))
    assert res.exit_code == 0, res.output
    assert "note: the registry entry 'to-pin' follows the branch 'main'" in res.stderr

    res = invoke("zoo", "pin", "to-pin")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(path)
    entry = registry.parse_entry(path)
    assert entry.revision == commit and entry.pinned
    assert entry.sha256 == {"step_0": card.sha256_file(ref / "step_0"),
                            "all_config.yaml": card.sha256_file(ref / "all_config.yaml")}
    pinned = path.read_text()
    assert "# a comment that stays\n" in pinned and "follow main" not in pinned and "  # main on " in pinned
    # every other line is as it was
    untouched = [line for line in text.splitlines() if not line.startswith(("revision:", "sha256:"))]
    assert [line for line in pinned.splitlines() if not line.startswith(("revision:", "sha256:", "  step_0:",
                                                                          "  all_config.yaml:"))] == untouched

    # main moves on (new weights); the pinned entry still pulls the pinned commit, and its hashes are checked
    state = torch.load(ref / "step_0", weights_only=True)
    state = {k: v + 1 if k.endswith("H_init") else v for k, v in state.items()}
    torch.save(state, repo_dir / "step_0")
    ident = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", "-C", str(repo_dir), *ident, "commit", "-qam", "move main"], check=True)
    res = invoke("pull", "to-pin", "--out", str(tmp_path / "after"))
    assert res.exit_code == 0, res.output
    assert "note:" not in res.stderr
    assert hub.read_source(tmp_path / "after")["commit"] == commit
    before = (tmp_path / "before" / "model.safetensors").read_bytes()
    assert (tmp_path / "after" / "model.safetensors").read_bytes() == before
    # asking for another revision explicitly: the pins (of the pinned commit) do not apply there
    res = invoke("pull", "to-pin", "--revision", "main", "--out", str(tmp_path / "main"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "main" / "model.safetensors").read_bytes() != before
    # pinning again with --revision main follows the move
    res = invoke("zoo", "pin", "to-pin", "--revision", "main")
    assert res.exit_code == 0, res.output
    assert registry.parse_entry(path).sha256["step_0"] == card.sha256_file(repo_dir / "step_0")
    assert registry.parse_entry(path).revision != commit


def test_pin_needs_the_network(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    entry_yaml(zoo, "offline-pin", "sapient-test/offline-pin", "main", {})
    monkeypatch.setenv("HRMKIT_ZOO_PATH", str(zoo))
    before = (zoo / "offline-pin.yaml").read_text()
    res = invoke("zoo", "pin", "offline-pin")
    assert error_of(res) == "error: hrmkit zoo pin offline-pin needs the network (HF_HUB_OFFLINE is set)"
    assert (zoo / "offline-pin.yaml").read_text() == before


def test_corrupt_download_is_caught_against_the_hub_hash(online, tmp_path):
    torch.manual_seed(0)
    run = tmp_path / "run"
    build(ModelConfig.from_name("tiny")).save_pretrained(run)
    res = invoke("publish", str(run), "--repo", "hrmkit-test/corrupt", "--to", str(online.repos / "hrmkit-test" / "corrupt"))
    assert res.exit_code == 0, res.output
    res = invoke("pull", "hrmkit-test/corrupt", "--out", str(tmp_path / "good"))
    assert res.exit_code == 0, res.output

    # flip one byte of the cached weights: same size, same blob name (the git blob sha1 the server sent as ETag)
    blobs = list((Path(os.environ["HF_HUB_CACHE"]) / "models--hrmkit-test--corrupt" / "blobs").iterdir())
    blob = max(blobs, key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    res = invoke("pull", "hrmkit-test/corrupt", "--out", str(tmp_path / "bad"))
    message = error_of(res)
    assert "hrmkit-test/corrupt/model.safetensors" in message and "does not match the Hub's hash" in message
    assert f"expected {blob.name}" in message and "--force" in message
    assert not (tmp_path / "bad").exists()
    # --force downloads it again, and the check passes
    res = invoke("pull", "hrmkit-test/corrupt", "--out", str(tmp_path / "bad"), "--force")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "bad" / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
