"""Pretraining throughput: windows/s, step time and model FLOPs utilisation (MFU) per preset.

Runs the real loop (:func:`encoders.pretrain.pretrain`, synthetic ECG windows, no checkpoint until
the last step) for ``--warmup`` + ``--steps`` steps and times the steps after the warm-up from
``metrics.jsonl``'s ``elapsed_s``. MFU = model FLOPs per step (forward + backward of one step,
counted with ``torch.utils.flop_counter.FlopCounterMode``) / step time / the matrix-product peak
of the same device measured in the same run (float32 ``torch.mm`` on a CPU; bfloat16 on CUDA,
where the loop trains under bf16 autocast). Prints one row per (device, preset, batch)::

    device | model | batch | step ms | windows/s | GFLOP/step | peak GFLOP/s | MFU %

Run: ``python benchmarks/bench_pretrain.py [--presets tiny small base] [--batch 32] [--device cpu]``;
on a machine with CUDA the CUDA rows (batch ``--cuda-batch``, default 1024) follow the CPU ones
unless ``--device cpu``. Needs no polars (``benchmarks/gpu_check.py`` imports it).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def matmul_peak_gflops(device: str, seconds: float = 1.0) -> float:
    """Best GFLOP/s of a square matmul on ``device`` (float32 on CPU, bfloat16 on CUDA)."""
    import torch
    cuda = device.startswith("cuda")
    n, dtype = (8192, torch.bfloat16) if cuda else (1024, torch.float32)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best, t_end = float("inf"), time.perf_counter() + seconds
    torch.mm(a, b)
    while time.perf_counter() < t_end or best == float("inf"):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(10 if cuda else 1):
            torch.mm(a, b)
        if cuda:
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / (10 if cuda else 1))
    return 2 * n ** 3 / best / 1e9


def step_flops(preset: str, batch: int, device: str) -> float:
    """FLOPs of one training step (forward + backward) of ``ecg-<preset>`` at ``batch``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import encoders
    model = encoders.create_model(f"ecg-{preset}").to(device).train()
    x = torch.randn(batch, 1, model.config.window_samples, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                            enabled=device.startswith("cuda")):
            loss = model(x, generator=gen)["loss"]
        loss.backward()
    return float(counter.get_total_flops())


def step_seconds(preset: str, batch: int, device: str, warmup: int, steps: int, extra: dict) -> float:
    """Mean wall time per step after ``warmup`` steps of the real pretraining loop."""
    import os

    from encoders.pretrain import TrainConfig, pretrain
    with tempfile.TemporaryDirectory() as tmp:
        settings = dict(modality="ecg", out_dir=tmp, preset=preset, synthetic=True, synthetic_records=4,
                        synthetic_seconds=60.0, steps=warmup + steps, batch_size=batch, warmup_steps=1,
                        ckpt_every=10 ** 9, log_every=warmup, progress=False)
        cfg = TrainConfig(**{**settings, **extra})
        old = os.environ.get("CUDA_VISIBLE_DEVICES")
        if device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the loop picks CUDA when it sees one
        try:
            pretrain(cfg)
        finally:
            if device == "cpu":
                if old is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = old
        lines = [json.loads(ln) for ln in (pathlib.Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    at = {m["step"]: m["elapsed_s"] for m in lines}
    return (at[warmup + steps] - at[warmup]) / steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small", "base"], choices=["tiny", "small", "base"],
                    help="model presets to time (default all three)")
    ap.add_argument("--batch", type=int, default=32, help="CPU batch (default 32)")
    ap.add_argument("--cuda-batch", type=int, nargs="+", default=[1024], help="CUDA batches (default 1024)")
    ap.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                    help="where to time (default all: the CPU, and CUDA when there is a GPU)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    ap.add_argument("--steps", type=int, nargs="+", default=[8, 3, 2],
                    help="timed steps per preset, in --presets order (default 8 3 2)")
    ap.add_argument("--compile", action="store_true", help="also time the loop under torch.compile")
    args = ap.parse_args(argv)
    import torch
    devices = []
    if args.device in ("all", "cpu"):
        devices.append(("cpu", [args.batch]))
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        devices.append(("cuda", args.cuda_batch))
    elif args.device == "cuda":
        print("# no CUDA device visible: no CUDA rows")
    print(f"# pretraining ecg-<preset> on synthetic windows, {torch.get_num_threads()} CPU threads; "
          f"step time = mean over the timed steps after {args.warmup} warm-up steps")
    print(f"{'device':>6} | {'model':>10} | {'batch':>5} | {'step ms':>9} | {'windows/s':>10} | "
          f"{'GFLOP/step':>10} | {'peak GFLOP/s':>12} | {'MFU %':>6}")
    variants = [({}, "")] + ([({"compile": True}, "+compile")] if args.compile else [])
    for device, batches in devices:
        peak = matmul_peak_gflops(device)
        for i, preset in enumerate(args.presets):
            steps = args.steps[min(i, len(args.steps) - 1)]
            for batch in batches:
                flops = step_flops(preset, batch, device)
                for extra, tag in variants:
                    s = step_seconds(preset, batch, device, args.warmup, steps, extra)
                    mfu = 100 * flops / s / (peak * 1e9)
                    print(f"{device:>6} | {'ecg-' + preset + tag:>10} | {batch:>5} | {s * 1e3:>9.1f} | "
                          f"{batch / s:>10.0f} | {flops / 1e9:>10.1f} | {peak:>12.0f} | {mfu:>6.1f}")
                    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
