"""``biosig export`` (model -> ONNX) and ``biosig compile`` (ONNX -> TensorRT engine).

torch, onnx and tensorrt are imported inside the handlers so ``biosig --help`` stays fast.
"""
from __future__ import annotations

import logging
import pathlib

from biosig.cli._common import int_in_range, positive_int
from biosig.errors import BiosigError

log = logging.getLogger(__name__)

PRECISIONS_EXPORT = ("fp32", "fp16", "int8")
PRECISIONS_COMPILE = ("fp32", "fp16", "int8")


def _batch(value: str):
    if value == "dynamic":
        return value
    return int_in_range(value, 1, expected="'dynamic' or a positive integer")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="export an encoder to ONNX (in-model preprocessing inside the graph)",
        description="Export an encoder to ONNX. The graph input x is float32 (batch, channels, "
                    "samples) of raw windows at the model's input rate after the out-of-graph "
                    "pipeline; ECG graphs also take channel_idx int64 (batch, channels): each "
                    "window's channels as positions in the model's channel vocabulary. The output "
                    "embedding is float32 (batch, dim). The pipeline JSON and hash, the model "
                    "config, the model id, the biosig version and, for a trained checkpoint, the "
                    "step it reached of its --steps are stored as ONNX metadata (a run stopped early is "
                    "exported with a warning).")
    p.add_argument("model", nargs="?", help="shipped model name (e.g. ecg-tiny) or checkpoint directory")
    p.add_argument("--model", dest="model_option", metavar="NAME|DIR",
                   help="the same, as embed/score/serve take it (give one of the two; there is no default model)")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--force", action="store_true", help="replace an existing output file (default: refuse)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's recommended one)")
    p.add_argument("--batch", type=_batch, default="dynamic",
                   help="'dynamic' (default) or a fixed batch size K (embed, score and serve then run windows "
                        "in batches of K, the last one padded)")
    p.add_argument("--precision", choices=PRECISIONS_EXPORT, default="fp32",
                   help="fp16: float16 weights and network (GPU); int8: dynamically quantized MatMuls "
                        "(CPU, ~1.7x faster; embeddings differ from fp32 by up to ~0.4 (cosine >= 0.99) on real "
                        "records, the linear-probe AUROC unchanged on CinC 2017); input/output stay float32 "
                        "(default fp32)")
    p.add_argument("--random-init", action="store_true",
                   help="export the named architecture with random weights (e.g. ecg-small for benchmarks; "
                        "default: its trained weights)")
    p.set_defaults(handler=run_export)

    c = subparsers.add_parser(
        "compile", help="build a TensorRT engine (.plan) from an exported ONNX file (needs a GPU)",
        description="Build a native TensorRT engine with an optimisation profile over batch and "
                    "length. Needs TensorRT (pip install 'biosig[gpu]') and a CUDA GPU. int8 needs "
                    "--calibration: an .npy of representative windows (N, C, T) float32.")
    c.add_argument("onnx", help="exported .onnx file (from biosig export)")
    c.add_argument("--out", required=True, help="output .plan engine")
    c.add_argument("--force", action="store_true", help="replace an existing output file (default: refuse)")
    c.add_argument("--precision", choices=PRECISIONS_COMPILE, default="fp16",
                   help="engine precision: fp32, fp16 (default) or int8 (needs --calibration)")
    c.add_argument("--min-batch", type=positive_int, default=1, help="smallest batch of the profile (default 1)")
    c.add_argument("--opt-batch", type=positive_int, default=8,
                   help="batch the engine is tuned for (default 8)")
    c.add_argument("--max-batch", type=positive_int, default=32,
                   help="largest batch of the profile, at most 4096 (default 32)")
    c.add_argument("--min-length", type=positive_int, default=None, help="samples (default: the model window)")
    c.add_argument("--opt-length", type=positive_int, default=None, help="samples (default: the model window)")
    c.add_argument("--max-length", type=positive_int, default=None,
                   help="samples, at most 4194304 (2^22, the longest training window; default: the model window)")
    c.add_argument("--channels", type=positive_int, default=None, help="channels of the engine input (default: the model's)")
    c.add_argument("--calibration", default=None,
                   help="int8 only: .npy of windows (N, C, T) float32 (default: none; --precision int8 needs one)")
    c.add_argument("--workspace-mb", type=positive_int, default=2048, help="builder workspace limit in MiB (default 2048)")
    c.set_defaults(handler=run_compile)


