"""Inference backends: make_backend kinds, auto selection and its reason, the export cache, input
checks, clear errors for absent backends, and (marked gpu) the CUDA / TensorRT providers."""
import importlib.util
import logging

import numpy as np
import pytest

from conftest import load_encoder

HAS_TRT = importlib.util.find_spec("tensorrt") is not None

pytestmark = pytest.mark.usefixtures("export_cache")


def _has_cuda():
    import torch
    return torch.cuda.is_available()


def test_auto_on_cpu_measures_both_and_keeps_onnxruntime_unless_torch_is_clearly_faster(caplog):
    from encoders.backends import TORCH_MARGIN, cpu_cores, export_cached, make_backend
    enc = load_encoder("ppg-tiny")
    if _has_cuda():
        pytest.skip("this machine has a CUDA GPU; the CPU choice is not made here")
    with caplog.at_level(logging.INFO, logger="encoders.backends"):
        backend = make_backend("auto", enc)
    assert set(backend.timings) == {"onnxruntime", "torch"}
    assert backend.name in backend.timings
    t = backend.timings
    assert backend.name == ("torch" if t["torch"] < TORCH_MARGIN * t["onnxruntime"] else "onnxruntime")
    assert backend.why.startswith("no CUDA GPU; measured on a (8, 1, 1250) batch: onnxruntime ")
    assert any(f"backend auto -> {backend.name}" in r.getMessage() for r in caplog.records)
    # the export behind it is cached: the same model again reuses the file
    path = export_cached(enc)
    mtime = path.stat().st_mtime_ns
    assert export_cached(enc) == path and path.stat().st_mtime_ns == mtime
    # an exported file given to auto runs on onnxruntime, CPU provider, one thread per core
    onnx_be = make_backend("auto", path)
    assert onnx_be.name == "onnxruntime" and onnx_be.providers == ("CPUExecutionProvider",)
    assert onnx_be.session.get_session_options().intra_op_num_threads == cpu_cores()
    assert onnx_be.model_id == enc.model_id


def test_torch_and_onnxruntime_backends_agree_and_check_input():
    from encoders.backends import export_cached, make_backend
    from encoders.errors import EncoderError
    enc = load_encoder("ecg-tiny")
    torch_be = make_backend("torch", enc)
    ort_be = make_backend("onnxruntime", export_cached(enc))
    assert torch_be.name == "torch" and torch_be.providers == ("cpu",)
    assert torch_be.model_id == ort_be.model_id == enc.model_id
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, enc.config.window_samples))  # float64: accepted, run as float32
    per_window = np.array([[1, 7], [1, 7], [1, 7]])
    a = ort_be.run(x, [1, 7])
    assert a.dtype == np.float32 and a.shape == (3, enc.config.dim)
    np.testing.assert_array_equal(a, ort_be.run(x, per_window))  # (C,) broadcasts to (B, C)
    np.testing.assert_allclose(a, torch_be.run(x, [1, 7]), atol=1e-4, rtol=0)
    assert ort_be.run(x[:0]).shape == (0, enc.config.dim)
    assert torch_be.run(x[:0]).shape == (0, enc.config.dim)
    bad = x.copy()
    bad[1, 0, 10] = np.nan
    for be in (torch_be, ort_be):
        with pytest.raises(EncoderError, match="NaN or inf"):
            be.run(bad)
        with pytest.raises(EncoderError, match=r"shaped \(B, C, T\)"):
            be.run(x[0])
        with pytest.raises(EncoderError, match="float windows"):
            be.run(x.astype(np.int32))
        with pytest.raises(EncoderError, match="channel_idx must be integers"):
            be.run(x, [1, 2, 3])


def test_fixed_channel_model_rejects_other_channel_counts():
    from encoders.backends import export_cached, make_backend
    from encoders.errors import EncoderError
    enc = load_encoder("ppg-tiny")
    x = np.zeros((2, enc.config.in_channels + 1, enc.config.window_samples), np.float32)
    for be in (make_backend("torch", enc), make_backend("onnxruntime", export_cached(enc))):
        with pytest.raises(EncoderError, match=f"expects {enc.config.in_channels} channel"):
            be.run(x)


