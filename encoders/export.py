"""ONNX export of an encoder with the in-model preprocessing inside the graph.

The exported graph takes raw windows ``x`` float32 (B, C, T) at the model's input rate, i.e. after
the out-of-graph part of the preprocessing pipeline (filters, resampling), and returns
``embedding`` float32 (B, D). Models with a channel vocabulary (ECG: any lead subset) take a second
input ``channel_idx`` int64 (B, C), the vocabulary positions of the C channels of each window.
Batch, channel and length axes are symbolic (``batch``, ``channels``, ``time``). Everything the
model does itself (normalisation, the log-mel front
end for audio) is inside the graph. The rest of the pipeline travels in the ONNX metadata so that
a runtime without torch can rebuild it::

    biosig.version            version of the package that wrote the file
    biosig.model_id           the encoder's id (name + weights hash where known)
    biosig.model_config       JSON of ``model.config.to_dict()``
    biosig.pipeline           JSON of the full preprocessing pipeline
    biosig.pipeline_hash      its hash
    biosig.pipeline_outside   JSON of the out-of-graph part (apply before ``x``)
    biosig.pipeline_outside_hash
    biosig.pipeline_in_model  JSON of the part that is inside the graph
    biosig.input              JSON {name, layout, channels, fs_hz, window_s, batch, length}
    biosig.precision, biosig.opset, biosig.exporter

Exporter choice (torch 2.13, measured on the shipped models): both exporters give graphs that
match torch within 1e-5 at every batch size and length, and ONNX Runtime runs them equally fast
(ecg-tiny, batch 32: 0.40 s vs 0.41 s; 2169 vs 432 nodes before ORT's own optimisation).
The TorchScript exporter (``dynamo=False``, deprecated upstream but present) traces a model in a
few seconds; the torch.export-based one (``dynamo=True``) spends 20-60 s on symbolic-shape
reasoning for the dynamic length axis of the windowed attention on this 2-core machine. So
``exporter="auto"`` tries TorchScript first and falls back to torch.export (which also handles
complex ``torch.stft``, the TorchScript exporter does not). A traced graph can silently bake a
shape in; every export is therefore verified against torch on probe inputs with other batch
sizes, channel counts and lengths than the traced example (``verify=True``), and a graph that
disagrees is rejected (``auto`` then uses the next exporter). One graph rewrite is applied before
verification: the audio STFT, written as a strided convolution with a DFT basis, becomes framing +
MatMul (:func:`encoders.graph_passes.rewrite_frame_convs`), which ONNX Runtime runs faster.

fp16: the weights and the network run in float16 while the graph input and output stay float32
and the in-model preprocessing (the part that depends on no learned parameter: z-scoring, the
power spectrum and log-mel) stays in float32, where float16 would overflow (|STFT|^2 of a
full-scale 1024-point frame reaches 2.6e5 > 65504). Parity tolerance for fp16 is 2e-2 absolute on
unit-scale embeddings (see tests/test_export.py); fp32 parity is 1e-4.

int8 (CPU): ONNX Runtime dynamic quantization of the MatMul weights; the test's tolerance is 1e-1
absolute with cosine similarity > 0.999 on a tiny random model (measured 3e-2 / 0.99996 on
ecg-small); on the 8528 CinC 2017 records, ecg-tiny int8 vs fp32 differ by up to 0.35 with cosine
>= 0.993, and the linear probe's AUROC is unchanged (0.955). The audio STFT basis stays float32
(quantized before the framing rewrite): audio-tiny on 15 coughs 0.03 / 0.9998 (1.9 / 0.83 when it
was quantized too, tests/test_export_int8_front_end.py). ``precision`` is in the graph's
metadata and in an embeddings file's provenance.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import pathlib
import warnings

import numpy as np

import biosig
from encoders.checkpoint import training_steps, unfinished_run
from encoders.errors import EncoderError
from encoders.export_probes import MIN_OPSET, VERIFY_TOL, _ort_max_opset, _verify, supported_opsets  # noqa: F401 (re-exported)
from encoders.graph_names import name_output, rename_input_dims, set_output_dims
from encoders.graph_passes import convert_fp16, quantize_int8, quiet, rewrite_frame_convs
from encoders.onnx_metadata import (CHANNEL_INPUT, INPUT_NAME, META_PREFIX, OUTPUT_NAME, build_metadata,  # noqa: F401
                                    config_dict, decode_metadata, example_length, read_metadata,
                                    uses_channel_input)

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")
MAX_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The ``.onnx`` file (weights embedded, no external data).
    opset : int
        Default-domain opset of the graph.
    exporter : str
        ``"dynamo"`` (torch.export based) or ``"torchscript"`` (legacy fallback).
    dynamic_batch, dynamic_length : bool
        Whether the batch (axis 0) and length (axis 2) of ``x`` are symbolic in the graph.
    metadata : dict
        The ``biosig.*`` metadata_props written into the file.
    """

    path: pathlib.Path
    opset: int
    exporter: str
    dynamic_batch: bool
    dynamic_length: bool
    metadata: dict