def run_export(args) -> int:
    from biosig.outputs import check_output_file
    if not str(args.out).strip():   # it read as "--out .: expected a file name ending in .onnx"
        raise BiosigError("--out: an empty path (an unset shell variable?); give a file name ending in .onnx")
    if args.out and not str(args.out).endswith(".onnx"):   # lower case: embed reads X.ONNX's metadata at X.onnx
        raise BiosigError(f"--out {args.out!r} should end in .onnx (e.g. {pathlib.Path(args.out).stem or 'model'}"
                          ".onnx)")
    check_output_file(args.out, "--out", (".onnx",), replace=args.force)
    if args.model and args.model_option and args.model != args.model_option:
        raise BiosigError(f"two models given: {args.model!r} and --model {args.model_option!r}; give one")
    if not (args.model or args.model_option):
        raise BiosigError("no model: give a shipped name or checkpoint directory (biosig export ecg-tiny --out ecg.onnx)")
    from biosig.progress import Stages
    name = args.model or args.model_option
    # each stage said as it starts, and a line every BIOSIG_PROGRESS_S while one goes on: an export took 12-17 s
    # (torch's import, tracing, the ONNX Runtime parity check) with nothing on the screen
    with Stages(f"exporting {pathlib.Path(name).name or name}") as stages:
        stages.start("loading torch and the model", say=False)   # said if slow: a damaged file stays one line
        import encoders   # torch: imported once the arguments are known to be right (a mistake is said at once)
        from encoders.export import export_onnx
        source = encoders.load(name, pretrained=not args.random_init)
        result = export_onnx(source, args.out, opset=args.opset, batch=args.batch, precision=args.precision,
                             on_stage=stages.start)
    meta = result.metadata
    print(f"wrote {result.path}: {meta['biosig.model_id']}, opset {result.opset}, {args.precision}, "
          f"batch {'dynamic' if result.dynamic_batch else args.batch}, "
          f"length {'dynamic' if result.dynamic_length else 'fixed'}, "
          f"pipeline {meta.get('biosig.pipeline_hash', 'none')}")
    return 0


def _compile_environment_problem() -> str | None:
    """The one line saying what this machine lacks for ``biosig compile`` (TensorRT, a CUDA GPU), or None."""
    import importlib.util
    from encoders.compile import GPU_INSTALL_HINT
    lacks = []
    if importlib.util.find_spec("tensorrt") is None:
        lacks.append(f"TensorRT is not installed; install it with: {GPU_INSTALL_HINT}")
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if not cuda:
        lacks.append("no CUDA GPU is visible (torch sees none)")
    if not lacks:
        return None
    return ("biosig compile needs a CUDA GPU and TensorRT (an engine is built on the GPU it runs on): "
            + "; and ".join(lacks) + ". Without them, embed runs the .onnx itself (--backend onnxruntime)")


def _check_has_graph(path) -> None:
    """An empty file (an export that never ran, a failed copy) parses as an ONNX model without a graph:
    on a CPU machine it was reported as lacking a GPU, on a GPU it went to TensorRT's parser."""
    import onnx
    graph = onnx.load(str(path), load_external_data=False).graph
    if not graph.node or not graph.output:
        size = pathlib.Path(path).stat().st_size
        raise BiosigError(f"{path}: an ONNX file without a graph ({size} bytes: empty or cut short?); export the "
                          "model again with: biosig export MODEL --out model.onnx")


def _check_compile_inputs(args) -> None:
    """User mistakes found before TensorRT is looked for, so a CPU machine reports them too."""
    from encoders.compile import check_paths
    from encoders.onnx_metadata import read_metadata
    check_paths(args.onnx, args.out)   # a folder, a missing file, --out over the model itself: said first
    if pathlib.Path(args.out).suffix.lower() != ".plan":   # embed, score and serve find engines by .plan
        raise BiosigError(f"--out {args.out}: expected a .plan engine file name, e.g. "
                          f"{pathlib.Path(args.onnx).with_suffix('.plan').name}")
    read_metadata(args.onnx)   # not an ONNX file: one line (a graph of another tool may be compiled)
    _check_has_graph(args.onnx)
    if args.calibration and not pathlib.Path(args.calibration).is_file():
        raise BiosigError(f"--calibration {args.calibration} does not exist (an .npy of windows (N, C, T) float32)")
    lengths = [v for v in (args.min_length, args.opt_length, args.max_length) if v is not None]
    if lengths != sorted(lengths):
        raise BiosigError(f"the length profile must satisfy --min-length <= --opt-length <= --max-length, "
                          f"got {args.min_length}/{args.opt_length}/{args.max_length}")


def run_compile(args) -> int:
    from encoders.compile import CompileOptions, check_inputs, compile_engine
    if not args.force and pathlib.Path(args.out).exists():   # before TensorRT builds for minutes
        raise BiosigError(f"--out {args.out}: already exists; give --force to replace it, or another name")
    _check_compile_inputs(args)
    opts = CompileOptions(precision=args.precision, min_batch=args.min_batch, opt_batch=args.opt_batch,
                          max_batch=args.max_batch, min_length=args.min_length, opt_length=args.opt_length,
                          max_length=args.max_length, channels=args.channels,
                          calibration=args.calibration, workspace_mb=args.workspace_mb)
    check_inputs(args.onnx, opts)   # a profile or calibration the graph cannot take: said on a CPU machine too
    if pathlib.Path(args.onnx).is_file() and (problem := _compile_environment_problem()):
        raise BiosigError(problem)
    info = compile_engine(args.onnx, args.out, opts)
    print(f"wrote {info.path}: TensorRT {info.tensorrt_version}, {args.precision}, "
          f"profile {info.profile}, {info.size_bytes / 1e6:.1f} MB")
    return 0
