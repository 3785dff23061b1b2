"""Probes around an ONNX export: which opsets both the installed onnx and ONNX Runtime accept
(:func:`supported_opsets`: a one-node model per opset), and whether an exported graph agrees with
torch on probe inputs unlike the traced example (:func:`_verify`: other batch sizes, channel counts
and lengths, within :data:`VERIFY_TOL`; a graph that baked a shape in is rejected).

Used by :func:`encoders.export.export_onnx`; :mod:`encoders.export` re-exports every name here.
"""
from __future__ import annotations

import functools
import logging

import numpy as np

from encoders.errors import EncoderError
from encoders.onnx_metadata import CHANNEL_INPUT, INPUT_NAME, example_length

log = logging.getLogger("encoders.export")   # the name its messages had before the split

MIN_OPSET = 18  # the torch.export-based exporter's oldest supported opset


def supported_opsets() -> range:
    """Opsets accepted: 18 (oldest the torch.export-based exporter writes) .. the newest that both
    the installed onnx and onnxruntime (probed with a one-node model) support."""
    import onnx
    high = onnx.defs.onnx_opset_version()
    return range(MIN_OPSET, min(high, _ort_max_opset(high)) + 1)


@functools.lru_cache(maxsize=1)
def _ort_max_opset(high: int) -> int:
    try:
        import onnxruntime as ort
    except ImportError:  # no runtime: only onnx itself limits the opset
        return high
    from onnx import TensorProto, helper
    for opset in range(high, MIN_OPSET - 1, -1):
        vi = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])
        graph = helper.make_graph([helper.make_node("Identity", ["a"], ["b"])], "probe", [vi],
                                  [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
        try:
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # noqa: BLE001 - "opset N is not supported" and friends
            continue
    return MIN_OPSET


VERIFY_TOL = 1e-4


def _verify(proto, model, config, batch, with_channels):
    """ONNX Runtime vs torch on probe inputs unlike the traced example (other B, C and T)."""
    try:
        import onnxruntime as ort
    except ImportError:
        log.warning("onnxruntime is not installed; the exported graph is not verified")
        return
    import torch
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    window = example_length(config)
    channels = int(config.get("in_channels") or 1)
    rng = np.random.default_rng(1)
    probes = ((3, channels, window), (1, channels + 1 if with_channels else channels, window * 3 // 4 + 3))
    for n, c, t in probes:
        n = n if batch == "dynamic" else batch
        x = rng.standard_normal((n, c, t)).astype(np.float32)
        feed = {INPUT_NAME: x}
        idx = None
        if with_channels:
            idx = np.stack([rng.permutation(len(config["channels"]))[:c] for _ in range(n)]).astype(np.int64)
            feed[CHANNEL_INPUT] = idx
        with torch.inference_mode():
            ref = model.embed_forward(torch.from_numpy(x), None if idx is None else torch.from_numpy(idx)).numpy()
        out = session.run(None, feed)[0]
        if out.shape != ref.shape:
            raise EncoderError(f"graph disagrees with torch on input {x.shape}: it gives shape {out.shape} where "
                               f"torch gives {ref.shape}; the exporter baked in a shape")
        diff = float(np.abs(out - ref).max())
        if not diff <= VERIFY_TOL:   # NaN too
            raise EncoderError(f"graph disagrees with torch on input {x.shape}: max abs diff {diff:.2e} (tolerance "
                               f"{VERIFY_TOL}); the graph does not compute what the model does (an operator "
                               "exported or run otherwise, or a shape baked in)")
