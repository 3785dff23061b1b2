"""Checks of ``biosig pretrain`` before and while it trains (split from :mod:`encoders.pretrain`):
the ``--out`` folder (a checkpoint is continued with ``--resume``, never overwritten; one without its
training state is refused untouched), a resume's settings against the saved run's, the training
state file, a masking task that cannot teach anything, and the divergence error. Resume rules: see
the :mod:`encoders.pretrain` docstring."""
from __future__ import annotations

import dataclasses
import json
import logging
import pathlib

import torch

from biosig import json_text
from encoders.errors import CheckpointError, EncoderError

log = logging.getLogger("encoders.pretrain")

STATE_FILE = "train_state.pt"
#: files that make ``--out`` a checkpoint folder (continued only with ``--resume``)
CHECKPOINT_FILES = ("weights.pt", "config.json", "meta.json", STATE_FILE)
#: TrainConfig fields a resume may change: the step budget, how often it reports and saves, how it
#: shows progress, torch.compile, and the folder's path (a moved folder). ``pipeline`` (a path) and
#: ``overrides`` are compared by what they give: the pipeline hash and the model config.
RESUME_MAY_CHANGE = frozenset({"steps", "ckpt_every", "log_every", "progress", "compile", "resume", "out_dir"})
_COMPARED_BY_CONTENT = frozenset({"pipeline", "overrides"})


def check_out_dir(out: pathlib.Path, resume: bool) -> None:
    """Before any work: ``--out`` is a folder that can be written, and a checkpoint already in it
    is continued (``--resume``), never silently overwritten; one without its training state cannot
    be continued and is refused untouched."""
    from biosig.outputs import check_output_dir
    held = out.is_dir() and any((out / f).exists() for f in CHECKPOINT_FILES)
    if not resume and held:
        raise EncoderError(f"{out} already holds a checkpoint; add --resume to continue it, or give a new --out "
                           "(delete the folder to start over)")
    if resume and held and not (out / STATE_FILE).is_file():
        raise EncoderError(f"{out} holds a checkpoint without its training state ({STATE_FILE}): it cannot be "
                           f"resumed; to train on from its weights give a new --out and --init-from {out}")
    check_output_dir(out, "--out")


def new_folders(out: pathlib.Path) -> list[pathlib.Path]:
    """The folders a run into ``out`` creates (``out`` and missing parents), deepest first."""
    return [p for p in (out, *out.parents) if not p.exists()]


def remove_if_empty(folders) -> None:
    """Remove the folders of :func:`new_folders` that a failed run left empty."""
    for d in folders:
        try:
            d.rmdir()   # only an empty folder
        except OSError:
            return


def read_state(path: pathlib.Path) -> dict:
    """The training state in ``path``, or one line saying it cannot be read."""
    import pickle
    try:
        st = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, EOFError, RuntimeError, ValueError, TypeError, KeyError, AttributeError, ImportError,
            IndexError, pickle.UnpicklingError) as exc:
        why = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0]   # torch's first sentence
        raise CheckpointError(f"{path}: unreadable training state ({why}); it cannot be resumed (restore the "
                              f"file, or give a new --out and --init-from {path.parent})") from None
    keys = ("step", "model", "optimizer", "rng", "model_config", "train_config")
    if not isinstance(st, dict) or any(k not in st for k in keys):
        raise CheckpointError(f"{path}: not a biosig training state (expected the keys {', '.join(keys)}); it "
                              f"cannot be resumed")
    return st


def _flag(name: str) -> str:
    """The CLI flag of a TrainConfig field (weight_decay and grad_clip have none: the field name)."""
    return name if name in ("weight_decay", "grad_clip") else "--" + name.replace("_", "-")


