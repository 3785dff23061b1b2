"""What the backends keep in ``$BIOSIG_CACHE_DIR`` (default ~/.cache/biosig): ONNX exports of
models given by name or object (``onnx/<model id>-<digest>.onnx``, the digest over the weights and
the code that builds the graph) and the ``auto`` backend choice measured on a CPU, per model and
machine (``backend-choice.json``), so start-up does not re-time both backends on every call.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pathlib

log = logging.getLogger(__name__)


def _load_model(source):
    """(nn.Module, Encoder or None) from a name, checkpoint directory, Encoder or module."""
    from encoders.export import _resolve
    return _resolve(source)


def cache_dir() -> pathlib.Path:
    """Where exported graphs and TensorRT engines are cached (``$BIOSIG_CACHE_DIR`` or ~/.cache/biosig; a user with
    no home, HOME unset and no passwd entry as in ``docker run --user N``, ``biosig-cache-<uid>`` in the temporary
    directory: ``Path.home()`` raised RuntimeError there). That name in a shared /tmp can be made by anyone first:
    it is used only as a folder of this user's that no one else can write (:func:`_own_folder`), else this process's
    own folder (until 2026-12-07 another user's folder or link there was taken: graphs they put in it were run)."""
    base = os.environ.get("BIOSIG_CACHE_DIR")
    if base:
        return pathlib.Path(base)
    try:
        return pathlib.Path.home() / ".cache" / "biosig"
    except (RuntimeError, KeyError):
        import tempfile
        shared = pathlib.Path(tempfile.gettempdir()) / f"biosig-cache-{os.getuid()}"
        return shared if _own_folder(shared) else _process_folder()


def _own_folder(path: pathlib.Path) -> bool:
    """Whether ``path`` is (made, mode 0700, where missing) a real folder owned by this user that neither its group
    nor others can write: not a link, not another user's."""
    import stat
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


_PROCESS_FOLDER: list = []   # the per-process temporary cache (read-only home), removed at exit


def _process_folder() -> pathlib.Path:
    """One temporary folder for this process's exports where the cache is not writable, removed when the process
    exits (each run left 5-9 MB folders ``biosig-onnx-*`` behind; ONNX Runtime holds a graph in memory once its
    session is made)."""
    if not _PROCESS_FOLDER:
        import atexit
        import tempfile
        folder = pathlib.Path(tempfile.mkdtemp(prefix="biosig-onnx-"))
        atexit.register(_remove_own, folder, os.getpid())
        _PROCESS_FOLDER.append(folder)
    return _PROCESS_FOLDER[0]


def _remove_own(folder: pathlib.Path, owner_pid: int) -> None:
    """Removes ``folder`` at exit, in the process that made it only: a child forked by ``os.fork`` inherits the
    atexit handlers, and one that exited normally removed its parent's folder while the parent still used it."""
    if os.getpid() == owner_pid:
        import shutil
        shutil.rmtree(folder, ignore_errors=True)


def cpu_cores() -> int:
    """Cores this process may run on (affinity-aware): :func:`biosig.cpus.usable_cpus`."""
    from biosig.cpus import usable_cpus
    return usable_cpus()


#: The modules whose code builds an exported graph (every ``encoders`` module an ``EncoderModel``'s
#: layers come from, and the export): a cached graph is reused only while they are unchanged.
#: beat_tokens.py was missing, so a change to the beat detector in the graph kept serving the
#: graph exported before it (tests/test_backends.py checks the list against a model's layers).
GRAPH_CODE = ("attention.py", "model.py", "tokenizers.py", "beat_tokens.py", "export.py", "export_probes.py",
              "graph_passes.py", "graph_names.py", "onnx_metadata.py", "config.py")


def _model_digest(model) -> str:
    """SHA-256 (16 hex) over the code that builds the graph and the model's weights."""
    digest = hashlib.sha256()
    here = pathlib.Path(__file__).parent
    for module in GRAPH_CODE:
        digest.update((here / module).read_bytes())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _safe_id(model, encoder) -> str:
    model_id = str(getattr(encoder, "model_id", "") or getattr(model.config, "name", "model"))
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)


