"""Options shared by the encoder commands (``embed``, ``pretrain``, ``score``, ``probe``, ``serve``): the backend,
device and precision flags, ``--audio-fmax-hz``, the empty-path check and the ``--threads`` bound.

Imports only argparse at top level so ``biosig --help`` stays fast.
"""
from __future__ import annotations

import argparse

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")   # mirrors encoders.backends.KINDS
PRECISIONS = ("fp32", "bf16", "fp16")                     # mirrors encoders.backends.TORCH_PRECISIONS


def device_arg(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` (argparse type)."""
    t = text.strip().lower()
    if t in ("cpu", "cuda") or (t.startswith("cuda:") and t[5:].isdigit()):
        return t
    raise argparse.ArgumentTypeError(f"{text!r} is not a device; use cpu, cuda or cuda:N")


def add_backend_args(p, default_backend="auto", default_help="auto") -> None:
    """``--backend``, ``--device`` and ``--precision``: the same three flags on embed, score and serve."""
    p.add_argument("--backend", choices=BACKENDS, default=default_backend,
                   help=f"inference backend (default {default_help}): torch, onnxruntime, tensorrt (a .plan "
                        "engine) or auto (the fastest available; on a CPU measured once per model and machine)")
    p.add_argument("--device", type=device_arg, default=None, metavar="cpu|cuda[:N]",
                   help="where the backend runs (default: a CUDA GPU when one is visible, else cpu)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="torch backend: fp32 (default), or bf16/fp16 autocast (for CUDA GPUs; tolerances in "
                        "docs/gpu.md). Exported graphs keep their export precision (fp32, fp16 or int8)")


def audio_band_arg(text: str):
    """``--audio-fmax-hz``: ``common`` or a frequency in Hz above 0 (argparse type; the model's Nyquist
    is checked once the model is open)."""
    if text == "common":
        return text
    try:
        hz = float(text)
    except ValueError:
        hz = float("nan")
    if not 0 < hz < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a frequency in Hz above 0 (e.g. 1800), or common")
    return hz


def add_audio_band_argument(p, rows: str = "") -> None:
    """``--audio-fmax-hz HZ|common`` (embed, score, probe): :mod:`biosig.audio_band`."""
    p.add_argument("--audio-fmax-hz", type=audio_band_arg, default=None, metavar="HZ|common",
                   help="audio models: low-pass every recording to 0-HZ at the model's rate before the model" + rows
                        + ", so a set recorded at several rates is compared on one band; common: the band every "
                        "file's rate holds (0.45 x the lowest rate, from the files' headers: 1800 Hz for a set with "
                        "4 kHz files). Recorded with the output; default: the whole band")


def check_paths(paths, what: str, expected: str = "recordings, record names or folders ('.' for the current "
                                                     "folder)") -> None:
    """An empty path (``--data "$DATA"`` with DATA unset) is refused: read as the current folder, it
    trained on or embedded whatever recordings lay there, without a word (an empty --init-from or
    --pipeline was ignored: a run from scratch, on the default pipeline)."""
    from biosig.errors import BiosigError
    if any(not str(p).strip() for p in paths):
        raise BiosigError(f"{what}: an empty path (an unset shell variable?); give {expected}")


def usable_threads(requested: int | None) -> int | None:
    """``--threads`` when this process may use that many CPUs, else a one-line error: 100000 threads made OpenBLAS
    fail to start its pool and ``score`` hang (``embed`` too); more threads than CPUs only time-share them."""
    from biosig.cpus import usable_cpus
    from biosig.errors import BiosigError
    n = usable_cpus()
    if requested is not None and requested > n:
        raise BiosigError(f"--threads {requested}: this process may use {n} CPU(s); give at most {n}, "
                          "or leave --threads out for the free cores")
    return requested
