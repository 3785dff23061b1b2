"""Lowering of exported graphs: float16 and int8 conversion, and native TensorRT engines (``.plan``).

:func:`compile_engine` builds a TensorRT engine (TensorRT 10 Python API). The graph passes used by
:func:`encoders.export.export_onnx` (``convert_fp16``, ``quantize_int8``, ``rewrite_frame_convs``)
live in :mod:`encoders.graph_passes` and are re-exported here. Imports go one way:
``export`` <- ``compile`` <- ``backends`` (this module never imports ``backends``).

Steps (TensorRT 10): ``trt.Builder(logger)`` -> ``builder.create_network(0)`` (explicit batch is the
only mode in TensorRT 10) -> ``trt.OnnxParser(network, logger).parse(bytes)`` -> a builder config
with the workspace limit (``set_memory_pool_limit(MemoryPoolType.WORKSPACE, ...)``), the precision
flags and one optimisation profile (``profile.set_shape(name, min, opt, max)`` for ``x`` over batch
and length; ``channel_idx`` (B, C) follows the batch) -> ``builder.build_serialized_network``
-> bytes written to the ``.plan`` file. Engines are specific to the GPU model and TensorRT
version that built them.

Precision
---------
fp32   TF32 allowed on Ampere and later (TensorRT default).
fp16   ``BuilderFlag.FP16``: TensorRT may run layers in half precision where faster; parity
       against torch fp32 is then about 1e-2 absolute, not 1e-4.
int8   ``BuilderFlag.INT8`` (+ FP16 fallback) with post-training calibration: an
       ``IInt8EntropyCalibrator2`` fed with representative windows from ``--calibration``
       (an .npy (N, C, T) float32, a few hundred windows after the out-of-graph pipeline). The
       calibration cache is written next to the engine. TensorRT 10 deprecates this implicit
       quantisation in favour of explicit Q/DQ graphs (NVIDIA ModelOpt); it still works and is
       what we use, because our export has no Q/DQ nodes. Without calibration data int8 is refused.

Nothing here runs without TensorRT and a CUDA GPU; both are checked first and reported as one
clear :class:`EncoderError` (``pip install 'biosig[gpu]'``).
"""
from __future__ import annotations

import dataclasses
import logging
import pathlib

from encoders.data import MAX_WINDOW_SAMPLES
from encoders.errors import EncoderError
from encoders.graph_passes import convert_fp16, quantize_int8, rewrite_frame_convs  # noqa: F401

log = logging.getLogger(__name__)

GPU_INSTALL_HINT = "pip install 'biosig[gpu]'"


def import_tensorrt():
    """Import the tensorrt package or raise an EncoderError saying how to install it."""
    try:
        import tensorrt
    except ImportError:
        raise EncoderError(f"TensorRT is not installed; install it with: {GPU_INSTALL_HINT}") from None
    return tensorrt

PRECISIONS = ("fp32", "fp16", "int8")

#: Longest window (samples at the model's input rate) of an engine's length profile. The encoders have no
#: positional capacity to take it from (sinusoidal positions and windowed attention: any whole number of patches),
#: so it is the longest training window, :data:`encoders.data.MAX_WINDOW_SAMPLES` (2^22: 4.7 h of ECG at 250 Hz,
#: 4.4 min of audio at 16 kHz). A longer --max-length is a typo that went to TensorRT's build, which failed deep
#: inside it or sized its buffers for gigabytes per window.
MAX_PROFILE_SAMPLES = MAX_WINDOW_SAMPLES
#: Largest batch of an engine's profile: that of ``biosig export --batch`` (:data:`encoders.export.MAX_BATCH`,
#: not imported here: encoders.export imports torch).
MAX_PROFILE_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class CompileOptions:
    """Engine build settings; lengths in samples at the model's input rate (None: model window)."""

    precision: str = "fp16"
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32
    min_length: int | None = None
    opt_length: int | None = None
    max_length: int | None = None
    channels: int | None = None
    calibration: str | None = None
    workspace_mb: int = 2048

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise EncoderError(f"precision {self.precision!r} is not supported; use one of {', '.join(PRECISIONS)}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise EncoderError(f"batch profile must satisfy 1 <= min <= opt <= max, got "
                               f"{self.min_batch}/{self.opt_batch}/{self.max_batch}")
        if self.max_batch > MAX_PROFILE_BATCH:
            raise EncoderError(f"--max-batch {self.max_batch:,} is more than an engine takes ({MAX_PROFILE_BATCH:,}, "
                               f"as biosig export --batch); give --max-batch {MAX_PROFILE_BATCH} or less")
        for which, length in (("min", self.min_length), ("opt", self.opt_length), ("max", self.max_length)):
            if length is not None and length < 1:
                raise EncoderError(f"--{which}-length {length}: a length profile counts samples, 1 or more")
            if length is not None and length > MAX_PROFILE_SAMPLES:   # said before TensorRT is imported
                raise EncoderError(f"--{which}-length {length:,} samples is more than an engine profile takes "
                                   f"({MAX_PROFILE_SAMPLES:,}, the longest training window); give --{which}-length "
                                   f"{MAX_PROFILE_SAMPLES} or less")
        if self.precision == "int8" and not self.calibration:
            raise EncoderError("int8 needs calibration data: --calibration windows.npy (N, C, T) float32 "
                               "of representative windows; or use --precision fp16")
        if self.calibration and self.precision != "int8":   # a forgotten --precision int8, most likely
            log.warning("--calibration %s is used by --precision int8 only; this %s build ignores it",
                        self.calibration, self.precision)