def _field_default(f: dataclasses.Field, given):
    """What a state saved before field ``f`` existed ran with: its default (no default: ``given``)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return given


def resume_differences(saved: dict, cfg, model_config: dict, saved_model_config: dict,
                       pipeline_hash: str, saved_pipeline_hash: str | None, skip: tuple[str, ...] = ()) -> list[str]:
    """``name: saved -> given`` for each setting of ``cfg`` (outside :data:`RESUME_MAY_CHANGE` and
    ``skip``), model config field and pipeline hash that differs from the saved run's."""
    diffs = []
    for f in dataclasses.fields(cfg):
        if f.name in RESUME_MAY_CHANGE or f.name in _COMPARED_BY_CONTENT or f.name in skip:
            continue
        given = getattr(cfg, f.name)
        old, new = json_text.finite(saved.get(f.name, _field_default(f, given))), json_text.finite(given)
        if old != new:
            diffs.append(f"{_flag(f.name)}: {json_text.dumps(old)} -> {json_text.dumps(new)}")
    for key in sorted(set(saved_model_config) | set(model_config)):
        old, new = json_text.finite(saved_model_config.get(key)), json_text.finite(model_config.get(key))
        if old != new:
            diffs.append(f"{key}: {json_text.dumps(old)} -> {json_text.dumps(new)}")
    if saved_pipeline_hash is not None and saved_pipeline_hash != pipeline_hash:
        diffs.append(f"pipeline: {saved_pipeline_hash[:12]} -> {pipeline_hash[:12]}")
    return diffs


def resume_state(out: pathlib.Path, cfg, config, pipeline) -> dict | None:
    """The checked training state of ``out`` (None: nothing to resume, the run starts at step 0)."""
    path = out / STATE_FILE
    if not path.is_file():
        log.warning("--resume: no %s in %s, starting from step 0", STATE_FILE, out)
        return None
    st = read_state(path)
    # a state that holds the data's fingerprint is compared by content once the data are read
    # (same_data); before it (older states) --data is compared as written
    skip = ("data",) if "data_sha" in st else ()
    if _windows(st["train_config"], config) == _windows(dataclasses.asdict(cfg), config):
        skip += ("window_s", "hop_s")   # the default given by its value (--window-s 10 for ecg) is the same window
    diffs = resume_differences(st["train_config"], cfg, config.to_dict(), st["model_config"], pipeline.hash,
                               st.get("pipeline_hash"), skip=skip)
    if diffs:
        may = ", ".join(_flag(n) for n in sorted(RESUME_MAY_CHANGE - {"resume", "out_dir", "progress"}))
        raise EncoderError(f"{out}: cannot resume with other settings than the run was started with ("
                           f"{'; '.join(diffs)}); give the same ones (only {may} and --no-progress may change), "
                           "or start a new --out")
    return st


def _windows(train_config: dict, config) -> tuple[float, float]:
    """(window, hop) in s that a run of ``train_config`` cuts (as encoders.data.build_windows does)."""
    from biosig.pipeline import default_window
    from biosig.windows import hop_for_window_s
    window_s = float(train_config.get("window_s") or config.window_s or default_window(config.modality)[0])
    return window_s, float(train_config.get("hop_s") or hop_for_window_s(config.modality, window_s))


def same_data(out: pathlib.Path, st: dict, data, data_sha: str) -> None:
    """Refuse to resume on other training windows than the run was started with: ``--data`` is
    compared by content (``data_sha``, :meth:`encoders.data.WindowSet.fingerprint` of ``data``: the
    same folder by another path is the same data; a recording added to it, or a relative path from
    another folder, is not). States saved before the fingerprint: not checked."""
    if "data_sha" not in st or st["data_sha"] == data_sha:
        return
    then = f"{st.get('n_windows', '?')} windows from {st.get('n_sources', '?')} sources"
    raise EncoderError(f"{out}: cannot resume on other training data than the run was started with ({then} "
                       f"then, {len(data)} windows from {len(set(data.sources))} sources now, or the same number "
                       f"with other samples: a recording added, removed or changed, a relative --data from "
                       f"another folder, or synthetic data from another biosig version); give the same data, or "
                       f"start a new --out (--init-from {out} keeps the weights)")


def already_done(out: pathlib.Path, step: int, cfg) -> dict:
    """A resume whose ``--steps`` the checkpoint has reached: say so, change nothing, return its metrics."""
    log.warning("%s is already at step %d (--steps %d): nothing to train; give --steps above %d to continue it",
                out, step, cfg.steps, step)
    try:
        meta = json.loads((out / "meta.json").read_text())
    except (OSError, ValueError):
        meta = {}
    return meta.get("final_metrics") or {"step": step}