def test_unknown_and_wrong_kinds_are_clear_errors(tmp_path):
    from encoders.backends import make_backend
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match="unknown backend 'jax'; expected one of auto, torch, onnxruntime, tensorrt"):
        make_backend("jax", "ecg-tiny")
    with pytest.raises(EncoderError, match="torch backend needs a model"):
        make_backend("torch", tmp_path / "model.onnx")
    with pytest.raises(EncoderError, match="does not exist"):
        make_backend("onnxruntime", tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(EncoderError, match="onnxruntime cannot load"):
        make_backend("onnxruntime", tmp_path / "junk.onnx")


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_absent_tensorrt_says_what_to_install(tmp_path):
    from encoders.backends import make_backend
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match=r"TensorRT is not installed; install it with: pip install 'biosig\[gpu\]'"):
        make_backend("tensorrt", tmp_path / "model.plan")


def test_absent_cuda_provider_says_what_to_install():
    import onnxruntime as ort
    from encoders.backends import export_cached, make_backend
    from encoders.errors import EncoderError
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    with pytest.raises(EncoderError, match=r"no CUDA execution provider.*pip install 'biosig\[gpu\]'"):
        make_backend("onnxruntime", export_cached(load_encoder("ppg-tiny")), device="cuda")


@pytest.mark.gpu
def test_cuda_and_tensorrt_execution_providers_match_torch(tmp_path, monkeypatch):
    import onnxruntime as ort
    from encoders.backends import export_cached, make_backend
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu (CUDA execution provider) is not installed")
    monkeypatch.setenv("BIOSIG_CACHE_DIR", str(tmp_path))
    enc = load_encoder("ecg-tiny")
    backend = make_backend("auto", enc, device="cuda")
    assert backend.name == "onnxruntime" and "CUDA" in backend.why
    assert backend.providers[0] in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
    x = np.random.default_rng(0).standard_normal((8, 1, enc.config.window_samples)).astype(np.float32)
    ref = make_backend("torch", enc, device="cpu").run(x)
    np.testing.assert_allclose(backend.run(x), ref, atol=2e-2 if "Tensorrt" in backend.providers[0] else 1e-3, rtol=0)
    if backend.providers[0] == "TensorrtExecutionProvider":
        assert any((tmp_path / "trt-engines").iterdir()), "TensorRT EP engine cache stayed empty"
    cuda_only = make_backend("onnxruntime", export_cached(enc), device="cuda")
    np.testing.assert_allclose(cuda_only.run(x), ref, atol=2e-2, rtol=0)


# ---------------------------------------------------------------------------------------------
def _encoders_import_graph():
    """{module: modules of encoders it imports} over encoders/*.py, lazy imports included."""
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1] / "encoders"
    graph = {}
    for path in sorted(root.glob("*.py")):
        name = f"encoders.{path.stem}"
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("encoders."):
                deps.add(".".join(node.module.split(".")[:2]))
            elif isinstance(node, ast.Import):
                deps.update(".".join(a.name.split(".")[:2]) for a in node.names if a.name.startswith("encoders."))
        graph[name] = deps - {name}
    return graph


def test_no_import_circles_among_export_compile_backends_checkpoint_embed():
    """DESIGN.md section 7: export <- compile <- backends, nothing imports upward; checkpoint -> embed."""
    g = _encoders_import_graph()
    assert "encoders.compile" not in g["encoders.export"] and "encoders.backends" not in g["encoders.export"]
    assert "encoders.backends" not in g["encoders.compile"]
    assert "encoders.checkpoint" not in g["encoders.embed"]

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in g.get(node, ()):
                if dep == start:
                    return path + [dep]
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, path + [dep]))
        return None

    for mod in ("encoders.export", "encoders.compile", "encoders.backends", "encoders.checkpoint",
                "encoders.embed", "encoders.graph_passes", "encoders.weights"):
        assert cycle_from(mod) is None, " -> ".join(cycle_from(mod))


