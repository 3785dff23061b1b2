"""Inference backends behind one interface: torch, ONNX Runtime and native TensorRT.

``embed``, ``score`` and the streaming runtime all call::

    backend = make_backend("auto", "ecg-tiny")           # or a .onnx / .plan path, an Encoder
    emb = backend.run(windows)                           # (B, C, T) float32 -> (B, D) float32
    backend.name, backend.providers, backend.why

``windows`` are raw windows at the model's input rate after the out-of-graph part of the
pipeline (what ``encoders.export`` puts in front of the graph input ``x``).

Kinds
-----
torch        the PyTorch module's ``embed_forward`` (CPU or CUDA).
onnxruntime  ONNX Runtime: CPUExecutionProvider, plus CUDAExecutionProvider and
             TensorrtExecutionProvider (engine and timing cache enabled in ``cache_dir``) when
             onnxruntime-gpu is installed and a GPU is asked for or found.
tensorrt     a native TensorRT engine (``.plan`` from ``biosig compile``) via the tensorrt Python
             API, CUDA buffers from torch.
auto         fastest available: a ``.plan`` -> tensorrt; a ``.onnx`` -> onnxruntime; a model with a
             CUDA GPU -> TensorRT EP / CUDA EP of ONNX Runtime, else torch on CUDA; a model on
             CPU -> whichever of onnxruntime and torch eager is faster on one probe batch of 8
             windows, timed at startup (onnxruntime for most models, see
             benchmarks/bench_encoders.py); ``why`` carries the two timings.
             A model (not a file) given to an ONNX backend is exported once into ``cache_dir``.

All optional packages (onnxruntime, tensorrt, torch) are imported lazily.
"""
from __future__ import annotations

import logging
import pathlib

import numpy as np

from encoders.arguments import device_name, thread_count
from encoders.backend_base import Backend
from encoders.backend_cache import (AUTO_CHOICE_FILE, _load_model, _machine_key, _model_digest,  # noqa: F401
                                    _read_choice, _safe_id, _write_choice, cache_dir, cpu_cores, export_cached)
from encoders.backend_tensorrt import TensorRTBackend
from encoders.compile import GPU_INSTALL_HINT, import_tensorrt
from encoders.errors import EncoderError
from encoders.onnx_metadata import decode_metadata

log = logging.getLogger(__name__)

KINDS = ("auto", "torch", "onnxruntime", "tensorrt")


# ---------------------------------------------------------------------------------------------
class TorchBackend(Backend):
    """PyTorch eager inference of ``model.embed_forward`` under ``torch.inference_mode``.

    The backend never changes the module it is given: when the module lives on another device
    or is in training mode, the backend runs a private copy (so a CPU backend and a CUDA backend
    built from one :class:`encoders.Encoder` coexist). ``precision`` ``bf16`` / ``fp16`` runs the
    network under ``torch.autocast`` (weights stay float32; output float32); the in-model
    preprocessing is autocast-neutral (z-score, STFT power and log-mel run in float32 where
    autocast keeps them). Tolerances against fp32: see docs/gpu.md.
    """

    name = "torch"

    def __init__(self, model, *, device=None, precision="fp32", why="asked for torch", model_id=None):
        import torch
        if precision not in TORCH_PRECISIONS:
            raise EncoderError(f"unknown precision {precision!r}; expected one of {', '.join(TORCH_PRECISIONS)}")
        try:
            self.device = torch.device(device or "cpu")
        except (RuntimeError, TypeError):
            raise EncoderError(f"torch backend: unknown device {device!r}; expected cpu, cuda or cuda:N") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise EncoderError("torch backend: device 'cuda' asked for but torch sees no CUDA GPU")
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.model_id = model_id or getattr(model.config, "name", None)
        self.model = _private_copy(model, self.device)
        self.precision = precision
        self._dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.providers = (str(self.device),)
        self.why = why if precision == "fp32" else f"{why}; {precision} autocast"
        from encoders.onnx_metadata import config_dict, uses_channel_input
        config = config_dict(model)
        # Models with a channel vocabulary take any subset of channels; the others a fixed count.
        self.in_channels = None if uses_channel_input(config) else config.get("in_channels")

    def _run(self, x, channel_idx):
        import torch
        if x.shape[0] == 0:
            return np.zeros((0, self._dim()), np.float32)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=self._dtype or torch.float32,
                                                    enabled=self._dtype is not None):
            xt = torch.from_numpy(x).to(self.device, non_blocking=True)
            emb = self.model.embed_forward(xt, torch.from_numpy(channel_idx).to(self.device))
            return emb.float().cpu().numpy()

    def _dim(self):
        return int(getattr(self.model.config, "dim", 0))