@dataclasses.dataclass(frozen=True)
class EngineInfo:
    path: pathlib.Path
    tensorrt_version: str
    profile: dict
    size_bytes: int


def _input_layout(onnx_path: pathlib.Path, opts: CompileOptions):
    """(names of inputs, channels, (min, opt, max) lengths) from the graph and its metadata."""
    from encoders.onnx_metadata import CHANNEL_INPUT, INPUT_NAME, example_length, read_metadata
    import onnx
    proto = onnx.load(str(onnx_path), load_external_data=False)
    names = [i.name for i in proto.graph.input]
    if INPUT_NAME not in names:
        raise EncoderError(f"{onnx_path}: graph input {INPUT_NAME!r} missing (inputs: {names}); "
                           "export it with biosig export")
    meta = read_metadata(onnx_path)
    config = meta.get("model_config") or {}
    dims = proto.graph.input[names.index(INPUT_NAME)].type.tensor_type.shape.dim
    channels = opts.channels or (dims[1].dim_value or None) or int(config.get("in_channels") or 1)
    window = example_length(config) if config else (dims[2].dim_value or None)
    if window is None and None in (opts.min_length, opts.opt_length, opts.max_length):
        raise EncoderError(f"{onnx_path} carries no model config; give --min/--opt/--max-length")
    lengths = (opts.min_length or window, opts.opt_length or window, opts.max_length or window)
    if not lengths[0] <= lengths[1] <= lengths[2]:
        unset = [f"--{k}-length" for k, v in zip(("min", "opt", "max"), (opts.min_length, opts.opt_length,
                                                                         opts.max_length)) if v is None]
        why = f" ({' and '.join(unset)}: the model window, {window} samples)" if unset else ""
        raise EncoderError(f"the length profile must satisfy --min-length <= --opt-length <= --max-length, got "
                           f"{'/'.join(map(str, lengths))}{why}")
    if dims[2].dim_value and lengths != (dims[2].dim_value,) * 3:
        raise EncoderError(f"{onnx_path} has a fixed length of {dims[2].dim_value} samples; "
                           f"the profile asks for {lengths}")
    return names, channels, lengths, CHANNEL_INPUT in names


def _check_gpu():
    try:
        import torch
        ok = torch.cuda.is_available()
    except ImportError:
        ok = False
    if not ok:
        raise EncoderError("biosig compile needs a CUDA GPU; none is visible (TensorRT engines are built "
                           "and run on the GPU they target)")


def load_calibration(path, batch: int, window: tuple[int, int] | None = None):
    """The windows (N, C, T) float32 of the .npy file ``path``, or an :class:`EncoderError` saying what it is
    instead: not an .npy (a CSV, an .npz), not 3-D numbers, fewer than ``batch`` (--opt-batch) windows, a
    NaN, or, with ``window`` (channels, samples of the calibration profile: --opt-length), windows of another
    shape (TensorRT reads each batch as windows of the profile's shape: smaller ones read past the buffer)."""
    import numpy as np
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        why = "not an .npy file: text, or pickled objects?" if "pickled" in why else why   # a CSV read as a pickle
        raise EncoderError(f"--calibration {path}: cannot read an .npy array ({why}); save the windows with "
                           "numpy.save('windows.npy', x), x of shape (N, C, T) float32") from None
    if not isinstance(data, np.ndarray):   # an .npz archive of arrays
        data.close()
        raise EncoderError(f"--calibration {path}: an .npz archive, not one .npy array; save the windows with "
                           "numpy.save('windows.npy', x), x of shape (N, C, T) float32")
    if data.ndim != 3 or len(data) < batch or not np.issubdtype(data.dtype, np.number):
        raise EncoderError(f"--calibration {path}: need windows (N, C, T) of numbers with N >= {batch} "
                           f"(--opt-batch), got {data.dtype} {data.shape}")
    if window is not None and tuple(data.shape[1:]) != tuple(window):
        raise EncoderError(f"--calibration {path}: windows of {data.shape[1]} channel(s) x {data.shape[2]} samples, "
                           f"and the engine is calibrated on {window[0]} x {window[1]} (--channels, --opt-length); "
                           "give windows of that shape, or those options")
    data = data.astype(np.float32)
    if not np.isfinite(data).all():
        raise EncoderError(f"--calibration {path}: {int((~np.isfinite(data)).sum())} NaN or infinite value(s); "
                           "give windows of finite numbers")
    return data