def _tokens_per_window(config, window_s: float) -> tuple[int, int] | None:
    """(time tokens, channels) of a training window of ``window_s`` for the patch tokenizers
    (encoders/tokenizers.py); None for the beat tokenizer (its tokens depend on the signal)."""
    if config.tokenizer != "patch":
        return None
    samples = int(round(window_s * config.input_fs_hz))
    if config.modality == "audio":   # log-mel frames (1 + T // hop), patch_size frames a patch
        return (1 + samples // config.hop_length) // config.patch_size, 1
    return samples // config.patch_size, (3 if config.modality == "spiro" else 1)   # spiro: 3 derived channels


def check_masking(config, window_s: float) -> None:
    """Masked reconstruction needs >= 2 tokens per window and a mask that hides at least one: else the
    task is trivial (loss ~0, zero gradients) and the run trains nothing, silently."""
    if "mae" not in config.objective.split("+"):
        return
    shape = _tokens_per_window(config, window_s)
    if shape is None:
        return
    tokens, channels = shape
    if tokens < 2:
        unit = "log-mel patch(es)" if config.modality == "audio" else f"patch(es) of {config.patch_size} samples"
        raise EncoderError(f"--window-s {window_s:g} holds {tokens} {unit} at {config.input_fs_hz:g} Hz; masked "
                           "reconstruction needs at least 2: use a longer --window-s")
    n = tokens * channels
    if n - max(1, int(n * (1 - config.mask_ratio))) < 1:
        raise EncoderError(f"mask_ratio={config.mask_ratio:g} masks none of the {n} tokens of a window: masked "
                           "reconstruction would learn nothing; use a larger --set mask_ratio=... (default 0.6)")


def check_attention_kernel(config, device: torch.device) -> None:
    """Training needs a backward pass: FlexAttention has none off CUDA, so ``--set attn_kernel='"flex"'`` (or
    $BIOSIG_ATTN_KERNEL=flex) on a CPU failed on the first step with a ValueError traceback."""
    import os

    from encoders.attention import ENV_KERNEL
    kernel = config.attn_kernel if config.attn_kernel != "auto" else os.environ.get(ENV_KERNEL) or "auto"
    if kernel == "flex" and device.type != "cuda":
        where = "attn_kernel" if config.attn_kernel == "flex" else f"${ENV_KERNEL}"
        raise EncoderError(f"{where} flex cannot train on {device.type} (FlexAttention has no backward there); "
                           "use blocked, sdpa or auto there, or train on a CUDA GPU")


def check_batch_windows(batch_size: int, n_windows: int) -> None:
    """A ``--batch-size`` above the number of training windows repeats windows inside every step
    (:func:`encoders.pretrain_steps.step_indices` spans several epochs a step): trained on, said once."""
    if n_windows > 0 and batch_size > n_windows:
        log.warning("--batch-size %d is more than the %d training windows: each step sees every window about %.1f "
                    "times (with other masks); give more --data or a --batch-size of at most %d",
                    batch_size, n_windows, batch_size / n_windows, n_windows)


def train_window_s(cfg, config) -> float:
    """The training window of ``cfg`` (as encoders.data.build_windows picks it)."""
    from biosig.pipeline import default_window
    return cfg.window_s or config.window_s or default_window(config.modality)[0]


def nonfinite_error(out, first_bad: int, cfg, saved_step: int | None) -> EncoderError:
    kept = (f"the checkpoint of step {saved_step} in {out} is kept" if saved_step
            else "no checkpoint was written")
    return EncoderError(f"training diverged: the loss or gradient is not finite at step {first_bad} (--lr {cfg.lr:g}, "
                        f"--warmup-steps {cfg.warmup_steps}); nothing of it was saved ({kept}); start again with a "
                        f"lower --lr (e.g. --lr {cfg.lr / 10:g}) or more --warmup-steps")


def _available_bytes(device: torch.device) -> int | None:
    """Memory a training step can still take on ``device``: free GPU memory, or the kernel's
    MemAvailable on the CPU (None where it cannot be told)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def window_shape_samples(window_shape: tuple[int, ...]) -> int:
    """The samples of one window of shape ``window_shape``."""
    samples = 1
    for n in window_shape:
        samples *= int(n)
    return samples


def step_bytes_per_window(config, window_shape: tuple[int, ...], itemsize: int = 4) -> int:
    """A lower bound on the memory one window of a training batch takes: its samples, plus one
    ``dim``-wide float per token and encoder block (each block's output is kept for the backward
    pass; attention, the MLP and the decoder take more). Tokens: samples / patch for the patch
    tokenizer, log-mel frames / patch for audio; the beat tokenizer counts none (its beat count is
    not known before the beats are found)."""
    samples = 1
    for n in window_shape:
        samples *= int(n)
    length = int(window_shape[-1]) if window_shape else 0
    tokens = 0
    if config.tokenizer == "patch":
        frames = length // config.hop_length if config.modality == "audio" else length
        tokens = frames // max(1, config.patch_size)
    return samples * itemsize + config.depth * tokens * config.dim * 4


def block_bytes_per_window(config, window_shape: tuple[int, ...], act_bytes: int = 4) -> int:
    """A lower bound on the activations one window of a training batch keeps for the backward pass in
    the transformer blocks (patch tokenizers; 0 for the beat tokenizer): per block and token the two
    LayerNorm inputs, q, k, v, the attention output and its projection ((7 + 2 * mlp_ratio) * dim: the
    MLP hidden layer before and after its activation) and the attention weights (heads * (n_global + 3 *
    attn_window)); the encoder sees the visible tokens of masked reconstruction, the decoder all.
    ``act_bytes``: 4 (float32), 2 under CUDA's bfloat16 autocast. ecg-tiny on a CPU: 2.8 MiB, measured
    5.9 MiB (peak memory of one step at batch 16 and 64); :func:`step_bytes_per_window` counted 0.3."""
    shape = _tokens_per_window(config, int(window_shape[-1]) / config.input_fs_hz) if window_shape else None
    if shape is None:
        return 0
    n = shape[0] * shape[1]
    mae = "mae" in config.objective.split("+")
    seen = max(1, int(n * (1 - config.mask_ratio))) if mae else n

    def per_token(dim, heads):
        return (7 + 2 * config.mlp_ratio) * dim + heads * (config.n_global + 3 * config.attn_window)

    floats = config.depth * seen * per_token(config.dim, config.heads)
    if mae:
        floats += config.decoder_depth * n * per_token(config.decoder_dim, config.decoder_heads)
    return int(floats * act_bytes)


def check_batch_memory(batch_per_process: int, config, window_shape: tuple[int, ...], device: torch.device,
                       itemsize: int = 4) -> None:
    """Before the first step: refuse a ``--batch-size`` whose lower bound on memory
    (:func:`step_bytes_per_window`, :func:`block_bytes_per_window`) is more than the device has free,
    and warn when twice it is (a step took about twice the bound on a CPU). ``--batch-size 100000000``
    ran for over a minute before failing, and ``--batch-size 5000`` of ecg-tiny (29 GiB a step) was
    killed by the kernel after five minutes without a word on a machine with 22 GiB free."""
    act_bytes = 2 if device.type == "cuda" else 4   # bfloat16 autocast on CUDA
    per_window = max(step_bytes_per_window(config, window_shape, itemsize),
                     int(window_shape_samples(window_shape)) * itemsize
                     + block_bytes_per_window(config, window_shape, act_bytes))
    free = _available_bytes(device)
    if free is None or per_window <= 0:
        return
    need = batch_per_process * per_window
    if free >= need and 2 * need > free:
        log.warning("--batch-size %d may not fit: one step needs at least %.1f GiB, likely about twice that, and "
                    "%.1f GiB are free on %s; a run out of memory can be killed without a word (exit code 137): "
                    "a --batch-size under %d is safer", batch_per_process, need / 2 ** 30, free / 2 ** 30,
                    device.type, max(1, free // (2 * per_window)))
    if need > free:
        fits = max(1, free // per_window)
        raise EncoderError(f"--batch-size {batch_per_process} needs at least {need / 2 ** 30:.1f} GiB per step "
                           f"({per_window / 2 ** 20:.2f} MiB a window: its samples and the activations kept for "
                           f"the backward pass), more than the {free / 2 ** 30:.1f} GiB free on {device.type}; "
                           f"use a --batch-size well under {fits}")
