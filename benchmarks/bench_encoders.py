"""Encoder inference: torch eager vs ONNX Runtime (vs TensorRT where a GPU and TensorRT exist).

For each shipped model and ``ecg-small`` (random weights): windows per second and p50/p99 latency
per call at batch 1, 8 and 32, printed as ``torch | onnxruntime | ratio`` rows; FLOPs per window
(counted with torch.utils.flop_counter.FlopCounterMode: matmuls, convolutions, attention) and the
achieved fraction of this machine's float32 matrix-product peak, measured in the same run with a
large torch matmul (the roofline ceiling for compute-bound work).

Run: ``.venv/bin/python benchmarks/bench_encoders.py [--models ecg-small ecg-tiny] [--seconds 1.5]``
(idle 2-core machine, 2026-11-24: 96 s; batch 32 ecg-small torch 43.8 / onnxruntime 48.2 windows/s)
Target (issue 5): onnxruntime >= 1.5x torch eager at batch 32 for ecg-small.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

# Fair threading for both sides: ONNX Runtime sessions run without busy-waiting workers
# (encoders.backends), so torch's OpenMP pool gets the same passive wait policy. With spinning
# OpenMP threads, torch eager on a shared 2-core host measured 4x slower at batch 32 (ppg-tiny).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHIPPED = ("ecg-tiny", "ppg-tiny", "audio-tiny", "spiro-tiny")
BATCHES = (1, 8, 32)


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n matmul with torch's threads (2 n^3 flops per product)."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def flops_per_window(model, channels: int, length: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.randn(1, channels, length)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.embed_forward(x)
    return float(counter.get_total_flops())


def time_calls(fn, seconds: float, min_calls: int = 3, max_calls: int = 200) -> np.ndarray:
    """Latencies (s) of repeated calls after one warm-up call."""
    fn()
    lat = []
    start = time.perf_counter()
    while len(lat) < min_calls or (time.perf_counter() - start < seconds and len(lat) < max_calls):
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    return np.asarray(lat)


def load(name):
    import encoders
    if name in encoders.shipped_models():
        return encoders.load(name)
    return encoders.load(name, pretrained=False)  # seeded random weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["ecg-small", *SHIPPED],
                    help="checkpoint dirs or names (default ecg-small and every shipped model)")
    ap.add_argument("--seconds", type=float, default=1.5,
                    help="timing budget per backend and batch size (default 1.5: about 100 s in all here)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both backends (default: all cores)")
    args = ap.parse_args(argv)

    os.environ.setdefault("BIOSIG_CACHE_DIR", tempfile.mkdtemp(prefix="biosig-bench-"))
    import torch
    from encoders.backends import cpu_cores, export_cached, make_backend
    from encoders.export import export_onnx

    threads = args.threads or cpu_cores()
    torch.set_num_threads(threads)
    t_start = time.perf_counter()
    peak = matmul_peak_gflops()
    print(f"# cores {cpu_cores()}, threads {threads}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, "
          f"torch {torch.__version__}, float32 matmul peak {peak:.1f} GFLOP/s (2048^3 torch.mm, best of 5; "
          "re-measured at the end, the higher is used); ort-int8 fractions are of this float32 peak, "
          "which int8 GEMMs can exceed")
    gpu = torch.cuda.is_available()
    summary = []
    for name in args.models:
        enc = load(name)
        cfg = enc.config
        length, channels = cfg.window_samples, cfg.in_channels
        t0 = time.perf_counter()
        onnx_path = export_cached(enc)
        export_s = time.perf_counter() - t0
        flops = flops_per_window(enc.model, channels, length)
        int8_path = pathlib.Path(os.environ["BIOSIG_CACHE_DIR"]) / f"{name}-int8.onnx"
        export_onnx(enc, int8_path, precision="int8")
        backends = {"torch": make_backend("torch", enc, device="cpu"),
                    "onnxruntime": make_backend("onnxruntime", onnx_path, device="cpu", threads=threads),
                    "ort-int8": make_backend("onnxruntime", int8_path, device="cpu", threads=threads)}
        if gpu:  # GPU rows: torch on CUDA (fp32, bf16) always; TensorRT where it is installed
            backends["torch-cuda"] = make_backend("torch", enc, device="cuda")  # a private copy on the GPU
            backends["torch-cuda-bf16"] = make_backend("torch", enc, device="cuda", precision="bf16")
            try:
                from encoders.compile import CompileOptions, compile_engine
                plan = pathlib.Path(os.environ["BIOSIG_CACHE_DIR"]) / f"{name}.plan"
                compile_engine(onnx_path, plan, CompileOptions(precision="fp16", max_batch=32))
                backends["tensorrt"] = make_backend("tensorrt", plan)
            except Exception as exc:  # noqa: BLE001 - report and carry on with the other rows
                print(f"# {name}: no TensorRT rows ({exc})")
        gpu_names = [b for b in ("tensorrt", "torch-cuda", "torch-cuda-bf16") if b in backends]
        print(f"\n## {name}: D={cfg.dim}, depth={cfg.depth}, window {cfg.window_s:g} s x {cfg.input_fs_hz:g} Hz "
              f"= {length} samples, {flops / 1e9:.3f} GFLOP/window, export {export_s:.1f} s")
        print("batch | metric | torch | onnxruntime | ratio | ort-int8 | int8 ratio"
              + "".join(f" | {b}" for b in gpu_names))
        rng = np.random.default_rng(0)
        for batch in BATCHES:
            x = rng.standard_normal((batch, channels, length)).astype(np.float32)
            res = {}
            for key, be in backends.items():
                lat = time_calls(lambda: be.run(x), args.seconds)
                res[key] = dict(wps=batch / lat.mean(), p50=np.percentile(lat, 50) * 1e3,
                                p99=np.percentile(lat, 99) * 1e3,
                                frac=flops * batch / lat.mean() / 1e9 / peak)
            t, o, q = res["torch"], res["onnxruntime"], res["ort-int8"]
            gpu_cols = [b for b in ("tensorrt", "torch-cuda", "torch-cuda-bf16") if b in res]

            def row(label, key, faster_is_higher):
                ratio = (lambda a, b: a / b) if faster_is_higher else (lambda a, b: b / a)
                cells = [f"{t[key]:.2f}", f"{o[key]:.2f}", f"{ratio(o[key], t[key]):.2f}x",
                         f"{q[key]:.2f}", f"{ratio(q[key], t[key]):.2f}x"] + [f"{res[b][key]:.2f}" for b in gpu_cols]
                print(f"{batch} | {label} | " + " | ".join(cells))

            row("windows/s", "wps", True)
            row("p50 ms", "p50", False)
            row("p99 ms", "p99", False)
            print(f"{batch} | peak fraction | {t['frac']:.3f} | {o['frac']:.3f} | - | {q['frac']:.3f} | -")
            if batch == 32:
                summary.append((name, t["wps"], o["wps"], o["wps"] / t["wps"], t["frac"], o["frac"], q["wps"] / t["wps"]))
    peak_end = matmul_peak_gflops()
    if peak_end > peak:  # a busy host depresses the first measurement: fractions use the best
        summary = [(n, tw, ow, r, tf * peak / peak_end, of * peak / peak_end, qr) for n, tw, ow, r, tf, of, qr in summary]
        print(f"# matmul peak re-measured: {peak_end:.1f} GFLOP/s; summary fractions use it")
    print("\n## batch 32 summary: model | torch windows/s | onnxruntime windows/s | ratio | "
          "torch peak fraction | onnxruntime peak fraction | ort-int8 ratio")
    for name, tw, ow, r, tf, of, qr in summary:
        print(f"{name} | {tw:.1f} | {ow:.1f} | {r:.2f}x | {tf:.3f} | {of:.3f} | {qr:.2f}x")
    for name, _, _, r, _, _, qr in summary:
        if name == "ecg-small":
            print(f"# target onnxruntime >= 1.5x torch at batch 32 for ecg-small: fp32 {'met' if r >= 1.5 else 'NOT met'} "
                  f"({r:.2f}x); int8 {'met' if qr >= 1.5 else 'NOT met'} ({qr:.2f}x)")
    print(f"# total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