def test_torch_backend_never_mutates_the_shared_model():
    import torch
    from encoders.backends import make_backend
    enc = load_encoder("ecg-tiny")
    before = {k: v.clone() for k, v in enc.model.state_dict().items()}
    be = make_backend("torch", enc, device="cpu")
    assert be.model is enc.model               # same device, eval mode: shared, not copied
    enc.model.train()                          # a training-mode module is copied, its mode left alone
    be2 = make_backend("torch", enc, device="cpu")
    assert be2.model is not enc.model and enc.model.training and not be2.model.training
    enc.model.eval()
    if torch.cuda.is_available():
        be_cuda = make_backend("torch", enc, device="cuda")
        assert be_cuda.model is not enc.model
    x = np.random.default_rng(0).standard_normal((2, 1, enc.config.window_samples)).astype(np.float32)
    np.testing.assert_array_equal(be.run(x), be2.run(x))
    for k, v in enc.model.state_dict().items():
        assert v.device.type == "cpu" and torch.equal(v, before[k])


@pytest.mark.parametrize("precision,atol", [("bf16", 5e-2), ("fp16", 1e-2)])
def test_torch_precision_plumbing_on_cpu(precision, atol):
    """Autocast on CPU: output float32, close to fp32 within the documented tolerance (docs/gpu.md)."""
    from encoders.backends import make_backend
    enc = load_encoder("ecg-tiny")
    x = np.random.default_rng(1).standard_normal((4, 1, enc.config.window_samples)).astype(np.float32)
    ref = make_backend("torch", enc).run(x)
    be = make_backend("auto", enc, precision=precision, device="cpu")
    assert be.name == "torch" and be.precision == precision and precision in be.why
    out = be.run(x)
    assert out.dtype == np.float32 and out.shape == ref.shape
    diff = np.abs(out - ref).max()
    assert 0 < diff <= atol, diff        # not bit-identical: autocast really ran in low precision
    cos = (out * ref).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.9999


def test_precision_is_refused_for_exported_graphs_and_unknown_values():
    from encoders.backends import make_backend
    from encoders.errors import EncoderError
    with pytest.raises(EncoderError, match="--precision bf16 applies to the torch backend"):
        make_backend("onnxruntime", "model.onnx", precision="bf16")
    with pytest.raises(EncoderError, match="unknown precision 'fp8'"):
        make_backend("torch", "ecg-tiny", precision="fp8")


def test_auto_choice_is_remembered_per_model_and_machine(monkeypatch):
    import json

    from encoders import backends
    if _has_cuda():
        pytest.skip("this machine has a CUDA GPU; the CPU choice is not made here")
    enc = load_encoder("spiro-tiny")
    first = backends.make_backend("auto", enc)
    table = json.loads((backends.cache_dir() / backends.AUTO_CHOICE_FILE).read_text())
    entry = next(v for k, v in table.items() if k.startswith(enc.model_id))
    assert entry["kind"] == first.name and entry["timings"] == first.timings
    probes = []
    monkeypatch.setattr(backends, "_probe_s", lambda *a: probes.append(a) or 1.0)
    second = backends.make_backend("auto", enc)
    assert probes == [] and second.name == first.name and second.timings == first.timings
    assert "remembered in" in second.why and second.why.startswith("no CUDA GPU; measured on")
    # the default thread count follows the load average: another count is the same machine, so
    # the choice is not measured again (it used to be, and two runs could pick different backends)
    third = backends.make_backend("auto", enc, threads=1)
    assert probes == [] and third.name == first.name and "remembered in" in third.why


@pytest.mark.gpu
@pytest.mark.parametrize("precision,atol", [("fp32", 1e-4), ("bf16", 5e-2), ("fp16", 1e-2)])
def test_torch_cuda_precision_parity(precision, atol):
    from encoders.backends import make_backend
    enc = load_encoder("ecg-small")
    x = np.random.default_rng(2).standard_normal((16, 1, enc.config.window_samples)).astype(np.float32)
    ref = make_backend("torch", enc, device="cpu").run(x)
    cpu_copy_still_on_cpu = next(enc.model.parameters()).device.type == "cpu"
    out = make_backend("torch", enc, device="cuda", precision=precision).run(x)
    assert cpu_copy_still_on_cpu and next(enc.model.parameters()).device.type == "cpu"
    np.testing.assert_allclose(out, ref, atol=atol, rtol=0)