def _resolve(model_or_encoder):
    """Return (module, encoder_or_None) from a name, a directory, an Encoder or an nn.Module."""
    if isinstance(model_or_encoder, (str, pathlib.Path)):
        import encoders
        return _resolve(encoders.load(model_or_encoder))
    inner = getattr(model_or_encoder, "model", None)
    if inner is not None and hasattr(inner, "embed_forward"):
        return inner, model_or_encoder
    if hasattr(model_or_encoder, "embed_forward") and hasattr(model_or_encoder, "config"):
        return model_or_encoder, None
    raise EncoderError(
        f"cannot export {type(model_or_encoder).__name__}: expected a model name or checkpoint "
        "directory, an encoders.Encoder, or an nn.Module with .config and .embed_forward(x)")


def _wrap(model, with_channels: bool):
    """The nn.Module whose forward is ``model.embed_forward`` (torch imported lazily)."""
    import torch

    class EmbedGraph(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.model = inner

        def forward(self, x, channel_idx=None):  # x (B, C, T) float32, channel_idx (B, C) int64
            return self.model.embed_forward(x, channel_idx)  # (B, D) float32

    class EmbedGraphX(EmbedGraph):
        def forward(self, x):  # x (B, C, T) float32 -> (B, D) float32
            return self.model.embed_forward(x)

    return (EmbedGraph if with_channels else EmbedGraphX)(model).eval()


def _export_dynamo(wrapped, args, path, opset, batch):
    import torch
    from torch.export import Dim
    batch_dim = Dim.STATIC if batch != "dynamic" else Dim("batch", min=1, max=MAX_BATCH)
    shapes = {"x": {0: batch_dim, 1: Dim.AUTO, 2: Dim.AUTO}}
    names = [INPUT_NAME]
    if len(args) > 1:
        shapes[CHANNEL_INPUT] = {0: batch_dim, 1: Dim.AUTO}
        names.append(CHANNEL_INPUT)
    # The exporter prints progress lines to stdout and chats at INFO level; a library must not.
    # Output names are set afterwards (name_output): an internal value may already be called
    # "embedding" (the nn.Embedding gather), which the exporter would duplicate.
    # "torchvision is not installed" notes from the op registry are noise here.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), quiet("onnxscript", "onnx_ir"), \
            quiet("torch.onnx", level=logging.ERROR):
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, args, str(path), dynamo=True, verbose=False, opset_version=opset,
                          input_names=names, dynamic_shapes=shapes, external_data=False, optimize=True)


def _export_torchscript(wrapped, args, path, opset, batch):
    import torch
    axes = {INPUT_NAME: {1: "channels", 2: "time"}}
    if batch == "dynamic":
        axes[INPUT_NAME][0] = "batch"
    names = [INPUT_NAME]
    if len(args) > 1:
        axes[CHANNEL_INPUT] = {0: "batch", 1: "channels"} if batch == "dynamic" else {1: "channels"}
        names.append(CHANNEL_INPUT)
    axes[_TMP_OUTPUT] = {0: "batch"} if batch == "dynamic" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, args, str(path), dynamo=False, opset_version=opset,
                          input_names=names, output_names=[_TMP_OUTPUT], dynamic_axes=axes)


_TMP_OUTPUT = "biosig_embedding_out"  # renamed to OUTPUT_NAME by name_output
EXPORTER_ORDER = {"auto": ("torchscript", "dynamo"), "torchscript": ("torchscript",), "dynamo": ("dynamo",)}
TORCHSCRIPT_MAX_OPSET = 20


def _export_once(exporter, wrapped, example, path, opset, batch):
    """Run one exporter into ``path`` and return the loaded proto with the output named."""
    import onnx
    if exporter == "torchscript":
        if opset is not None and opset > TORCHSCRIPT_MAX_OPSET:
            raise EncoderError(f"the TorchScript exporter writes opsets up to {TORCHSCRIPT_MAX_OPSET}")
        _export_torchscript(wrapped, example, path, opset or MIN_OPSET, batch)
    else:
        _export_dynamo(wrapped, example, path, opset, batch)
    proto = onnx.load(str(path))
    name_output(proto)
    return proto


