"""`hrmkit publish --repo` through HfApi against a Hub upload server on 127.0.0.1, then `hrmkit pull` from it.

Looked for a server that implements the Hub's upload API and installs from PyPI or Debian (this machine's package
lists and `pip download --no-deps`):

- olah 0.5.4 (PyPI, used by tests/test_hub_olah.py): a read-only mirror, no create/preupload/commit route.
- hf-local-hub 3.0.0 (PyPI): the wheel holds only its client; the server is a Go binary not in the wheel.
- hfmirror 0.0.7 (PyPI): a sync tool that uploads to the Hub with HfApi; no server.
- cheesecave / cheesecave-backend 0.0.0.dev0 (PyPI): name reservations, no code.
- kohakuhub: not on PyPI (its server needs LakeFS, MinIO and Postgres anyway).
- Debian: no Hugging Face Hub server package (only git-lfs itself, which has no Hub commit API).

So the server is here: `HubServer`, a real HTTP server (http.server, one thread) that implements what
huggingface_hub 2.4 sends for `create_repo` + `upload_folder` and for `model_info` + `snapshot_download`,
read from its source (hf_api.py, _commit_api.py, lfs.py, _snapshot_download.py, file_download.py):

  POST /api/repos/create                               {"name", "organization", "type"[, "visibility"]}
  POST /api/validate-yaml                              {"content", "repoType"}        (README.md, before hashing)
  POST /api/models/{repo}/preupload/{rev}              {"files": [{"path", "sample" (base64), "size"}]}
  POST /{repo}.git/info/lfs/objects/batch              git-lfs batch: operation, transfers, objects, hash_algo, ref
  PUT  /lfs-upload/{oid}                               the bytes ("basic" transfer; sha256 and size checked)
  POST /lfs-verify/{oid}                               {"oid", "size"}
  POST /api/models/{repo}/commit/{rev}                 NDJSON: header, then file (base64) / lfsFile lines
  GET  /api/models/{repo}/revision/{rev}               model info (sha, siblings)
  GET  /api/models/{repo}/tree/{commit}?recursive=...  the file list (blob oid, size, lfs)
  HEAD/GET /{repo}/resolve/{rev}/{file}                X-Repo-Commit, ETag (git blob sha1), LFS: 302 to the
                                                       blob with X-Linked-Etag (sha256) and X-Linked-Size

Every request is checked strictly (method, path, query, Authorization: Bearer <HF_TOKEN>, a huggingface_hub
user agent, content types, each JSON body's keys and types, each NDJSON line, the sha256 and size of each LFS
upload against what the batch call announced, every lfsFile line against an uploaded object). Anything else is
answered 400 and recorded; each test fails if any request broke the protocol, so a change in what huggingface_hub
sends fails here.

Xet: with hf_xet installed (constraints.txt pins it), huggingface_hub 2.4's upload_folder uploads every "lfs"
file through Xet only (`_upload_pipeline`, a CAS server, no LFS batch call). The tests turn Xet off
(HF_HUB_DISABLE_XET, read once at import, so set on `huggingface_hub.constants`) to take the git-LFS path, which
this server implements; `test_xet_upload_is_negotiated_by_token` checks that, with Xet on, the client asks
for the Xet write token at the documented route, so that negotiation is pinned too. A Xet CAS server is not
implemented: a server that does not offer Xet cannot take LFS files from a default install.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import torch
from typer.testing import CliRunner

from hrmkit.cli import app
from hrmkit.models import ModelConfig, build

TOKEN = "hf_localtesttoken"
_REPO = r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)"
_HEX40, _HEX64 = re.compile(r"[0-9a-f]{40}"), re.compile(r"[0-9a-f]{64}")
_LFS_JSON = "application/vnd.git-lfs+json"


class ProtocolError(Exception):
    """A request that huggingface_hub should not have sent (answered 400 and recorded)."""


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def _keys(obj, required: dict[str, type | tuple], optional: dict[str, type | tuple] | None = None, where=""):
    """`obj` is a dict with exactly the required keys (of those types) and no keys but the optional ones."""
    optional = optional or {}
    if not isinstance(obj, dict):
        raise ProtocolError(f"{where}: expected an object, got {type(obj).__name__}")
    missing = sorted(set(required) - set(obj))
    extra = sorted(set(obj) - set(required) - set(optional))
    if missing or extra:
        raise ProtocolError(f"{where}: missing keys {missing}, unexpected keys {extra} in {sorted(obj)}")
    for key, value in obj.items():
        kind = required.get(key) or optional[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise ProtocolError(f"{where}: '{key}' should be {kind}, got {value!r:.80}")


class HubServer:
    """An in-memory Hub (models only) on 127.0.0.1 that checks every request; see the module docstring."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.repos: dict[str, dict] = {}  # repo -> {"private", "commits": [{"oid", "files": {path: entry}}]}
        self.lfs: dict[str, bytes] = {}  # sha256 -> bytes, uploaded and verified
        self.announced: dict[str, int] = {}  # sha256 -> size, from LFS batch calls
        self.problems: list[str] = []  # protocol violations (each test asserts there are none)
        self.requests: list[tuple[str, str]] = []  # (method, path), in order
        self.xet_token_requests = 0  # answered 501: this server offers git LFS, not Xet
        self.fail_commit: int | None = None  # answer the commit endpoint with this status (fault injection)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server._dispatch(self, "GET")

            def do_HEAD(self):
                server._dispatch(self, "HEAD")

            def do_POST(self):
                server._dispatch(self, "POST")

            def do_PUT(self):
                server._dispatch(self, "PUT")

            def do_DELETE(self):
                server._dispatch(self, "DELETE")

        # the Hub, and the storage its LFS URLs point to (another origin, as a CDN or bucket is: huggingface_hub
        # follows redirects within the Hub only, and must not send the Hub token there)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.storage = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.storage_url = f"http://127.0.0.1:{self.storage.server_address[1]}"
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.httpd, self.storage)]

    def __enter__(self) -> HubServer:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for httpd in (self.httpd, self.storage):
            httpd.shutdown()
            httpd.server_close()

    # ------------------------------------------------------------------------------------------- plumbing
    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        path, query = unquote(url.path), parse_qs(url.query, keep_blank_values=True)
        on_storage = h.server is self.storage
        with self._lock:
            self.requests.append((method, ("storage:" if on_storage else "") + path))
        try:
            body = self._body(h)
            if on_storage:
                status, headers, payload = self._storage(h, method, path, query, body)
            else:
                status, headers, payload = self._route(h, method, path, query, body)
        except ProtocolError as err:
            with self._lock:
                self.problems.append(f"{method} {h.path}: {err}")
            status, headers, payload = 400, {"X-Error-Message": str(err)[:200]}, {"error": str(err)}
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        h.send_response(status)
        if not isinstance(payload, bytes):
            headers = {"Content-Type": "application/json", **headers}
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(data)))  # HEAD: the size of what GET sends
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(data)

    @staticmethod
    def _body(h: BaseHTTPRequestHandler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += h.rfile.read(size)
                h.rfile.readline()
        return h.rfile.read(int(h.headers.get("Content-Length") or 0))

    def _auth(self, h: BaseHTTPRequestHandler, required: bool = True) -> None:
        agent = h.headers.get("User-Agent", "")
        if not re.search(r"(^|; )hf_hub/\d", agent):
            raise ProtocolError(f"no huggingface_hub user agent: {agent!r}")
        auth = h.headers.get("Authorization")
        if required and auth != f"Bearer {self.token}":
            raise ProtocolError(f"Authorization should be 'Bearer <HF_TOKEN>', got {auth!r}")

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, body: bytes, content_type: str = "application/json"):
        got = h.headers.get("Content-Type", "").split(";")[0].strip()
        if got != content_type:
            raise ProtocolError(f"Content-Type should be {content_type}, got {got!r}")
        try:
            return json.loads(body)
        except ValueError as err:
            raise ProtocolError(f"body is not JSON ({err})") from None

    @staticmethod
    def _no_query(query: dict, allowed: dict[str, set[str]] | None = None) -> None:
        allowed = allowed or {}
        for key, values in query.items():
            if key not in allowed or not set(values) <= allowed[key]:
                raise ProtocolError(f"unexpected query parameter {key}={values}")

    def _repo(self, repo: str) -> dict:
        if repo not in self.repos:
            raise _NotFound(repo)
        return self.repos[repo]

    def _head(self, repo: str, rev: str) -> dict:
        commits = self._repo(repo)["commits"]
        if rev == "main" or (commits and rev == commits[-1]["oid"]):
            return commits[-1] if commits else {"oid": _EMPTY_COMMIT, "files": {}}
        for commit in commits:
            if commit["oid"] == rev:
                return commit
        raise _NotFound(repo, rev)

    # --------------------------------------------------------------------------------------------- routes
    def _route(self, h, method: str, path: str, query: dict, body: bytes):
        try:
            return self._handle(h, method, path, query, body)
        except _NotFound as missing:
            if missing.rev is None:
                return 404, {"X-Error-Code": "RepoNotFound"}, {"error": "Repository not found"}
            return 404, {"X-Error-Code": "RevisionNotFound"}, {"error": "Invalid rev id"}

    def _handle(self, h, method: str, path: str, query: dict, body: bytes):
        if m := re.fullmatch(r"/api/repos/create", path):
            return self._create(h, method, query, body)
        if m := re.fullmatch(r"/api/validate-yaml", path):
            return self._validate_yaml(h, method, query, body)
        if m := re.fullmatch(rf"/api/models/{_REPO}/preupload/(?P<rev>[^/]+)", path):
            return self._preupload(h, method, query, body, m["repo"], m["rev"])
        if m := re.fullmatch(rf"/{_REPO}\.git/info/lfs/objects/batch", path):
            return self._lfs_batch(h, method, query, body, m["repo"])
        if m := re.fullmatch(r"/lfs-verify/(?P<oid>[0-9a-f]{64})", path):
            return self._lfs_verify(h, method, query, body, m["oid"])
        if m := re.fullmatch(rf"/api/models/{_REPO}/commit/(?P<rev>[^/]+)", path):
            return self._commit(h, method, query, body, m["repo"], m["rev"])
        if m := re.fullmatch(rf"/api/models/{_REPO}/revision/(?P<rev>[^/]+)", path):
            return self._info(h, method, query, body, m["repo"], m["rev"])
        if m := re.fullmatch(rf"/api/models/{_REPO}/tree/(?P<rev>[^/]+)", path):
            return self._tree(h, method, query, body, m["repo"], m["rev"])
        if m := re.fullmatch(rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path):
            return self._resolve(h, method, query, body, m["repo"], m["rev"], m["file"])
        if m := re.fullmatch(rf"/api/models/{_REPO}/xet-write-token/(?P<rev>[^/]+)", path):
            if method != "GET" or body:
                raise ProtocolError("the Xet token request is a GET without a body")
            self._auth(h)
            self._no_query(query)
            self._head(m["repo"], m["rev"])
            self.xet_token_requests += 1
            return 501, {"X-Error-Message": "Xet storage is not enabled on this server"}, {"error": "no Xet here"}
        if path == "/api/agent-harnesses":  # huggingface_hub's agent detection (when an agent's variables are set)
            if method != "GET" or body:
                raise ProtocolError("the agent registry is a GET without a body")
            return 404, {}, {"error": "Not found"}  # the client then detects no agent and caches nothing
        raise ProtocolError("no such route in the Hub API")

    def _storage(self, h, method: str, path: str, query: dict, body: bytes):
        """The storage host: presigned PUT of an LFS object, and HEAD/GET of it behind the Hub's 302."""
        self._no_query(query)
        if "Authorization" in h.headers:
            raise ProtocolError("the Hub token was sent to the storage host")
        if m := re.fullmatch(r"/lfs-upload/(?P<oid>[0-9a-f]{64})", path):
            return self._lfs_put(h, method, query, body, m["oid"])
        if m := re.fullmatch(r"/lfs-blob/(?P<oid>[0-9a-f]{64})", path):
            if method not in ("HEAD", "GET") or body or m["oid"] not in self.lfs:
                raise ProtocolError("only HEAD or GET of an uploaded LFS object")
            return 200, {"ETag": f'"{m["oid"]}"'}, self.lfs[m["oid"]]
        raise ProtocolError("no such route on the storage host")

    def _create(self, h, method, query, body):
        if method != "POST":
            raise ProtocolError("create repo is a POST")
        self._auth(h)
        self._no_query(query)
        data = self._json(h, body)
        _keys(data, {"name": str, "organization": (str, type(None))}, {"type": str, "visibility": str},
              where="create repo")
        if data.get("type", "model") != "model" or data.get("visibility", "public") not in ("public", "private"):
            raise ProtocolError(f"unexpected type/visibility {data}")
        if not data["organization"]:
            raise ProtocolError("a repository without a namespace")
        repo = f"{data['organization']}/{data['name']}"
        if repo in self.repos:
            return 409, {}, {"error": "You already created this model repo", "url": f"{self.url}/{repo}"}
        self.repos[repo] = {"private": data.get("visibility") == "private", "commits": []}
        return 200, {}, {"url": f"{self.url}/{repo}", "name": repo, "id": repo}

    def _validate_yaml(self, h, method, query, body):
        if method != "POST":
            raise ProtocolError("validate-yaml is a POST")
        self._auth(h)
        self._no_query(query)
        data = self._json(h, body)
        _keys(data, {"content": str, "repoType": str}, where="validate-yaml")
        if data["repoType"] != "model" or not data["content"].startswith("---\n"):
            raise ProtocolError("README.md without a YAML header, or not a model")
        return 200, {}, {"errors": [], "warnings": []}

    def _preupload(self, h, method, query, body, repo, rev):
        if method != "POST":
            raise ProtocolError("preupload is a POST")
        self._auth(h)
        self._no_query(query)
        head = self._head(repo, rev)
        data = self._json(h, body)
        _keys(data, {"files": list}, {"gitIgnore": str}, where="preupload")
        if not 0 < len(data["files"]) <= 256:
            raise ProtocolError(f"preupload takes 1 to 256 files, got {len(data['files'])}")
        answer = []
        for f in data["files"]:
            _keys(f, {"path": str, "sample": str, "size": int}, where="preupload file")
            sample = base64.b64decode(f["sample"], validate=True)
            if len(sample) != min(f["size"], 512):
                raise ProtocolError(f"{f['path']}: sample of {len(sample)} bytes for a {f['size']}-byte file")
            # like the Hub's .gitattributes: *.safetensors (and anything binary or over 10 MB) goes to LFS
            lfs = f["path"].endswith(".safetensors") or b"\0" in sample or f["size"] > 10_000_000
            old = head["files"].get(f["path"])
            answer.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                           "oid": old["oid"] if old else None})
        return 200, {}, {"files": answer, "commitOid": head["oid"]}

    def _lfs_batch(self, h, method, query, body, repo):
        if method != "POST":
            raise ProtocolError("the LFS batch call is a POST")
        self._auth(h)
        self._no_query(query)
        self._repo(repo)
        if h.headers.get("Accept") != _LFS_JSON:
            raise ProtocolError(f"Accept should be {_LFS_JSON}, got {h.headers.get('Accept')!r}")
        data = self._json(h, body, _LFS_JSON)
        _keys(data, {"operation": str, "transfers": list, "objects": list, "hash_algo": str}, {"ref": dict},
              where="LFS batch")
        if data["operation"] != "upload" or data["hash_algo"] != "sha256" or "basic" not in data["transfers"]:
            raise ProtocolError(f"an upload batch with basic transfer and sha256, got {data}")
        if "ref" in data:
            _keys(data["ref"], {"name": str}, where="LFS batch ref")
        objects = []
        for obj in data["objects"]:
            _keys(obj, {"oid": str, "size": int}, where="LFS batch object")
            if not _HEX64.fullmatch(obj["oid"]) or obj["size"] <= 0:
                raise ProtocolError(f"bad LFS object {obj}")
            self.announced[obj["oid"]] = obj["size"]
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs:
                entry["actions"] = {
                    "upload": {"href": f"{self.storage_url}/lfs-upload/{obj['oid']}"},
                    "verify": {"href": f"{self.url}/lfs-verify/{obj['oid']}", "header": {}},
                }
            objects.append(entry)
        return 200, {"Content-Type": _LFS_JSON}, {"transfer": "basic", "objects": objects}

    def _lfs_put(self, h, method, query, body, oid):
        if method != "PUT":
            raise ProtocolError("a basic LFS upload is a PUT")
        if oid not in self.announced:
            raise ProtocolError("upload of an object no batch call announced")
        if len(body) != self.announced[oid] or hashlib.sha256(body).hexdigest() != oid:
            raise ProtocolError(f"uploaded {len(body)} bytes with sha256 {hashlib.sha256(body).hexdigest()}, "
                                f"announced {self.announced[oid]} bytes with sha256 {oid}")
        self.lfs[oid] = body
        return 200, {}, b""

    def _lfs_verify(self, h, method, query, body, oid):
        if method != "POST":
            raise ProtocolError("LFS verify is a POST")
        self._auth(h)
        self._no_query(query)
        data = self._json(h, body)
        _keys(data, {"oid": str, "size": int}, where="LFS verify")
        if data["oid"] != oid or oid not in self.lfs or data["size"] != len(self.lfs[oid]):
            raise ProtocolError(f"verify {data} of an object not uploaded as such")
        return 200, {}, {"success": True}

    def _commit(self, h, method, query, body, repo, rev):
        if method != "POST":
            raise ProtocolError("commit is a POST")
        self._auth(h)
        self._no_query(query)
        head = self._head(repo, rev)
        if h.headers.get("Content-Type") != "application/x-ndjson":
            raise ProtocolError(f"Content-Type should be application/x-ndjson, got {h.headers.get('Content-Type')!r}")
        try:
            lines = [json.loads(line) for line in body.decode().split("\n") if line]
        except ValueError as err:
            raise ProtocolError(f"a commit line is not JSON ({err})") from None
        if not lines or not body.endswith(b"\n"):
            raise ProtocolError("empty commit, or the last line is not terminated")
        for n, line in enumerate(lines):
            _keys(line, {"key": str, "value": dict}, where=f"commit line {n}")
            if (line["key"] == "header") != (n == 0):
                raise ProtocolError(f"commit line {n}: the header must be the first line, and only it")
        _keys(lines[0]["value"], {"summary": str, "description": str}, {"parentCommit": str}, where="commit header")
        if not lines[0]["value"]["summary"]:
            raise ProtocolError("empty commit summary")
        files = dict(head["files"])
        for n, line in enumerate(lines[1:], 1):
            value = line["value"]
            if line["key"] == "file":
                _keys(value, {"content": str, "path": str, "encoding": str}, where=f"commit line {n}")
                if value["encoding"] != "base64":
                    raise ProtocolError(f"file encoding {value['encoding']!r}")
                data = base64.b64decode(value["content"], validate=True)
                files[value["path"]] = {"data": data, "oid": _git_blob_sha1(data), "lfs": None}
            elif line["key"] == "lfsFile":
                _keys(value, {"path": str, "algo": str, "oid": str, "size": int}, where=f"commit line {n}")
                if value["algo"] != "sha256" or value["oid"] not in self.lfs:
                    raise ProtocolError(f"lfsFile {value} names no uploaded object")
                if len(self.lfs[value["oid"]]) != value["size"]:
                    raise ProtocolError(f"lfsFile {value}: size differs from the uploaded object")
                pointer = _lfs_pointer(value["oid"], value["size"])
                files[value["path"]] = {"data": self.lfs[value["oid"]], "oid": _git_blob_sha1(pointer),
                                        "lfs": value["oid"], "pointer": len(pointer)}
            else:
                raise ProtocolError(f"commit line {n}: unexpected key {line['key']!r}")
        if self.fail_commit is not None:
            return self.fail_commit, {"X-Error-Message": "commit failed on purpose"}, {"error": "commit failed"}
        parent = head["oid"]
        oid = hashlib.sha1(json.dumps([parent, sorted((p, f["oid"]) for p, f in files.items())]).encode()).hexdigest()
        self.repos[repo]["commits"].append({"oid": oid, "files": files})
        return 200, {}, {"success": True, "commitOid": oid, "commitUrl": f"{self.url}/{repo}/commit/{oid}",
                         "hookOutput": ""}

    def _info(self, h, method, query, body, repo, rev):
        if method != "GET" or body:
            raise ProtocolError("model info is a GET without a body")
        self._auth(h)
        self._no_query(query, {"expand[]": {"sha", "siblings"}, "securityStatus": {"True", "False"}})
        commit = self._head(repo, rev)
        return 200, {}, {"id": repo, "modelId": repo, "sha": commit["oid"], "private": self.repos[repo]["private"],
                         "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
                         "siblings": [{"rfilename": p} for p in sorted(commit["files"])]}

    def _tree(self, h, method, query, body, repo, rev):
        if method != "GET" or body:
            raise ProtocolError("the tree listing is a GET without a body")
        self._auth(h)
        self._no_query(query, {"recursive": {"True", "true", "1"}, "expand": {"False", "false", "0"}})
        commit = self._head(repo, rev)
        entries = []
        for p, f in sorted(commit["files"].items()):
            entry = {"type": "file", "oid": f["oid"], "size": len(f["data"]), "path": p}
            if f["lfs"]:
                entry["lfs"] = {"oid": f["lfs"], "size": len(f["data"]), "pointerSize": f["pointer"]}
            entries.append(entry)
        return 200, {}, entries

    def _resolve(self, h, method, query, body, repo, rev, file):
        if method not in ("HEAD", "GET") or body:
            raise ProtocolError("resolve is a HEAD or GET without a body")
        self._auth(h)
        self._no_query(query)
        commit = self._head(repo, rev)
        f = commit["files"].get(file)
        if f is None:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit["oid"]}, {"error": "not found"}
        headers = {"X-Repo-Commit": commit["oid"], "ETag": f'"{f["oid"]}"'}
        if f["lfs"] is None:
            return 200, headers, f["data"]
        headers.update({"X-Linked-Etag": f'"{f["lfs"]}"', "X-Linked-Size": str(len(f["data"])),
                        "Location": f"{self.storage_url}/lfs-blob/{f['lfs']}"})
        return 302, headers, b""


