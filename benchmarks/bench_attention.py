"""Windowed sparse attention vs dense attention with the same band mask: time and peak memory.

Each (method, length) runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss`` minus the resident size just before the call) is its own. Prints one row per
sequence length::

    tokens | dense ms | windowed ms | ratio | dense MiB | windowed MiB | ratio

Dense attention is skipped (with a note) where its (H, N, N) score matrices would exceed
``--dense-max-gib``. Usage: ``python benchmarks/bench_attention.py [--lengths 512 1024 ...]
[--kernel auto|blocked|sdpa|flex]`` (the windowed column's kernel, via ``$BIOSIG_ATTN_KERNEL``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import torch
from encoders.attention import dense_band_attention, windowed_attention
method, n, heads, dim, w, g, repeats = sys.argv[1], *map(int, sys.argv[2:])
torch.set_num_threads(1)
torch.manual_seed(0)
q, k, v = (torch.randn(1, heads, g + n, dim) for _ in range(3))
fn = dense_band_attention if method == "dense" else windowed_attention
def rss_mib():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mib()
times = []
with torch.no_grad():
    for _ in range(repeats):
        t = time.perf_counter(); fn(q, k, v, w, g); times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ms": 1000 * min(times), "mib": max(0.0, peak - base)}))
"""


def run(method, n, args):
    cmd = [sys.executable, "-c", CHILD, method, str(n), str(args.heads), str(args.head_dim), str(args.window),
           str(args.n_global), str(args.repeats)]
    env = dict(os.environ, BIOSIG_ATTN_KERNEL=args.kernel)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr else f"exit {out.returncode}"
    return json.loads(out.stdout.strip().splitlines()[-1]), ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192, 16384],
                    help="sequence lengths in tokens (default 512 .. 16384)")
    ap.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    ap.add_argument("--head-dim", type=int, default=32, help="width of each head (default 32)")
    ap.add_argument("--window", type=int, default=64, help="block size w in tokens")
    ap.add_argument("--n-global", type=int, default=2, help="global tokens attending to and from all (default 2)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per row, the median is printed (default 3)")
    ap.add_argument("--kernel", choices=("auto", "blocked", "sdpa", "flex"), default="auto",
                    help="kernel of the windowed column (default auto: blocked on CPU)")
    ap.add_argument("--dense-max-gib", type=float, default=4.0,
                    help="skip dense where 3 (H, N, N) float32 matrices exceed this")
    args = ap.parse_args(argv)
    print(f"# attention, batch 1, {args.heads} heads x {args.head_dim}, w={args.window}, "
          f"{args.n_global} global tokens, 1 thread, best of {args.repeats}; memory = peak RSS growth; "
          f"windowed kernel {args.kernel}")
    print(f"{'tokens':>7} | {'dense ms':>9} | {'windowed ms':>11} | {'ratio':>6} | {'dense MiB':>9} | "
          f"{'windowed MiB':>12} | {'ratio':>6}")
    notes = []
    for n in args.lengths:
        win, err = run("windowed", n, args)
        if win is None:
            print(f"{n:>7} | windowed failed: {err}")
            continue
        dense_gib = 3 * args.heads * (n + args.n_global) ** 2 * 4 / 2**30
        if dense_gib > args.dense_max_gib:
            den = None
            notes.append(f"dense skipped at {n} tokens: ~{dense_gib:.1f} GiB of score matrices > {args.dense_max_gib} GiB")
        else:
            den, err = run("dense", n, args)
            if den is None:
                notes.append(f"dense failed at {n} tokens: {err}")
        if den is None:
            print(f"{n:>7} | {'skipped':>9} | {win['ms']:>11.1f} | {'-':>6} | {'skipped':>9} | {win['mib']:>12.1f} | {'-':>6}")
        else:
            print(f"{n:>7} | {den['ms']:>9.1f} | {win['ms']:>11.1f} | {den['ms'] / win['ms']:>6.1f} | "
                  f"{den['mib']:>9.1f} | {win['mib']:>12.1f} | {den['mib'] / max(win['mib'], 1e-3):>6.1f}")
        sys.stdout.flush()
    for note in notes:
        print("# " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