def export_cached(source) -> pathlib.Path:
    """Export a model to ONNX once; reuse the file while the model id, its weights and the code
    that builds the graph are unchanged (so an upgrade never runs a stale graph)."""
    from encoders.export import export_onnx
    model, encoder = _load_model(source)
    folder = cache_dir() / "onnx"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only home: a per-process temporary cache still works
        log.warning("cache %s is not writable (%s); exporting into a temporary directory", folder, exc)
        folder = _process_folder()
    path = folder / f"{_safe_id(model, encoder)}-{_model_digest(model)}.onnx"
    if not path.is_file():
        tmp = path.with_suffix(f".{os.getpid()}.tmp.onnx")
        export_onnx(encoder if encoder is not None else model, tmp)
        tmp.replace(path)
        log.info("exported %s to the cache %s", path.stem, path)
    return path


# ---------------------------------------------------------------------------------------------
# The auto choice on CPU is measured once per model and machine and remembered.

AUTO_CHOICE_FILE = "backend-choice.json"


def _machine_key() -> str:
    """What the CPU choice depends on besides the model: host, cores and library versions.

    Not the thread count: by default it follows the load average (``free_cores``), so keying by it
    re-measured the choice whenever the machine was busier or idler than last time, and two runs
    of the same command could pick different backends."""
    import platform
    from importlib import metadata
    versions = []
    for mod in ("torch", "onnxruntime"):  # installed versions, read without importing torch
        try:
            versions.append(f"{mod}={metadata.version(mod)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{mod}=none")
    return "|".join([platform.node(), platform.machine(), f"cores={cpu_cores()}", *versions])


def _read_choice(key: str) -> dict | None:
    import json
    try:
        return json.loads((cache_dir() / AUTO_CHOICE_FILE).read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def _update_json_table(path: pathlib.Path, key: str, value) -> None:
    """Set ``table[key] = value`` in the JSON object file ``path`` (an unreadable or non-object file
    starts a new table), written atomically through a per-process temporary file. Raises OSError."""
    import json
    try:
        table = json.loads(path.read_text())
        table = table if isinstance(table, dict) else {}
    except (OSError, ValueError):
        table = {}
    table[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
    tmp.replace(path)


def _write_choice(key: str, entry: dict) -> None:
    path = cache_dir() / AUTO_CHOICE_FILE
    try:
        _update_json_table(path, key, entry)
    except OSError as exc:  # a read-only cache only costs the probe next time
        log.warning("cannot remember the backend choice in %s: %s", path, exc)


# ---------------------------------------------------------------------------------------------
# Scoring a checkpoint on onnxruntime needs no torch once its export is cached: an index keyed by
# the checkpoint's file bytes (and the graph-building code) names the cached graph and the facts
# that loading the weights in torch would give (weights hash, model id, config, pipeline).

ONNX_INDEX_FILE = "index.json"
_CHECKPOINT_FILES = ("config.json", "weights.pt", "pipeline.json", "meta.json")


def checkpoint_key(directory) -> str | None:
    """SHA-256 (hex) over a checkpoint directory's files and the code that builds the graph; None
    when a file cannot be read (then the caller loads the checkpoint the slow way)."""
    digest = hashlib.sha256()
    here = pathlib.Path(__file__).parent
    try:
        for module in (*GRAPH_CODE, "weights.py", "checkpoint.py"):
            digest.update((here / module).read_bytes())
        d = pathlib.Path(directory)
        for name in _CHECKPOINT_FILES:
            digest.update(name.encode())
            digest.update((d / name).read_bytes() if (d / name).is_file() else b"<absent>")
    except OSError:
        return None
    return digest.hexdigest()


def read_onnx_index(key: str) -> dict | None:
    """The index entry for ``key`` whose graph is still in the cache, else None."""
    import json
    folder = cache_dir() / "onnx"
    try:
        entry = json.loads((folder / ONNX_INDEX_FILE).read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(entry, dict) or not (folder / str(entry.get("onnx", ""))).is_file():
        return None
    return dict(entry, path=str(folder / entry["onnx"]))


def write_onnx_index(key: str, onnx_path, entry: dict) -> None:
    """Remember ``entry`` (JSON-able) for the cached graph ``onnx_path`` (inside ``cache_dir()/onnx``)."""
    onnx_path = pathlib.Path(onnx_path)
    folder = cache_dir() / "onnx"
    if onnx_path.parent.resolve() != folder.resolve():
        return  # a temporary export (read-only cache) is not worth remembering
    path = folder / ONNX_INDEX_FILE
    try:
        _update_json_table(path, key, dict(entry, onnx=onnx_path.name))
    except OSError as exc:
        log.warning("cannot write the ONNX cache index %s: %s", path, exc)