class _NotFound(Exception):
    def __init__(self, repo: str, rev: str | None = None):
        self.repo, self.rev = repo, rev


_EMPTY_COMMIT = "0" * 40


# ------------------------------------------------------------------------------------------------ tests
@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The server, huggingface_hub pointed at it (online, Xet off, a token), fresh caches; no violations after."""
    import huggingface_hub.constants as constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # read once at import
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HRMKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server
    assert server.problems == [], "\n".join(server.problems)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    torch.manual_seed(0)
    run = tmp_path / "run"
    build(ModelConfig.from_name("tiny")).save_pretrained(run)
    return run


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_publish_then_pull_gives_the_same_bytes(hub, run_dir):
    res = invoke("publish", str(run_dir), "--repo", "me/tiny")
    assert res.exit_code == 0, res.output + "\n".join(hub.problems)
    assert res.stdout.strip() == f"{hub.url}/me/tiny"

    weights = (run_dir / "model.safetensors").read_bytes()
    [commit] = hub.repos["me/tiny"]["commits"]
    assert sorted(commit["files"]) == ["README.md", "config.json", "model.safetensors"]
    assert commit["files"]["model.safetensors"]["lfs"] == hashlib.sha256(weights).hexdigest()  # went by LFS
    assert commit["files"]["config.json"]["lfs"] is None  # went base64 in the commit
    oid = hashlib.sha256(weights).hexdigest()
    assert hub.requests == [
        ("POST", "/api/repos/create"),
        *[("POST", "/api/validate-yaml")] * hub.requests.count(("POST", "/api/validate-yaml")),
        ("POST", "/api/models/me/tiny/preupload/main"),
        ("POST", "/me/tiny.git/info/lfs/objects/batch"),
        ("PUT", f"storage:/lfs-upload/{oid}"),
        ("POST", f"/lfs-verify/{oid}"),
        ("POST", "/api/models/me/tiny/commit/main"),
    ]
    hub.requests.clear()

    res = invoke("pull", "me/tiny")
    assert res.exit_code == 0, res.output + "\n".join(hub.problems)
    pulled = Path(res.stdout.strip().splitlines()[-1])
    assert (pulled / "model.safetensors").read_bytes() == weights
    assert (pulled / "config.json").read_bytes() == (run_dir / "config.json").read_bytes()
    assert json.loads((pulled / ".hrmkit-source.json").read_text())["commit"] == commit["oid"]
    assert ("GET", f"storage:/lfs-blob/{oid}") in hub.requests  # the weights came through the LFS redirect

    # publishing again with other weights: a second commit; the pull gets the new bytes
    torch.manual_seed(1)
    build(ModelConfig.from_name("tiny")).save_pretrained(run_dir)
    res = invoke("publish", str(run_dir), "--repo", "me/tiny")
    assert res.exit_code == 0, res.output
    assert len(hub.repos["me/tiny"]["commits"]) == 2
    res = invoke("pull", "me/tiny")
    assert res.exit_code == 0, res.output
    assert (pulled / "model.safetensors").read_bytes() == (run_dir / "model.safetensors").read_bytes() != weights


def test_a_server_error_in_the_commit_is_one_error_line(hub, run_dir):
    hub.fail_commit = 500
    res = invoke("publish", str(run_dir), "--repo", "me/tiny")
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and sum(line.startswith("error: ") for line in lines) == 1, res.output
    assert "HTTP 500" in lines[-1] and "me/tiny" in lines[-1] and "Traceback" not in res.output
    assert hub.repos["me/tiny"]["commits"] == []


def test_a_wrong_token_is_refused(hub, run_dir, monkeypatch):
    """The server really checks the token: a request with another one is a recorded violation."""
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    res = invoke("publish", str(run_dir), "--repo", "me/tiny")
    assert res.exit_code == 1 and res.stderr.strip().splitlines()[-1].startswith("error: ")
    assert hub.problems and "Authorization" in hub.problems[0]
    hub.problems.clear()


def test_xet_upload_is_negotiated_by_token(hub, run_dir, monkeypatch):
    """With Xet on (the default when hf_xet is installed), LFS files go to Xet: the client asks for a write token."""
    pytest.importorskip("hf_xet")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.delenv("HF_HUB_DISABLE_XET")
    res = invoke("publish", str(run_dir), "--repo", "me/tiny")
    assert res.exit_code == 1, res.output  # this server has no CAS: the upload fails, as one error line
    assert res.stderr.strip().splitlines()[-1].startswith("error: ")
    assert hub.xet_token_requests >= 1, hub.requests
    assert not any("lfs/objects/batch" in p for _, p in hub.requests)  # no fallback to LFS
    assert hub.repos["me/tiny"]["commits"] == []


def test_a_changed_commit_line_fails(hub, run_dir, monkeypatch):
    """What a protocol change looks like here: one more key in the lfsFile line is refused and recorded."""
    from huggingface_hub import _commit_api

    original = _commit_api._prepare_commit_payload

    def changed(*args, **kwargs):
        for item in original(*args, **kwargs):
            if item["key"] == "lfsFile":
                item["value"]["xetHash"] = "0" * 64
            yield item

    monkeypatch.setattr(_commit_api, "_prepare_commit_payload", changed)
    res = invoke("publish", str(run_dir), "--repo", "me/tiny")
    assert res.exit_code == 1 and "HTTP 400" in res.stderr.strip().splitlines()[-1], res.output
    assert len(hub.problems) == 1 and "unexpected keys ['xetHash']" in hub.problems[0], hub.problems
    hub.problems.clear()


def test_a_server_that_is_not_a_hub_is_named_not_called_offline(hub, run_dir, monkeypatch):
    """A file answer without X-Repo-Commit (a proxy, not a Hub): one error line saying so, not "offline"."""
    assert invoke("publish", str(run_dir), "--repo", "me/tiny").exit_code == 0
    resolve = HubServer._resolve

    def no_commit_header(self, *args):
        status, headers, payload = resolve(self, *args)
        headers.pop("X-Repo-Commit", None)
        return status, headers, payload

    monkeypatch.setattr(HubServer, "_resolve", no_commit_header)
    res = invoke("pull", "me/tiny")
    assert res.exit_code == 1, res.output
    lines = [line for line in res.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[-1].startswith("error: me/tiny@main: download from") and "X-Repo-Commit" in lines[-1], lines
    assert "offline" not in lines[-1] and "Traceback" not in res.output