def export_onnx(model_or_encoder, out_path, *, opset: int | None = None, batch="dynamic",
                precision: str = "fp32", exporter: str = "auto", verify: bool = True,
                on_stage=None) -> ExportResult:
    """Export an encoder to ONNX with its in-model preprocessing inside the graph.

    Parameters
    ----------
    model_or_encoder : str, path, encoders.Encoder or nn.Module
        A registered model name / checkpoint directory (loaded with ``encoders.load``), a loaded
        Encoder, or a module with ``.config`` and ``.embed_forward(x)``.
    out_path : str or path
        Where to write the ``.onnx`` file (parent directories are created).
    opset : int, optional
        Default-domain opset; ``None`` uses the exporter's recommended one. See
        :func:`supported_opsets`.
    batch : "dynamic" or int
        ``"dynamic"`` gives a symbolic batch axis (1..4096); an int K fixes it to K.
    precision : {"fp32", "fp16", "int8"}
        fp16 stores weights and runs the network in float16 (for GPUs); int8 quantizes the MatMul
        weights to int8 with ONNX Runtime's dynamic quantization (activations quantized per call;
        for CPUs). Input and output stay float32.
    exporter : {"auto", "torchscript", "dynamo"}
        ``auto`` tries the TorchScript exporter, then the torch.export-based one (see the module
        docstring for why); the others use only the one named.
    verify : bool
        Run the fp32 graph with ONNX Runtime on two probe batches of other sizes and lengths than
        the traced example and require max |torch - onnxruntime| <= 1e-4; a graph that baked a
        shape in is rejected (and ``auto`` moves on to the next exporter).
    on_stage : callable, optional
        Called with a short text as each stage begins ("tracing with the TorchScript exporter", "checking ONNX
        Runtime vs torch", ...): an export takes 10-20 s on a CPU and the CLI says where it is
        (:class:`biosig.progress.Stages`); the library itself prints nothing.

    Returns
    -------
    ExportResult

    Raises
    ------
    EncoderError
        Unsupported model, bad opset/batch/precision, or the model cannot be traced.
    """
    if precision not in PRECISIONS:
        raise EncoderError(f"precision {precision!r} is not supported; use one of {', '.join(PRECISIONS)}")
    if exporter not in EXPORTER_ORDER:
        raise EncoderError(f"exporter {exporter!r} is not supported; use one of {', '.join(EXPORTER_ORDER)}")
    if batch != "dynamic":
        if isinstance(batch, (bool, np.bool_)) or not isinstance(batch, (int, np.integer)):
            raise EncoderError(f"batch {batch!r} is not supported; use 'dynamic' or a positive integer")
        if batch < 1 or batch > MAX_BATCH:
            raise EncoderError(f"batch {batch} is out of range; use 'dynamic' or 1..{MAX_BATCH}")
        batch = int(batch)
    accepted = supported_opsets()
    if opset is not None and (isinstance(opset, (bool, np.bool_)) or not isinstance(opset, (int, np.integer))
                              or opset not in accepted):
        raise EncoderError(f"opset {opset!r} is not supported; use {accepted.start}..{accepted.stop - 1}")
    if isinstance(out_path, os.PathLike):
        out_path = os.fspath(out_path)
    if not isinstance(out_path, str) or not out_path or "\0" in out_path:
        raise EncoderError(f"out_path={out_path!r} must be a file path (a str or os.PathLike)")
    if pathlib.Path(out_path).is_dir():
        raise EncoderError(f"{out_path} is a folder; give the .onnx file to write, e.g. {pathlib.Path(out_path) / 'model.onnx'}")
    model, encoder = _resolve(model_or_encoder)
    config = config_dict(model)
    if unfinished := unfinished_run(   # a run stopped early: said first (metadata: biosig.training)
            getattr(encoder, "meta", None) or {}):
        log.warning(unfinished)
    out_path = pathlib.Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # everything is written to a temporary file renamed over --out at the end: an export that fails
    # or is interrupted leaves neither half a graph nor an unverified one without its metadata there
    # (which the next run would refuse to replace, and --force would have put over a good file)
    tmp_path = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp.onnx")
    try:
        return _export_to(model, encoder, config, out_path, tmp_path, opset, batch, precision, exporter, verify,
                          on_stage or (lambda text: None))
    finally:
        tmp_path.unlink(missing_ok=True)


EXPORTER_NAMES = {"torchscript": "the TorchScript exporter", "dynamo": "torch.export"}