TORCH_PRECISIONS = ("fp32", "bf16", "fp16")


def _private_copy(model, device):
    """``model`` itself when it is already in eval mode on ``device``, else an eval-mode copy there."""
    import copy
    params = list(model.parameters()) + list(model.buffers())
    here = {p.device for p in params} or {device}
    if here == {device} and not model.training:
        return model
    clone = copy.deepcopy(model)
    return clone.to(device).eval()


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime session on an exported graph (input ``x``, output ``embedding``)."""

    name = "onnxruntime"

    def __init__(self, onnx_path, *, device=None, threads=None, engine_cache=None, why="asked for onnxruntime"):
        from biosig.interrupts import import_whole
        try:
            ort = import_whole("onnxruntime")   # a Ctrl-C during it is no "not installed"
        except ImportError:
            raise EncoderError("onnxruntime backend needs onnxruntime: pip install onnxruntime "
                               f"(or {GPU_INSTALL_HINT} for CUDA/TensorRT)") from None
        self.path = pathlib.Path(onnx_path)
        if not self.path.is_file():
            raise EncoderError(f"onnxruntime backend: {self.path} does not exist")
        available = ort.get_available_providers()
        providers = _ort_providers(device, available, engine_cache or cache_dir() / "trt-engines")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = int(threads or cpu_cores())
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # No busy-waiting between ops: the backend shares its cores with the runtime's ingest and
        # batching threads; spinning workers measured 1.7x slower at batch 8 on a busy 2-core host.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise EncoderError(f"onnxruntime cannot load {self.path}: {str(exc).splitlines()[0]}") from None
        self.providers = tuple(self.session.get_providers())
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name
        self.channel_input = next((i.name for i in inputs[1:] if i.name == "channel_idx"), None)
        shape = inputs[0].shape
        self.in_channels = shape[1] if len(shape) == 3 and isinstance(shape[1], int) else None
        self.metadata = decode_metadata(self.session.get_modelmeta().custom_metadata_map)
        self.model_id = self.metadata.get("model_id")
        meta_input = self.metadata.get("input") or {}
        if self.in_channels is None and not meta_input.get("channel_input") and meta_input.get("channels"):
            self.in_channels = int(meta_input["channels"])  # fixed-channel model, symbolic axis
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        out_shape = self.session.get_outputs()[0].shape
        self.dim = out_shape[-1] if isinstance(out_shape[-1], int) else None
        self.why = why

    def _run(self, x, channel_idx):
        if x.shape[0] == 0:
            return np.zeros((0, self.dim or 0), np.float32)
        if self.fixed_batch and x.shape[0] != self.fixed_batch:
            return self._run_fixed(x, channel_idx)
        feed = {self.input_name: x}
        if self.channel_input:
            feed[self.channel_input] = channel_idx
        return self.session.run(None, feed)[0]


    def _run_fixed(self, x, channel_idx):
        """A graph exported with a fixed batch B (``export --batch B``): the windows in runs of B,
        the last run padded with copies of its last window, whose outputs are dropped (each
        window's embedding depends on that window only)."""
        b, out = self.fixed_batch, []
        per_window = channel_idx is not None and np.ndim(channel_idx) == 2
        for i in range(0, x.shape[0], b):
            xs = x[i:i + b]
            ids = channel_idx[i:i + b] if per_window else channel_idx
            n = xs.shape[0]
            if n < b:
                xs = np.concatenate([xs, np.repeat(xs[-1:], b - n, axis=0)])
                ids = np.concatenate([ids, np.repeat(ids[-1:], b - n, axis=0)]) if per_window else ids
            out.append(self._run(xs, ids)[:n])
        return np.concatenate(out)


def _ort_providers(device, available, engine_cache: pathlib.Path) -> list:
    """Execution providers for ``device`` (None = best available, "cpu", "cuda[:N]")."""
    device = (device or "").lower()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    want_gpu = device.startswith("cuda") or device == ""
    device_id = int(device.split(":")[1]) if device.startswith("cuda:") else 0
    chosen = []
    if want_gpu and "TensorrtExecutionProvider" in available:
        engine_cache.mkdir(parents=True, exist_ok=True)
        chosen.append(("TensorrtExecutionProvider", {
            "device_id": device_id, "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(engine_cache), "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(engine_cache)}))
    if want_gpu and "CUDAExecutionProvider" in available:
        chosen.append(("CUDAExecutionProvider", {"device_id": device_id}))
    if device.startswith("cuda") and not chosen:
        raise EncoderError(f"onnxruntime has no CUDA execution provider (available: {', '.join(available)}); "
                           f"install it with: {GPU_INSTALL_HINT}")
    return chosen + ["CPUExecutionProvider"]


def _has_cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------------------------
def make_backend(kind: str, source, *, device: str | None = None, threads: int | None = None,
                 precision: str = "fp32") -> Backend:
    """Create an inference backend.

    Parameters
    ----------
    kind : {"auto", "torch", "onnxruntime", "tensorrt"}
    source : str, path, encoders.Encoder or nn.Module
        A model name or checkpoint directory, a loaded Encoder / module, an exported ``.onnx``
        file, or a TensorRT ``.plan`` engine.
    device : str, optional
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; None picks the best available.
    threads : int, optional
        ONNX Runtime intra-op threads (default: the cores this process may use).
    precision : {"fp32", "bf16", "fp16"}
        Torch backend only: autocast precision (``bf16``/``fp16`` are meant for CUDA). Exported
        graphs keep the precision they were exported with (fp32, fp16 or int8); asking another
        one of onnxruntime or tensorrt is an error. ``auto`` with bf16/fp16 picks torch.

    Returns
    -------
    Backend

    Raises
    ------
    EncoderError
        Unknown kind, a backend that is not installed (the message says what to install), or a
        source the backend cannot run.
    """
    if kind not in KINDS:
        raise EncoderError(f"unknown backend {kind!r}; expected one of {', '.join(KINDS)}")
    device, threads = device_name(device), thread_count(threads)
    if precision not in TORCH_PRECISIONS:
        raise EncoderError(f"unknown precision {precision!r}; expected one of {', '.join(TORCH_PRECISIONS)}")
    suffix = pathlib.Path(source).suffix.lower() if isinstance(source, (str, pathlib.Path)) else ""
    if precision != "fp32":
        if kind in ("onnxruntime", "tensorrt") or suffix in (".onnx", ".plan"):
            raise EncoderError(f"--precision {precision} applies to the torch backend; an exported graph keeps "
                               "the precision it was exported with (biosig export --precision fp16|int8)")
        kind = "torch"
    if kind == "auto":
        backend = _auto(source, suffix, device, threads)
        log.info("backend auto -> %s %s: %s", backend.name, ",".join(backend.providers), backend.why)
        return backend
    if kind == "tensorrt":
        import_tensorrt()
        if suffix != ".plan":
            raise EncoderError(f"the tensorrt backend runs a .plan engine, got {source!r}; "
                               "build one with: biosig compile model.onnx --out model.plan")
        return TensorRTBackend(source, device=device)
    if kind == "onnxruntime":
        path = source if suffix == ".onnx" else export_cached(source)
        return OnnxRuntimeBackend(path, device=device, threads=threads)
    if suffix in (".onnx", ".plan"):
        raise EncoderError(f"the torch backend needs a model name, checkpoint directory or module, "
                           f"not {source!r}; use --backend onnxruntime or tensorrt for exported files")
    if not _has("torch"):
        raise EncoderError("the torch backend needs PyTorch: pip install torch")
    model, encoder = _load_model(source)
    return TorchBackend(model, device=device, precision=precision, model_id=getattr(encoder, "model_id", None))


TORCH_MARGIN = 0.5   # torch is chosen on CPU only below 0.5 x onnxruntime's probe time
PROBE_BATCH = 8


def _probe_s(backend: Backend, channels: int, length: int) -> float:
    """Best of two timed calls on a random (8, C, T) batch, after one warm-up call."""
    import time
    x = np.random.default_rng(0).standard_normal((PROBE_BATCH, channels, length)).astype(np.float32)
    backend.run(x)
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        backend.run(x)
        best = min(best, time.perf_counter() - t0)
    return best


def _auto(source, suffix, device, threads) -> Backend:
    if device and str(device).startswith("cuda") and not _has_cuda():   # asked for, not there: as the torch
        raise EncoderError(f"--device {device}: no CUDA GPU here (torch sees none); "   # and onnxruntime backends say
                           "leave --device out to run on what there is, or give --device cpu")
    cuda = device != "cpu" and _has_cuda()
    if suffix == ".plan":
        return TensorRTBackend(source, device=device, why="a .plan engine runs only on TensorRT")
    has_ort, has_torch = _has("onnxruntime"), _has("torch")
    if suffix == ".onnx":
        if not has_ort:
            raise EncoderError(f"{source} is an ONNX file but onnxruntime is not installed: pip install onnxruntime")
        return OnnxRuntimeBackend(source, device=device if cuda else "cpu", threads=threads,
                                  why="an exported graph runs on onnxruntime")
    gpu_eps = []
    if has_ort:
        import onnxruntime as ort
        gpu_eps = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in ort.get_available_providers()]
    if cuda and gpu_eps:
        return OnnxRuntimeBackend(export_cached(source), device=device, threads=threads,
                                  why=f"CUDA GPU found and onnxruntime-gpu offers {', '.join(gpu_eps)}")
    model, encoder = _load_model(source)
    model_id = getattr(encoder, "model_id", None)
    if cuda:
        return TorchBackend(model, device=device or "cuda", model_id=model_id,
                            why="CUDA GPU found but onnxruntime-gpu is absent; torch on CUDA beats the CPU provider")
    if not has_ort:
        return TorchBackend(model, device="cpu", model_id=model_id,
                            why="onnxruntime is not installed; torch eager on CPU")
    # CPU, both available: which is faster depends on the model and batch (onnxruntime wins on
    # per-call overhead and small batches; at batch 32 the audio and spirogram graphs measured
    # slightly faster in torch), so measure both on one probe batch once per model and machine
    # (remembered in cache_dir()/backend-choice.json) and keep onnxruntime unless torch takes less
    # than TORCH_MARGIN of its time.
    key = f"{_safe_id(model, encoder)}-{_model_digest(model)}|{_machine_key()}"
    cached = _read_choice(key)
    if cached and cached.get("kind") in ("onnxruntime", "torch"):
        if cached["kind"] == "onnxruntime":
            chosen = OnnxRuntimeBackend(export_cached(source), device="cpu", threads=threads)
        else:
            chosen = TorchBackend(model, device="cpu", model_id=model_id)
        chosen.timings = dict(cached.get("timings") or {})
        chosen.why = f"{cached.get('why', '')} (remembered in {cache_dir() / AUTO_CHOICE_FILE})"
        return chosen
    ort_be = OnnxRuntimeBackend(export_cached(source), device="cpu", threads=threads)
    torch_be = TorchBackend(model, device="cpu", model_id=model_id)
    from encoders.onnx_metadata import config_dict, example_length
    config = config_dict(model)
    channels, length = int(config.get("in_channels") or 1), example_length(config)
    t_ort, t_torch = _probe_s(ort_be, channels, length), _probe_s(torch_be, channels, length)
    # torch only when clearly faster: onnxruntime runs the whole graph without the GIL, which the
    # streaming runtime's other threads need, and one probe batch on a shared machine is noisy.
    # Measured with bench_streams.py, 16 full beds: embedding p99 216 ms with torch chosen for
    # audio and PPG (probes 0.72-0.81 x onnxruntime's), 83 ms with onnxruntime for all three
    chosen = torch_be if t_torch < TORCH_MARGIN * t_ort else ort_be
    chosen.timings = {"onnxruntime": t_ort, "torch": t_torch}
    chosen.why = (f"no CUDA GPU; measured on a ({PROBE_BATCH}, {channels}, {length}) batch: onnxruntime "
                  f"{t_ort * 1e3:.0f} ms, torch eager {t_torch * 1e3:.0f} ms")
    _write_choice(key, {"kind": chosen.name, "timings": chosen.timings, "why": chosen.why})
    return chosen
