"""`gh:OWNER/REPO@COMMIT:PATH` data sources, from a GitHub-shaped tarball served on 127.0.0.1: a build fetches
once then reads the cache, bad specs fail before writing, offline is one message, an interrupted unpack is redone."""

import hashlib
import http.server
import io
import json
import tarfile
import threading

import pytest
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.data import sources
from hrmkit.data.format import open_dataset
from hrmkit.errors import HrmkitError

COMMIT = "3990304"


def _tarball(shared_data) -> bytes:
    """The layout codeload.github.com serves: one top folder REPO-<sha>/ holding the tree (ARC-AGI: data/...)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for part, n in (("training", 3), ("evaluation", 2)):
            for f in sorted((shared_data / "arc" / "arc-agi-1" / part).glob("*.json"))[:n]:
                tar.add(f, arcname=f"ARC-AGI-{COMMIT}full/data/{part}/{f.name}")
        readme = b"ARC\n"
        info = tarfile.TarInfo(f"ARC-AGI-{COMMIT}full/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    return buf.getvalue()


@pytest.fixture
def server(shared_data, tmp_path, monkeypatch):
    """A codeload stand-in on 127.0.0.1: GET /OWNER/REPO/tar.gz/COMMIT; records the paths asked for."""
    body = _tarball(shared_data)
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            if self.path == f"/fchollet/ARC-AGI/tar.gz/{COMMIT}":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HRMKIT_GITHUB_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}/")
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # urllib would send it to an http_proxy otherwise
    monkeypatch.setenv("HRMKIT_HOME", str(tmp_path / "home"))
    yield asked, hashlib.sha256(body).hexdigest()
    httpd.shutdown()
    httpd.server_close()


def test_data_build_arc_from_github_once_then_from_the_cache(server, tmp_path):
    asked, sha = server
    spec = f"gh:fchollet/ARC-AGI@{COMMIT}:data"
    res = CliRunner().invoke(app, ["data", "build", "arc", "--source", spec, "--out", str(tmp_path / "arc")])
    assert res.exit_code == 0, res.output
    ds = open_dataset(tmp_path / "arc")
    assert ds.split("train").meta.total_groups == 5 and ds.split("test").meta.total_groups == 2
    rec = ds.provenance["sources"]["source0"]
    assert rec["kind"] == "gh" and rec["repo"] == "fchollet/ARC-AGI" and rec["revision"] == COMMIT
    assert rec["archive"]["sha256"] == sha and rec["archive"]["subdir"] == "data"
    assert rec["archive"]["url"].endswith(f"/fchollet/ARC-AGI/tar.gz/{COMMIT}")
    tree = tmp_path / "home" / "github" / "fchollet" / "ARC-AGI" / COMMIT
    assert rec["sha256"] == sources.tree_sha256(tree / "data")
    assert (tree / "README.md").read_text() == "ARC\n"  # the top folder is stripped

    # the same commit again: no request, the same provenance
    res = CliRunner().invoke(app, ["data", "build", "arc", "--source", spec, "--out", str(tmp_path / "arc2")])
    assert res.exit_code == 0, res.output
    assert asked == [f"/fchollet/ARC-AGI/tar.gz/{COMMIT}"]
    assert open_dataset(tmp_path / "arc2").provenance["sources"]["source0"] == rec


@pytest.mark.parametrize("spec, message", [
    ("gh:fchollet/ARC-AGI:data", "expected gh:<owner>/<repo>@<commit>"),
    ("gh:fchollet/ARC-AGI@main:data", "expected gh:<owner>/<repo>@<commit>"),  # a branch does not pin the data
    ("gh:fchollet/ARC-AGI@3990304:../x", "may not contain"),
    ("gh:fchollet/ARC-AGI@abcdef0:data", "HTTP 404: check the owner, repository and commit"),
    (f"gh:fchollet/ARC-AGI@{COMMIT}:nothing",
     "no 'nothing' in fchollet/ARC-AGI at 3990304 (top level: README.md, data)"),
    (f"gh:fchollet/ARC-AGI@{COMMIT}:README.md", "is a file; ARC sources are folders"),
])
def test_bad_github_sources_fail_before_writing(server, tmp_path, spec, message):
    res = CliRunner().invoke(app, ["data", "build", "arc", "--source", spec, "--out", str(tmp_path / "arc")])
    assert res.exit_code == 1 and message in res.stderr, res.output
    assert not (tmp_path / "arc").exists()


def test_offline_is_one_clear_message(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HRMKIT_GITHUB_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("HRMKIT_HOME", str(tmp_path / "home"))
    with pytest.raises(HrmkitError, match=r"gh:o/r@1234567: cannot download .*offline\? the cache .* does not hold"):
        sources.resolve("gh:o/r@1234567:data", dirs=True)
    assert not any((tmp_path / "home" / "github" / "o" / "r").iterdir())  # no partial download left


def test_an_interrupted_unpack_is_fetched_again(server, tmp_path):
    asked, _ = server
    src = sources.resolve(f"gh:fchollet/ARC-AGI@{COMMIT}", dirs=True)
    (src.files["dir"].parent / f"{COMMIT}.json").unlink()  # as if killed before the record was written
    again = sources.resolve(f"gh:fchollet/ARC-AGI@{COMMIT}", dirs=True)
    assert len(asked) == 2 and again.files["dir"] == src.files["dir"] and (again.files["dir"] / "data").is_dir()
    assert json.loads((src.files["dir"].parent / f"{COMMIT}.json").read_text())["sha256"] == again.archive["sha256"]