def _export_to(model, encoder, config, out_path, tmp_path, opset, batch, precision, exporter, verify, on_stage):
    """The body of :func:`export_onnx`: the graph goes through ``tmp_path`` to ``out_path``; ``on_stage(text)``
    as each stage begins."""
    import onnx
    import torch
    length = example_length(config)
    channels = int(config.get("in_channels") or 1)
    was_training = model.training
    model.eval()
    with_channels = uses_channel_input(config)
    wrapped = _wrap(model, with_channels)
    example = (torch.randn(2 if batch == "dynamic" else batch, channels, length,
                           generator=torch.Generator().manual_seed(0)),)
    if with_channels:  # 2 channels so that the channel axis is traced as a variable
        n_batch, n_chan = example[0].shape[0], max(channels, 2)
        example = (torch.randn(n_batch, n_chan, length),
                   torch.arange(n_chan)[None].repeat(n_batch, 1))  # (B, C) int64
    with torch.inference_mode():
        embed_dim = int(wrapped(*example).shape[-1])
    failures = []
    try:
        for exporter in EXPORTER_ORDER[exporter]:
            try:
                on_stage(f"tracing with {EXPORTER_NAMES[exporter]}"
                         + (f" (after {failures[-1]})" if failures else ""))
                proto = _export_once(exporter, wrapped, example, tmp_path, opset, batch)
                dyn_batch, dyn_length = rename_input_dims(proto)
                set_output_dims(proto, dyn_batch, batch, embed_dim)
                on_stage("graph passes")
                if precision == "int8":   # quantized before the rewrite: see below
                    unrewritten = onnx.ModelProto()
                    unrewritten.CopyFrom(proto)
                rewritten = rewrite_frame_convs(proto)  # STFT-as-Conv -> framing + MatMul (faster on ORT)
                if rewritten:
                    log.info("rewrote %d framing convolution(s) as MatMul", rewritten)
                if batch == "dynamic" and not dyn_batch:
                    raise EncoderError("the exported graph fixed the batch axis")
                if verify:
                    on_stage("checking ONNX Runtime vs torch on probe batches")
                    _verify(proto, model, config, batch, with_channels)
                break
            except Exception as exc:  # noqa: BLE001 - exporters raise many types; try the next one
                first = str(exc).splitlines()[0] if str(exc) else ""
                failures.append(f"{exporter}: {type(exc).__name__}: {first}")
                log.info("ONNX export with the %s exporter failed: %s", exporter, failures[-1])
        else:
            raise EncoderError(f"cannot export {config.get('name', type(model).__name__)} to ONNX ("
                               + "; ".join(failures) + ")")
    finally:
        model.train(was_training)
    if precision == "fp16":
        on_stage("converting to fp16")
        params = {name for name, _ in wrapped.named_parameters()}
        proto = convert_fp16(proto, param_names=params)
    elif precision == "int8":
        on_stage("quantizing to int8")
        # the framing MatMul of the rewrite holds the STFT's DFT basis, preprocessing that int8 would
        # quantize like a weight (audio-tiny on coughs: max |int8 - fp32| 1.9, cosine 0.83); quantize
        # the graph with the STFT still a Conv (which stays float32), then rewrite it (0.03, 0.9998)
        proto = quantize_int8(unrewritten, out_path)
        rewrite_frame_convs(proto)
    graph_opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    meta = build_metadata(model, encoder, config, precision, graph_opset, exporter,
                     "dynamic" if dyn_batch else batch, "dynamic" if dyn_length else length)
    if (trained := training_steps(   # {"step": k, "steps": n}: k < n is a run stopped early
            getattr(encoder, "meta", None) or {})) is not None:
        meta[META_PREFIX + "training"] = json.dumps(trained)
    keep = [p for p in proto.metadata_props if not p.key.startswith(META_PREFIX)]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "biosig"
    proto.producer_version = biosig.__version__
    on_stage("checking and writing the graph")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise EncoderError(f"exported graph fails onnx.checker: {str(exc).splitlines()[0]}") from exc
    onnx.save(proto, str(tmp_path))
    os.replace(tmp_path, out_path)
    log.info("exported %s to %s (opset %d, %s exporter, batch %s, length %s, %s)", meta[META_PREFIX + "model_id"],
             out_path, graph_opset, exporter, "dynamic" if dyn_batch else batch,
             "dynamic" if dyn_length else length, precision)
    return ExportResult(out_path, graph_opset, exporter, dyn_batch, dyn_length, meta)