def test_score_and_serve_take_device_precision_and_exported_files(tmp_path):
    """The same --backend/--device/--precision on embed, score and serve; exported files as models."""
    import encoders
    from biosig.cli import build_parser
    from encoders.backends import export_cached
    from encoders.scoring.model import ModelSpec, load_model
    from streams.models import ModelHost
    parser = build_parser()
    for cmd in (["embed", "r", "--model", "m", "--out", "o.parquet"], ["score", "r", "--model", "m", "--out", "d"],
                ["serve"]):
        args = parser.parse_args(cmd + ["--backend", "tensorrt", "--device", "cuda:1", "--precision", "bf16"])
        assert (args.backend, args.device, args.precision) == ("tensorrt", "cuda:1", "bf16")
    enc = load_encoder("ecg-tiny")
    onnx_path = export_cached(enc)
    x = np.random.default_rng(3).standard_normal((2, 1, enc.config.window_samples)).astype(np.float32)
    # serve: an exported file needs no checkpoint; a torch model under bf16 autocast
    host = ModelHost({"ecg": str(onnx_path)}, "auto", device="cpu")
    hosted = host.get("ecg")
    assert not host.errors and hosted.backend.name == "onnxruntime" and hosted.model_id == enc.model_id
    host_bf16 = ModelHost({"ecg": "ecg-tiny"}, "torch", device="cpu", precision="bf16")
    hb = host_bf16.get("ecg")
    assert hb.backend.precision == "bf16"
    chans = [["MLII"], ["MLII"]]
    np.testing.assert_allclose(hosted.run(x, chans), hb.run(x, chans), atol=5e-2)
    # score: device and precision reach the backend; precision is part of the job fingerprint
    ckpt = tmp_path / "ck"
    encoders.save_checkpoint(ckpt, enc.model, enc.pipeline)
    loaded = load_model(ModelSpec(str(ckpt), "torch", device="cpu", precision="bf16"))
    assert loaded.backend.precision == "bf16" and loaded.fingerprint()["backend"] == "torch-bf16"
    assert load_model(ModelSpec(str(onnx_path), "auto", device="cpu")).fingerprint()["backend"] == "onnxruntime"


@pytest.mark.parametrize("name", ["ecg-tiny", "ppg-tiny", "spiro-tiny", "audio-tiny"])
def test_the_shortest_input_of_each_shipped_model_runs_on_torch_and_onnxruntime(name):
    """encoders.config.min_input_samples is what embed/score --window-s are checked against: one
    beat slot for the beat tokenizer (ecg-tiny's 25-sample patch size is not its minimum: 50
    samples failed in the graph), one log-mel patch for audio."""
    import encoders
    from encoders.backends import make_backend
    from encoders.config import min_input_samples
    cfg = encoders.load(name).config
    n = min_input_samples(cfg)
    x = np.random.default_rng(0).standard_normal((2, cfg.in_channels, n)).astype(np.float32)
    a, b = make_backend("onnxruntime", name).run(x), make_backend("torch", name).run(x)
    assert a.shape == (2, cfg.dim) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("modality, tokenizer", [("ecg", "beat"), ("ppg", "beat"), ("ecg", "patch"), ("audio", "patch")])
def test_cached_graphs_are_keyed_by_every_module_their_layers_come_from(modality, tokenizer, tmp_path, monkeypatch):
    """A cached ONNX graph is reused while the code that builds it is unchanged: every ``encoders``
    module a model's layers come from is in the digest, and changing one changes the key."""
    import pathlib
    import sys

    import encoders.backend_cache as bc
    from encoders.config import get_config
    from encoders.model import EncoderModel
    model = EncoderModel(get_config(f"{modality}-tiny", tokenizer=tokenizer, dim=32, depth=1, heads=2,
                                    decoder_dim=32, decoder_heads=2, decoder_depth=1))
    files = {pathlib.Path(sys.modules[type(m).__module__].__file__).name for m in model.modules()
             if type(m).__module__.startswith("encoders.")}
    assert files and files <= set(bc.GRAPH_CODE), files - set(bc.GRAPH_CODE)
    # the key follows the code: a copy of the package folder with one graph module edited
    here = pathlib.Path(bc.__file__).parent
    for name in bc.GRAPH_CODE:
        (tmp_path / name).write_bytes((here / name).read_bytes())
    monkeypatch.setattr(bc, "__file__", str(tmp_path / "backend_cache.py"))
    before = bc._model_digest(model)
    (tmp_path / "beat_tokens.py").write_bytes((here / "beat_tokens.py").read_bytes() + b"\n# edited\n")
    assert bc._model_digest(model) != before
