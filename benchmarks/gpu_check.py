"""GPU check anyone can run (``make gpu-check``): the ``gpu``-marked tests, then the attention,
inference and pretraining rows of issue 15's table on whatever CUDA device is present.

Needs torch with CUDA, numpy, pytest and biosig's pure-Python dependencies (scipy for the
synthetic training data, tqdm); no polars, no onnxruntime, no TensorRT (their tests skip
themselves when absent). Prints a Markdown table::

    | measure | ours | reference | ratio | target |

Without a CUDA device it says so and exits 0. Budget: under 5 minutes on an H200 (most of it
torch.compile of FlexAttention and of nothing else). Options: ``--skip-tests``, ``--quick``
(fewer lengths and steps).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ROWS: list[tuple] = []


def row(measure, ours, reference, ratio, target=""):
    ROWS.append((measure, ours, reference, ratio, target))
    print(f"| {measure} | {ours} | {reference} | {ratio} | {target} |", flush=True)


def _cuda_ms(fn, repeats=10):
    """Median ms per call on the current stream (CUDA events), after two warm-up calls."""
    import torch
    fn(), fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def _peak_gb(fn):
    import torch
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 1e9


def attention_rows(lengths):
    import torch

    from encoders import attention as A
    B, H, d, w, G = 8, 8, 64, 64, 2
    for n in lengths:
        q, k, v = (torch.randn(B, H, G + n, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        with torch.no_grad():
            ours = _cuda_ms(lambda: A.windowed_attention(q, k, v, w, G))
            chosen = A.select_kernel(q)
            flex = _cuda_ms(lambda: A.windowed_attention(q, k, v, w, G, kernel="flex"))
            blocked = _cuda_ms(lambda: A.windowed_attention(q, k, v, w, G, kernel="blocked"))
            if n <= 4096:
                sdpa_plain = _cuda_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
                row(f"attention bf16 B=8 H=8 d=64 w=64 G=2, {n} tokens", f"windowed[{chosen}] {ours:.3f} ms",
                    f"dense SDPA (no mask) {sdpa_plain:.3f} ms; blocked {blocked:.3f} ms", f"{ours / sdpa_plain:.2f}x")
            else:
                row(f"attention bf16 B=8 H=8 d=64 w=64 G=2, {n} tokens", f"windowed[{chosen}] {ours:.2f} ms",
                    f"FlexAttention same mask {flex:.2f} ms; blocked {blocked:.2f} ms", f"{ours / flex:.2f}x",
                    "<= 1.0x")
        del q, k, v
    n = max(lengths)
    q, k, v = (torch.randn(B, H, G + n, d, device="cuda") for _ in range(3))
    with torch.no_grad():
        ours = _peak_gb(lambda: A.windowed_attention(q, k, v, w, G))
        blocked = _peak_gb(lambda: A.windowed_attention(q, k, v, w, G, kernel="blocked"))
        sdpa = _peak_gb(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
    row(f"attention memory fp32, {n} tokens", f"windowed[{A.select_kernel(q)}] {ours:.2f} GB",
        f"SDPA (no mask) {sdpa:.2f} GB; blocked {blocked:.2f} GB", f"{ours / max(sdpa, 1e-9):.2f}x", "<= 2x")


def inference_rows(batch=1024):
    import numpy as np
    import torch

    import encoders
    from encoders.backends import make_backend
    enc = encoders.load("ecg-base", pretrained=False)
    x = np.random.default_rng(0).standard_normal((batch, 1, enc.config.window_samples)).astype(np.float32)
    rates = {}
    for precision in ("fp32", "bf16"):
        be = make_backend("torch", enc, device="cuda", precision=precision)
        be.run(x[:64])
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        be.run(x)
        rates[precision] = batch / (time.perf_counter() - t0)
    row(f"ecg-base inference, batch {batch}", f"backend bf16 {rates['bf16']:.0f} windows/s",
        f"backend fp32 {rates['fp32']:.0f} windows/s", f"{rates['bf16'] / rates['fp32']:.2f}x", ">= 3x")
    audio = encoders.load("audio-tiny", pretrained=False)
    xa = np.random.default_rng(0).standard_normal((batch, 1, audio.config.window_samples)).astype(np.float32)
    be = make_backend("torch", audio, device="cuda")
    be.run(xa[:64])
    t0 = time.perf_counter()
    be.run(xa)
    backend_rate = batch / (time.perf_counter() - t0)
    model, xd = be.model, torch.from_numpy(xa).cuda()
    with torch.inference_mode():
        ms = _cuda_ms(lambda: model.embed_forward(xd), repeats=3)
    row(f"audio-tiny inference, batch {batch}", f"backend {backend_rate:.0f} windows/s",
        f"model alone, device-resident input {batch / ms * 1e3:.0f} windows/s",
        f"{backend_rate / (batch / ms * 1e3):.2f}x")


def pretraining_rows(quick):
    import bench_pretrain as bp
    peak = bp.matmul_peak_gflops("cuda")
    row("bf16 matmul peak (8192^2, same run)", f"{peak / 1e3:.0f} TFLOP/s", "", "")
    for preset, batches, steps in (("tiny", (256, 1024), 5 if quick else 10), ("base", (1024,), 3 if quick else 5)):
        for batch in batches:
            s = bp.step_seconds(preset, batch, "cuda", 3, steps, {})
            flops = bp.step_flops(preset, batch, "cuda")
            mfu = 100 * flops / s / (peak * 1e9)
            target = ">= 100k windows/s" if preset == "tiny" and batch == 1024 else (">= 35 % MFU" if preset == "base" else "")
            row(f"pretraining ecg-{preset}, batch {batch}", f"{s * 1e3:.1f} ms/step, {batch / s:.0f} windows/s",
                f"{flops / 1e12:.2f} TFLOP/step", f"MFU {mfu:.1f} %", target)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-tests", action="store_true", help="only the table")
    ap.add_argument("--quick", action="store_true", help="fewer lengths and steps")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu-check: torch is not installed; nothing to check")
        return 0
    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device visible (torch {torch.__version__}); nothing to check, CPU paths "
              "are covered by make test")
        return 0
    missing = [m for m in ("numpy", "scipy", "pytest", "tqdm") if __import__("importlib").util.find_spec(m) is None]
    if missing:
        print(f"gpu-check: missing Python packages: {' '.join(missing)} (pip install {' '.join(missing)})")
        return 2
    t0 = time.perf_counter()
    name = torch.cuda.get_device_name()
    print(f"# gpu-check on {name}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    status = 0
    if not args.skip_tests:
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
               "tests/test_attention.py", "tests/test_backends.py", "tests/test_pretrain.py", "tests/test_compile.py"]
        env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        status = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        print(f"# gpu tests: exit {status} ({time.perf_counter() - t0:.0f} s)")
    print("\n| measure | ours | reference | ratio | target |\n|---|---|---|---|---|", flush=True)
    parts = (("attention", lambda: attention_rows([1024, 16384] if args.quick else [1024, 16384, 65536])),
             ("inference", inference_rows), ("pretraining", lambda: pretraining_rows(args.quick)))
    for what, part in parts:
        try:
            part()
        except Exception as exc:  # noqa: BLE001 - report the rows as failed and carry on
            status = status or 1
            first = (str(exc).splitlines() or [""])[0][:200]
            row(f"FAILED: {what} rows", f"{type(exc).__name__}: {first}", "", "")
        torch.cuda.empty_cache()
    print(f"\n# total {time.perf_counter() - t0:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
