"""Names and shapes of an exported graph's interface: the output is called ``embedding`` (see
:data:`encoders.onnx_metadata.OUTPUT_NAME`) and shaped (batch, D); the symbolic input axes are called
``batch``, ``channels`` and ``time`` whatever the exporter named them."""
from __future__ import annotations

from encoders.errors import EncoderError
from encoders.onnx_metadata import OUTPUT_NAME


def rename_value(graph, old: str, new: str):
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        node.output[:] = [new if o == old else o for o in node.output]
    for vi in list(graph.value_info) + list(graph.output) + list(graph.input):
        if vi.name == old:
            vi.name = new


def set_output_dims(proto, dynamic_batch: bool, batch, embed_dim: int):
    """Output ``embedding`` is (batch, D): exporters sometimes leave D symbolic."""
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    if len(dims) != 2:
        raise EncoderError(f"exported output has {len(dims)} axes; expected (batch, dim)")
    if dynamic_batch:
        dims[0].dim_param = "batch"
    else:
        dims[0].dim_value = int(batch)
    dims[1].dim_value = embed_dim


def name_output(proto):
    """Call the graph output ``embedding`` (renaming an internal value of that name first)."""
    graph = proto.graph
    current = graph.output[0].name
    if current == OUTPUT_NAME:
        return
    if any(OUTPUT_NAME in n.output for n in graph.node):
        rename_value(graph, OUTPUT_NAME, OUTPUT_NAME + "_internal")
    rename_value(graph, current, OUTPUT_NAME)


def rename_input_dims(proto) -> tuple[bool, bool]:
    """Name the symbolic input axes ``batch`` and ``time`` everywhere; report which are symbolic."""
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    renames = {}
    for axis, name in enumerate(("batch", "channels", "time")):
        if axis < len(dims) and dims[axis].dim_param:
            renames[dims[axis].dim_param] = name
    for vi in list(proto.graph.input) + list(proto.graph.output) + list(proto.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in renames:
                d.dim_param = renames[d.dim_param]
    return bool(dims[0].dim_param), len(dims) > 2 and bool(dims[2].dim_param)
