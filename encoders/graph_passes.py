"""ONNX graph passes applied by :func:`encoders.export.export_onnx`: float16 conversion, int8
dynamic quantization and the framing-convolution rewrite. Pure ``onnx`` / ``onnxruntime`` graph
surgery; imports nothing else of ``encoders`` but the errors, so ``export`` (which writes graphs),
``compile`` (which builds engines) and ``backends`` (which runs them) all sit above it.
"""
from __future__ import annotations

import contextlib
import logging

from encoders.errors import EncoderError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet(*names, level=logging.WARNING):
    """Raise the level of the named loggers for the duration of the block."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, levels):
            lg.setLevel(old)


# ---------------------------------------------------------------------------------------------
def quantize_int8(proto, out_path):
    """Dynamic int8 quantization of the MatMul weights (onnxruntime.quantization).

    The front end (convolutions, STFT basis) and normalisations stay float32; only MatMul becomes
    DynamicQuantizeLinear + MatMulInteger. On the 2-core CPU this runs ecg-small at batch 32 about
    1.7x faster than the fp32 graph (both fp32 engines sit near the matmul roofline); embeddings
    move by up to ~3e-2 absolute (cosine similarity > 0.9999), see tests/test_export.py.
    """
    import onnx
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise EncoderError("int8 export needs onnxruntime (pip install onnxruntime)") from None
    tmp_in = out_path.with_suffix(".fp32.tmp.onnx")
    tmp_out = out_path.with_suffix(".int8.tmp.onnx")
    try:
        onnx.save(proto, str(tmp_in))
        with quiet("root", level=logging.ERROR):   # its "consider pre-processing" advice is a WARNING
            quantize_dynamic(str(tmp_in), str(tmp_out), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"])
        return onnx.load(str(tmp_out))
    finally:
        for tmp in (tmp_in, tmp_out):
            tmp.unlink(missing_ok=True)


# fp16 conversion with the onnx API (onnxconverter-common is not a dependency).

_FLOAT, _FLOAT16 = 1, 10
# Ops whose float inputs/outputs are not plain activations: left in float32 wherever they occur.
_FP32_OPS = {"STFT", "DFT", "Range", "RandomNormal", "RandomUniform", "RandomNormalLike",
             "RandomUniformLike", "Multinomial", "Resize", "NonMaxSuppression", "TopK"}


def convert_fp16(proto, *, param_names=frozenset()):
    """Convert the learned part of a float32 graph to float16, in place and returned.

    A node runs in float16 when one of its inputs depends (transitively) on a learned parameter
    (an initializer named in ``param_names``); the rest, i.e. the input preprocessing, stays
    float32. Float initializers used only by float16 nodes are stored as float16; Cast nodes are
    inserted at every boundary, so the graph input ``x`` and output ``embedding`` stay float32.
    Graphs with control-flow subgraphs (If/Loop/Scan) are refused.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper
    graph = proto.graph
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        raise EncoderError("fp16 export does not support graphs with control flow (If/Loop/Scan); use fp32")
    proto = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    graph = proto.graph
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in
            list(graph.input) + list(graph.output) + list(graph.value_info)}
    inits = {t.name: t for t in graph.initializer}
    for t in graph.initializer:
        elem[t.name] = t.data_type
    matched = {n for n in inits if n in param_names or n.split(".", 1)[-1] in param_names}
    if not matched:
        raise EncoderError("fp16 export found no learned parameter in the graph; nothing to convert")
    tainted = set(matched)
    half_nodes = []
    for node in graph.node:  # exported graphs are topologically sorted
        if node.op_type not in _FP32_OPS and any(i in tainted for i in node.input if i):
            half_nodes.append(node)
            tainted.update(o for o in node.output if o)
    half_ids = {id(n) for n in half_nodes}
    consumers_fp32 = {i for n in graph.node if id(n) not in half_ids for i in n.input}
    consumers_fp32.update(o.name for o in graph.output)
    # Initializers: float ones read only by half nodes become float16.
    for name, t in inits.items():
        if t.data_type == _FLOAT and name not in consumers_fp32:
            arr = numpy_helper.to_array(t).astype(np.float16)
            t.CopyFrom(numpy_helper.from_array(arr, name))
            elem[name] = _FLOAT16
    new_nodes, casted = [], {}

    def cast(name, to, suffix):
        key = (name, to)
        if key not in casted:
            out = f"{name}__{suffix}"
            new_nodes.append(helper.make_node("Cast", [name], [out], to=to, name=f"cast_{suffix}_{len(casted)}"))
            casted[key] = out
        return casted[key]

    half_outputs = set()
    for node in graph.node:
        if id(node) in half_ids:
            for k, i in enumerate(node.input):
                if i and elem.get(i) == _FLOAT and i not in half_outputs:
                    node.input[k] = cast(i, _FLOAT16, "fp16")
            for a in node.attribute:
                if node.op_type == "Cast" and a.name == "to" and a.i == _FLOAT:
                    a.i = _FLOAT16
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR and a.t.data_type == _FLOAT:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
            for o in node.output:
                if elem.get(o) == _FLOAT:
                    half_outputs.add(o)
        else:
            for k, i in enumerate(node.input):
                if i in half_outputs:
                    node.input[k] = cast(i, _FLOAT, "fp32")
        new_nodes.append(node)
    outputs = {o.name for o in graph.output} & half_outputs
    for node in new_nodes:  # graph outputs produced in fp16: rename, then cast back to float32
        for j, o in enumerate(node.output):
            if o in outputs:
                node.output[j] = f"{o}__fp16"
        for j, i in enumerate(node.input):
            if i in outputs:
                node.input[j] = f"{i}__fp16"
    new_nodes.extend(helper.make_node("Cast", [f"{o}__fp16"], [o], to=_FLOAT, name=f"cast_out_{o}")
                     for o in sorted(outputs))
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.value_info[:]  # stale float32 annotations; onnx.checker re-infers them
    return proto


