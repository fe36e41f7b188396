"""The one error type users see: every failure a user can cause raises HrmkitError with a plain message."""


class HrmkitError(Exception):
    """A user-facing failure (bad file, bad config, missing data, hash mismatch, no network).

    The CLI prints ``str(err)`` to stderr and exits with code 1; no traceback.
    """


def where(path, line: int | None = None) -> str:
    """`file:line` prefix for messages about input files."""
    path = "<stdin>" if str(path) == "-" else path
    return f"{path}:{line}" if line is not None else str(path)


# ------------------------------------------------------------------------------------ the CLI's error boundary
_NETWORK_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3", "socket", "ssl")
_NETWORK_NAMES = ("ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException",
                  "NetworkError", "TransportError", "RemoteProtocolError", "ProxyError", "ConnectionError",
                  "ConnectTimeoutError", "NewConnectionError", "MaxRetryError", "NameResolutionError", "SSLError",
                  "gaierror", "herror", "ReadError", "WriteError")
_OS_HINTS = {
    "ENOSPC": "no space left on the device",
    "EDQUOT": "disk quota exceeded",
    "EROFS": "read-only file system",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EISDIR": "is a folder, expected a file",
    "ENOTDIR": "a part of the path is a file, not a folder",
    "EEXIST": "already exists",
    "ENOENT": "no such file or folder",
    "ENAMETOOLONG": "file name too long",
    "EIO": "input/output error (failing disk?)",
}


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _host_of(exc: BaseException) -> str | None:
    """The host a network exception was about: its request URL (httpx, requests), else HF_ENDPOINT's."""
    import os
    from urllib.parse import urlparse

    for e in _chain(exc):
        try:
            req = getattr(e, "request", None)
        except Exception:  # noqa: BLE001 - httpx raises RuntimeError when an error has no request
            req = None
        url = getattr(req, "url", None)
        if url is not None:
            host = getattr(url, "host", None) or urlparse(str(url)).hostname
            if host:
                return str(host)
        host = getattr(e, "host", None)  # urllib3 errors carry .host (or a pool with .host)
        if isinstance(host, str) and host:
            return host
        pool = getattr(e, "pool", None)
        if isinstance(getattr(pool, "host", None), str):
            return pool.host
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    return urlparse(endpoint).hostname or endpoint


def _is_network(exc: BaseException) -> bool:
    for e in _chain(exc):
        for klass in type(e).__mro__:
            root = klass.__module__.split(".")[0]
            if root in _NETWORK_MODULES and klass.__name__ in _NETWORK_NAMES:
                return True
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_failure(exc: BaseException) -> str | None:
    """One line for a failure the user or the environment caused (``error: `` is prefixed by the caller), or
    None for anything else (a bug in hrmkit: the CLI lets its traceback show)."""
    import errno as errno_mod

    if isinstance(exc, HrmkitError):
        return str(exc)
    if _is_network(exc):
        return (f"cannot reach {_host_of(exc)} ({_first_line(exc)}); check the network, set HF_ENDPOINT for a "
                f"mirror, or HF_HUB_OFFLINE=1 to use the local cache")
    if isinstance(exc, OSError):
        code = errno_mod.errorcode.get(exc.errno or -1, "")
        reason = _OS_HINTS.get(code) or exc.strerror or _first_line(exc)
        names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
        subject = " -> ".join(names) if names else None
        if subject is None:
            return f"{reason} ({_first_line(exc)})" if exc.strerror and reason != exc.strerror else reason
        return f"{subject}: {reason}"
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    if name == "SafetensorError" or (module == "safetensors"):
        return f"not a readable safetensors file ({_first_line(exc)})"
    if name == "OutOfMemoryError" or isinstance(exc, MemoryError):
        return f"out of memory ({_first_line(exc)[:200]}); lower --batch-size or use a smaller model"
    text = str(exc)
    if isinstance(exc, (AssertionError, RuntimeError)) and (
            "not compiled with CUDA" in text or "Found no NVIDIA driver" in text or "No CUDA GPUs" in text
            or "Expected one of cpu, cuda" in text or "Invalid device" in text or "invalid device" in text):
        return f"device: {_first_line(exc)} (use --device cpu)"
    if name in ("DistError", "DistBackendError", "DistNetworkError", "DistStoreError") or (
            isinstance(exc, RuntimeError) and "gloo" in text
            and any(w in text for w in ("Connection reset by peer", "Connection closed by peer", "Read error",
                                        "Write error", "Connection refused"))):
        return (f"distributed training lost another process ({_first_line(exc)[:200]}): a node stopped or the "
                f"network between them failed; `train --resume` on every node continues from the last checkpoint")
    return None