def check_inputs(onnx_path, options: CompileOptions) -> None:
    """User mistakes of a build, said on any machine before TensorRT and the GPU are looked for: an int8
    --calibration that is not an .npy of windows (N, C, T) with N >= --opt-batch, and, for a graph biosig
    export wrote (its model config in the metadata), a length profile it cannot take (inverted, below the
    model's smallest input, other than a fixed-length graph's) or more --channels than a model without
    ``channel_idx`` has channel names."""
    from encoders.config import min_input_samples
    from encoders.onnx_metadata import read_metadata
    if options.calibration and options.precision == "int8":
        load_calibration(options.calibration, options.opt_batch)
    meta = read_metadata(onnx_path)
    config = meta.get("model_config") or {}
    if not config:   # a graph of another tool: its profile is TensorRT's to judge, on the GPU
        return
    _, channels, lengths, with_channels = _input_layout(pathlib.Path(onnx_path), options)
    model = meta.get("model_id") or onnx_path
    if lengths[0] < (need := min_input_samples(config)):
        raise EncoderError(f"--min-length {lengths[0]} is shorter than the smallest input of {model} ({need} "
                           f"samples); give --min-length {need} or more")
    names = config.get("channels") or []
    if names and not with_channels and config.get("modality") not in ("audio", "spiro") and channels > len(names):
        raise EncoderError(f"--channels {channels}: {model} has {len(names)} channel name(s) ({', '.join(names)}) "
                           f"and its graph takes no channel_idx; give --channels {len(names)}"
                           f"{' or fewer' if len(names) > 1 else ''}")


def _calibrator(trt, path: str, batch: int, cache: pathlib.Path, with_channels: bool, window: tuple[int, int]):
    """IInt8EntropyCalibrator2 over the windows of an .npy file (N, C, T) float32 of the shape ``window``."""
    import torch
    data = load_calibration(path, batch, window)

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.i = 0
            self.buf = torch.empty((batch,) + data.shape[1:], dtype=torch.float32, device="cuda")
            self.chan = torch.arange(data.shape[1], dtype=torch.int64, device="cuda")[None].repeat(batch, 1)

        def get_batch_size(self):
            return batch

        def get_batch(self, names):
            if self.i + batch > len(data):
                return None
            self.buf.copy_(torch.from_numpy(data[self.i:self.i + batch]))
            self.i += batch
            return [self.chan.data_ptr() if n == "channel_idx" else self.buf.data_ptr() for n in names]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, blob):
            cache.write_bytes(bytes(blob))

    return Calibrator()


def check_paths(onnx_path, out_path) -> None:
    """:class:`EncoderError` for an ``onnx_path`` that is a folder or missing, or an ``out_path`` that
    is that very file (``--force`` would put the engine over the model it is built from)."""
    onnx_path, out_path = pathlib.Path(onnx_path), pathlib.Path(out_path)
    if onnx_path.is_dir():
        model = onnx_path if (onnx_path / "config.json").is_file() else "MODEL"   # a checkpoint folder
        raise EncoderError(f"{onnx_path} is a folder, not an exported .onnx file; export one with: "
                           f"biosig export {model} --out model.onnx")
    if not onnx_path.is_file():
        raise EncoderError(f"{onnx_path} does not exist; export one with: biosig export MODEL --out model.onnx")
    if out_path.exists() and out_path.resolve() == onnx_path.resolve():
        raise EncoderError(f"--out {out_path} is the ONNX file being compiled; give the engine another name, "
                           f"e.g. {onnx_path.with_suffix('.plan')}")


def compile_engine(onnx_path, out_path, options: CompileOptions = CompileOptions()) -> EngineInfo:
    """Build a TensorRT engine for an exported graph.

    Parameters
    ----------
    onnx_path : path
        ``.onnx`` written by :func:`encoders.export.export_onnx`.
    out_path : path
        Where the serialized engine (``.plan``) goes.
    options : CompileOptions
        Precision and the optimisation profile (batch and length in samples).

    Raises
    ------
    EncoderError
        Missing file, TensorRT or GPU absent, bad profile, or the build failed.
    """
    onnx_path, out_path = pathlib.Path(onnx_path), pathlib.Path(out_path)
    check_paths(onnx_path, out_path)
    trt = import_tensorrt()
    _check_gpu()
    names, channels, lengths, with_channels = _input_layout(onnx_path, options)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EncoderError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    profile = builder.create_optimization_profile()
    shapes = {"x": [(b, channels, t) for b, t in zip((options.min_batch, options.opt_batch, options.max_batch), lengths)]}
    profile.set_shape("x", *shapes["x"])
    if with_channels:
        shapes["channel_idx"] = [(b, channels) for b in (options.min_batch, options.opt_batch, options.max_batch)]
        profile.set_shape("channel_idx", *shapes["channel_idx"])
    config.add_optimization_profile(profile)
    if options.precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if options.precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = _calibrator(trt, options.calibration, options.opt_batch,
                                             out_path.with_suffix(".calib"), with_channels, (channels, lengths[1]))
        config.set_calibration_profile(profile)
    log.info("building TensorRT %s engine for %s, profile %s", options.precision, onnx_path, shapes)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise EncoderError(f"TensorRT failed to build an engine for {onnx_path} (see the TensorRT log)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(bytes(blob))
    return EngineInfo(out_path, trt.__version__, shapes, out_path.stat().st_size)
