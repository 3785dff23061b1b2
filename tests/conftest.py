"""Shared fixtures. Real recordings live in ../shared/data (never copied into the project)."""
import functools
import os
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(os.environ.get("BIOSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_path(*parts) -> pathlib.Path:
    """Path under ../shared/data, or skip the test with a message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared recordings not available: {path} is absent")
    return path


def load_benchmark(name: str):
    """A ``benchmarks/<name>.py`` script imported as a module (benchmarks/ is not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod   # dataclasses (and pickling) look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def shared_data() -> pathlib.Path:
    return shared_path()


# Tests that run the runtime on real sockets, a browser or LSL judge holds and latencies against
# wall-clock deadlines: they are marked `serial`, and `make test` runs them alone after the others
# have run in two processes (`-n 2`): side by side with a CPU-bound test they see a loaded machine.
# A module can also say so itself (`pytestmark = pytest.mark.serial`).
TIMING_SENSITIVE = re.compile(r"import zmq|from zmq|test_streams_helpers|streams\.runtime|selenium|pylsl"
                              r"|Dashboard\(|[\"']serve[\"']")


@functools.lru_cache(maxsize=None)
def _timing_sensitive(path: str) -> bool:
    return bool(TIMING_SENSITIVE.search(pathlib.Path(path).read_text(encoding="utf-8")))


def pytest_collection_modifyitems(config, items):
    """Mark the timing-sensitive modules' tests `serial`; skip tests marked `gpu` when no CUDA
    device is visible."""
    for item in items:
        if "serial" not in item.keywords and _timing_sensitive(str(item.path)):
            item.add_marker(pytest.mark.serial)
    if not any("gpu" in item.keywords for item in items):
        return
    try:
        import torch
        has_gpu = torch.cuda.is_available()
    except Exception:  # torch missing or broken: no GPU path either
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU (TensorRT / CUDA execution provider)")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def ecg_tiny_random_dir(tmp_path_factory) -> pathlib.Path:
    """A checkpoint folder of ecg-tiny with seeded random weights and the default ECG pipeline
    (scoring tests that need a real model, not the shipped weights)."""
    import torch

    import encoders
    from biosig.pipeline import default_pipeline
    from encoders.checkpoint import save_checkpoint

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("model") / "ecg-tiny-random"
    save_checkpoint(d, encoders.create_model("ecg-tiny"), pipeline=default_pipeline("ecg"))
    return d


@pytest.fixture(scope="module")
def export_cache(tmp_path_factory):
    """Point BIOSIG_CACHE_DIR at a per-session temp dir for one module; restore it afterwards.

    Modules that export models opt in with ``pytestmark = pytest.mark.usefixtures("export_cache")``.
    """
    old = os.environ.get("BIOSIG_CACHE_DIR")
    os.environ["BIOSIG_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "biosig-cache")
    yield
    if old is None:
        os.environ.pop("BIOSIG_CACHE_DIR", None)
    else:
        os.environ["BIOSIG_CACHE_DIR"] = old


def load_encoder(name):
    """The shipped checkpoint; the seeded random-weight architecture only while it is not shipped."""
    import encoders
    return encoders.load(name, pretrained=name in encoders.shipped_models())


@pytest.fixture
def torch_one_thread():
    """torch on one thread for the test (small models: threads only add noise on 2 shared cores)."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def realtime_log_level():
    """realtime.evaluation._init_worker raises the 'realtime' logger to ERROR (meant for pool
    workers); a test that calls it in this process puts it back."""
    import logging
    lg = logging.getLogger("realtime")
    old = lg.level
    yield
    lg.setLevel(old)


def _sigint_as_at_a_terminal_now() -> list[str]:
    """Put SIGINT as a terminal gives it (Python's own handler, not blocked) in this thread; what was changed."""
    import signal
    changed = []
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        changed.append(f"handler {signal.getsignal(signal.SIGINT)!r}")
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "pthread_sigmask") and signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []):
        changed.append("blocked")
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return changed


# A test process started as a background job of a non-interactive shell (`make test &`, `nohup`, a CI runner's
# shell) has SIGINT ignored from its start (POSIX; /proc/PID/status SigIgn 0x6: SIGINT and SIGQUIT), and so
# has every subprocess it starts: Python installs no handler where SIGINT is ignored at start-up. Put right
# once, quietly, as the test session starts (each xdist worker imports this file).
_SIGINT_AT_START = _sigint_as_at_a_terminal_now()
_SIGINT_LEFT = ["none (the first test of this process)"]   # the test that ran last in this process


@pytest.fixture(autouse=True)
def _sigint_as_at_a_terminal(request):
    """Every test starts with SIGINT as a terminal gives it: Python's own handler, not blocked.

    Subprocesses inherit an ignored SIGINT and a blocked one (a signal mask survives exec): in one
    xdist worker of a no-shared `make test` run (63c4bdc) every Ctrl-C test's child (score, pretrain,
    export, forecast ran as subprocesses and sent SIGINT) ran to its end and exited 0 instead of 130:
    13 failures and 5 errors (test_embed_resume's three at 400852e were the same). Found (CI at 608e999,
    this fixture's warnings): no test left it so; both workers *started* with SIGINT ignored, the
    whole run being a background job of a non-interactive shell (above), and the first test in each
    found SIG_IGN. Earlier, a streaming command run in-process left its own handler installed and so
    hid it in most runs, until 463e310 put the handlers found back. That case is now put right at
    start-up; a test that changes SIGINT is still put right here and named in a warning."""
    import threading
    import warnings
    if threading.current_thread() is threading.main_thread():
        changed = _sigint_as_at_a_terminal_now()
        if changed:
            warnings.warn(f"SIGINT found {' and '.join(changed)} before {request.node.nodeid} (left so by the test "
                          f"before it in this process: {_SIGINT_LEFT[0]}); put back")
    yield
    _SIGINT_LEFT[0] = request.node.nodeid