# ---------------------------------------------------------------------------------------------
# Graph optimisation: framing convolutions as MatMul.

def rewrite_frame_convs(proto) -> int:
    """Replace 1-channel strided Conv with 50 % overlap (an STFT as a convolution with a DFT
    basis: kernel L, stride L/2, no padding/dilation/groups) by framing + MatMul, in place.

    ONNX Runtime's Conv runs this shape (1 input channel, 1024-tap kernel, 1026 outputs) at about
    40 % of its MatMul speed on CPU; the audio front end spent 75 % of its time there. The
    rewrite: reshape the signal into hops (B, n, L/2), concatenate neighbouring hops into frames
    (B, n - 1, L), MatMul with the transposed kernel (L, K), add the bias, transpose to (B, K, F).
    Identical numbers up to float summation order (checked by export verification).

    Returns
    -------
    int : number of Conv nodes rewritten.
    """
    import numpy as np
    from onnx import helper, numpy_helper
    graph = proto.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    new_nodes, count = [], 0
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        w = consts.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        ok = (w is not None and w.ndim == 3 and w.shape[1] == 1 and w.shape[2] % 2 == 0
              and list(attrs.get("strides", [1])) == [w.shape[2] // 2]
              and not any(attrs.get("pads", [0, 0])) and list(attrs.get("dilations", [1])) == [1]
              and attrs.get("group", 1) == 1 and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))
        if not ok:
            new_nodes.append(node)
            continue
        count += 1
        k, length = w.shape[0], w.shape[2]
        hop = length // 2
        p = f"{node.name or 'conv'}_as_matmul{count}"
        weight = numpy_helper.from_array(np.ascontiguousarray(w[:, 0, :].T.astype(w.dtype)), f"{p}_weight")  # (L, K)
        graph.initializer.append(weight)

        def c(name, values, p=p):  # an int64 constant initializer, returns its name
            graph.initializer.append(numpy_helper.from_array(np.asarray(values, np.int64), f"{p}_{name}"))
            return f"{p}_{name}"

        x = node.input[0]
        nodes = [
            helper.make_node("Shape", [x], [f"{p}_shape"], start=2, end=3),            # (1,) = [T]
            helper.make_node("Div", [f"{p}_shape", c("hop", [hop])], [f"{p}_n"]),       # n = T // hop
            helper.make_node("Mul", [f"{p}_n", c("hop2", [hop])], [f"{p}_used"]),      # n * hop
            helper.make_node("Slice", [x, c("zero", [0]), f"{p}_used", c("axis2", [2])], [f"{p}_cut"]),
            helper.make_node("Reshape", [f"{p}_cut", c("hops_shape", [0, -1, hop])], [f"{p}_hops"]),  # (B, n, hop)
            helper.make_node("Slice", [f"{p}_hops", c("s0", [0]), c("e0", [-1]), c("ax1", [1])], [f"{p}_first"]),
            helper.make_node("Slice", [f"{p}_hops", c("s1", [1]), c("e1", [np.iinfo(np.int64).max]), c("ax1b", [1])],
                             [f"{p}_second"]),
            helper.make_node("Concat", [f"{p}_first", f"{p}_second"], [f"{p}_frames"], axis=2),  # (B, F, L)
            helper.make_node("MatMul", [f"{p}_frames", weight.name], [f"{p}_mm"]),             # (B, F, K)
        ]
        last = f"{p}_mm"
        if len(node.input) > 2 and node.input[2]:
            nodes.append(helper.make_node("Add", [last, node.input[2]], [f"{p}_biased"]))
            last = f"{p}_biased"
        nodes.append(helper.make_node("Transpose", [last], [node.output[0]], perm=[0, 2, 1]))  # (B, K, F)
        new_nodes.extend(nodes)
        log.debug("rewrote Conv %s (%d taps, hop %d, %d outputs) as framing + MatMul", node.name, length, hop, k)
    if count:
        used = {i for n in new_nodes for i in n.input} | {o.name for o in graph.output}
        new_nodes = [n for n in new_nodes if not (n.op_type == "Constant" and n.output[0] not in used)]
        del graph.node[:]
        graph.node.extend(new_nodes)
    return count
