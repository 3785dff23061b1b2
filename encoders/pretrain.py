"""MAE pretraining loop behind ``biosig pretrain``: one CPU, one GPU or many under ``torchrun``.

Determinism and exact resume: the data order of step ``s`` is a pure function of ``(seed, s)``
(a permutation per epoch from ``numpy.random.default_rng``), the masking noise of step ``s`` comes
from a generator seeded with ``(seed, s)`` and is drawn for the whole global batch, and every
checkpoint stores the optimizer and RNG states (the learning rate is a pure function of the step). A run resumed from step k therefore
takes the same steps as one that never stopped, and ``W`` data-parallel processes with per-rank
batch ``B / W`` follow the same loss curve as one process with batch ``B``.

Throughput (loop mechanics): the training windows live on the training device when they fit
(a quarter of the free GPU memory; on a CPU they are the NumPy buffer itself), so a step moves
only its index vector; the masking noise is drawn on the device by a generator seeded per step;
nothing reads a value back to the host during a step: loss, MSE and gradient norm are summed on
the device and reduced (and, under DDP, all-reduced) every ``log_every`` steps and at every
checkpoint, and ``metrics.jsonl`` gets the mean over those steps. AdamW runs fused where the
device supports it, and ``compile=True`` runs the forward pass under ``torch.compile``. The
objective is computed in one place, :func:`training_loss`. The step mechanics (data order, learning
rate, optimizer, checkpoint writing) live in :mod:`encoders.pretrain_steps`.

Resume (``resume=True``): the folder's ``train_state.pt`` is read and checked before any data is
loaded. A resume takes the settings the run was started with; only those in
:data:`RESUME_MAY_CHANGE` (the step budget ``steps`` - the cosine schedule then runs to the new
total from the resume step on -, ``ckpt_every``, ``log_every``, ``progress``, ``compile``, and
``out_dir`` for a moved folder) may differ. Any other difference (data, seed, lr, batch, synthetic
data, window, ...) or another model config or pipeline is one error listing each as
``name: saved -> given``. A folder with a checkpoint but no ``train_state.pt`` cannot be resumed
(an error; nothing in it changes); an empty or missing folder starts at step 0. A checkpoint already
at ``steps`` or beyond is left as it is (a warning; its final metrics are returned).

Divergence: a non-finite loss or gradient norm stops the run with an :class:`EncoderError` (exit
code 2 from the CLI) naming the first such step; the weights of that run are never saved, so the
last checkpoint written (if any) stays. ``metrics.jsonl`` is strict JSON (``null`` for non-finite).

Provenance (:mod:`encoders.pretrain_provenance`): ``data_manifest.json`` lists every recording file
trained on with its SHA-256; meta.json adds its summary, the software versions, the resumes (a
``--steps`` change stretches the schedule: said, and recorded) and the records of the project's
evaluation sets found in the data by content (the file's bytes, or its decoded samples for a converted
copy: :mod:`encoders.pretrain_evaluation_sets`) and the synthetic records on the held-out seeds of
eval_probe's synthetic tasks (said in a warning: never pretrain on records you evaluate on).

Progress: a tqdm bar on a terminal (the data read has its own); otherwise (nohup, CI) one line on
stderr every ``BIOSIG_PROGRESS_S`` seconds (default 10) while the data is read and while it trains;
``progress=False`` (``--no-progress``) turns both off.
"""
from __future__ import annotations

import gc
import logging
import math
import os
import pathlib
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from biosig import json_text
from biosig.interrupts import interrupts_deferred
from encoders.arguments import check_train_config
from encoders.config import get_config
from encoders.errors import CheckpointError, EncoderError
from encoders.model import EncoderModel, count_parameters
from encoders.objectives import reconstructs
from encoders.pretrain_data import load_data  # noqa: F401 (re-exported: encoders.pretrain.load_data)
from encoders.pretrain_init import copy_init_weights, init_source
from encoders.pretrain_checks import (RESUME_MAY_CHANGE, STATE_FILE, already_done, check_attention_kernel,
                                     check_batch_memory, check_batch_windows, check_masking, check_out_dir,
                                     new_folders, nonfinite_error, remove_if_empty, resume_state, same_data,
                                     train_window_s)
from encoders.pretrain_evaluation_sets import evaluation_content, merge_overlap, synthetic_overlap
from encoders.pretrain_pipeline import default_training_pipeline, load_pipeline_file
from encoders.pretrain_provenance import data_manifest, overlap_warning, provenance, resume_entry
from encoders.pretrain_progress import ProgressLines
from encoders.pretrain_steps import (METRICS_FILE, adamw, lr_factor, resident, save_step, step_indices,  # noqa: F401
                                     training_loss, truncate_metrics)   # lr_factor, step_indices: re-exported

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Pretraining settings (all from the CLI flags of ``biosig pretrain``)."""

    modality: str
    out_dir: str
    preset: str = "tiny"
    data: tuple[str, ...] = ()
    synthetic: bool = False
    synthetic_records: int = 32
    synthetic_seconds: float = 60.0
    synthetic_rhythm_records: int = 0   # ECG: encoders.data.synthetic_rhythm_records; PPG: synthetic_pulse_records
    synthetic_rhythm_atrial: bool = False   # ... with atrial activity varying (synthetic_atrial_records)
    synthetic_pulse_arrhythmia: bool = False   # PPG: ... also PAC, PVC, SVT and VT records (ARRHYTHMIA_PULSE_KINDS)
    synthetic_blow_records: int = 0     # spiro: encoders.data.synthetic_blow_records
    synthetic_lung_records: int = 0     # audio: encoders.data.synthetic_lung_records (auscultation)
    steps: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 10
    grad_clip: float = 1.0
    seed: int = 0
    ckpt_every: int = 50
    log_every: int | None = None   # report every N steps (None: 1 on a CPU, 25 on CUDA)
    window_s: float | None = None
    hop_s: float | None = None
    resume: bool = False
    init_from: str | None = None
    progress: bool = True
    overrides: dict = field(default_factory=dict)
    compile: bool = False          # torch.compile the forward pass
    pipeline: str | None = None    # a pipeline JSON file (None: the modality's default pipeline)
    channel: str | None = None     # the one channel of each --data record to train on, by name (None: the reader's pick)

    def __post_init__(self):
        check_train_config(self)


def _dist_info():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def pretrain(cfg: TrainConfig) -> dict:
    """Run (or resume) pretraining; returns the final metrics. Writes into ``cfg.out_dir``:
    the checkpoint (config.json, pipeline.json, weights.pt, meta.json), ``train_state.pt`` and
    ``metrics.jsonl`` (one JSON object per logged step). Resume rules, divergence and progress: see
    the module docstring. A failed run removes the ``--out`` folder it created when nothing was
    written in it. A process group this call creates (several processes under torchrun) is
    destroyed when it returns or fails: left to interpreter exit, gloo's threads can abort a rank
    ("terminate called without an active exception")."""
    was_initialized = torch.distributed.is_available() and torch.distributed.is_initialized()
    created = new_folders(pathlib.Path(cfg.out_dir))
    where: dict = {}   # the step trained and the step saved, for a Ctrl-C; the progress lines, closed here
    try:
        return _pretrain(cfg, where)
    except BaseException as exc:
        if _dist_info()[1] == 0:
            remove_if_empty(created)
            if isinstance(exc, KeyboardInterrupt) and "step" in where:
                _say_interrupted(cfg, where)
        raise
    finally:
        if (progress := where.get("progress")) is not None:   # a stage's heartbeat, were a check to fail in it
            progress.close()
        if not was_initialized and torch.distributed.is_available() and torch.distributed.is_initialized():
            leave_process_group()


def leave_process_group() -> None:
    """Destroy the default process group, after the objects that still hold it.

    DistributedDataParallel sits in a reference cycle: it outlives ``_pretrain`` until a garbage
    collection, and its reducer keeps the gloo group alive past ``destroy_process_group``; the group
    was then torn down whenever the collector ran, or at interpreter exit, where gloo's threads can
    abort the rank ("terminate called without an active exception": a fresh-clone CI run's torchrun
    test, rank 1 SIGABRT). Collected first, the group goes with the destroy call."""
    gc.collect()
    torch.distributed.destroy_process_group()


def _say_interrupted(cfg: TrainConfig, where: dict) -> None:
    """A run stopped by Ctrl-C: what it kept, and how to continue it."""
    if where.get("saved"):
        log.warning("interrupted at step %d of %d: the checkpoint of step %d in %s is kept; continue it exactly "
                    "with the same command and --resume", where["step"], cfg.steps, where["saved"], cfg.out_dir)
    else:
        log.warning("interrupted at step %d of %d, before the first checkpoint (--ckpt-every %d): nothing was saved",
                    where["step"], cfg.steps, cfg.ckpt_every)


def _pretrain(cfg: TrainConfig, where: dict | None = None) -> dict:
    world, rank, local = _dist_info()
    out = pathlib.Path(cfg.out_dir)
    if cfg.batch_size % world:
        raise EncoderError(f"--batch-size {cfg.batch_size} must be divisible by the {world} processes")
    if cfg.steps < 1:
        raise EncoderError(f"--steps must be >= 1, got {cfg.steps}")
    check_out_dir(out, cfg.resume)
    device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    torch.manual_seed(cfg.seed)
    if "modality" in cfg.overrides and cfg.overrides["modality"] != cfg.modality:   # the model for other data
        raise EncoderError(f"--set modality={json_text.dumps(cfg.overrides['modality'])} contradicts --modality "
                           f"{cfg.modality}: give the modality with --modality only")
    config = get_config(f"{cfg.modality}-{cfg.preset}", **cfg.overrides)
    pipeline = load_pipeline_file(cfg.pipeline, config) if cfg.pipeline else default_training_pipeline(config)
    check_masking(config, train_window_s(cfg, config))
    check_attention_kernel(config, device)
    st = resume_state(out, cfg, config, pipeline) if cfg.resume else None   # before the data: fail fast
    if st is not None and int(st["step"]) >= cfg.steps:
        return already_done(out, int(st["step"]), cfg)
    init = init_source(cfg.init_from, config) if cfg.init_from and st is None else None
    progress = ProgressLines(cfg.progress and rank == 0, bar=sys.stderr.isatty())
    where = {} if where is None else where
    where["progress"] = progress
    content = evaluation_content() if rank == 0 and cfg.data else None   # converted evaluation records
    data = load_data(cfg, config, pipeline, progress, watch=content)
    progress.stage("hashing the data (fingerprint, manifest)")   # seconds for a corpus: its files' SHA-256 too
    data_sha = data.fingerprint()
    if st is not None:
        same_data(out, st, data, data_sha)
    prov = manifest = None
    if rank == 0:   # what the run trains on and with (meta.json, data_manifest.json); evaluation records said
        resumes = []
        if st is not None:   # this resume, after those before it (a --steps change is said)
            resumes = [*st.get("resumes", []), resume_entry(st, cfg, int(st["step"]), RESUME_MAY_CHANGE, lr_factor)]
        manifest = data_manifest(data.sources)
        if cfg.channel is not None:   # the channel of each record trained on (meta.json: train_config)
            manifest["channel"] = cfg.channel
        prov = provenance(manifest, data_sha, resumes)
        kept = set(data.sources)   # evaluation records by samples (of those trained on) and synthetic seeds
        by_samples = {k: [r for r in v if r in kept] for k, v in (content.found if content else {}).items()}
        by_samples = {k: v for k, v in by_samples.items() if v}
        prov["evaluation_overlap"] = merge_overlap(prov["evaluation_overlap"], by_samples,
                                                   synthetic_overlap(data.sources))
        if prov["evaluation_overlap"]:
            log.warning(overlap_warning(prov["evaluation_overlap"]))
    progress.stage("building the model and optimiser")   # 2-8 s: torch imports its compiler for AdamW
    model = EncoderModel(config)
    if init is not None:
        copy_init_weights(model, *init)
    model = model.to(device)
    opt = adamw(model, cfg, device)
    start = 0
    if st is not None:
        try:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{out / STATE_FILE}: does not match its model ({str(exc).splitlines()[0]}); "
                                  "it cannot be resumed") from None
        torch.set_rng_state(st["rng"]["torch"])
        np.random.set_state(st["rng"]["numpy"])
        start = int(st["step"])
        log.info("resuming %s at step %d", out, start)
    with_mse = reconstructs(config.objective)   # metrics.jsonl's mse: only with the masked-reconstruction term
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        truncate_metrics(out / METRICS_FILE, start, drop=() if with_mse else ("mse",))
    ddp = model
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if device.type == "cuda" else None)
    per_rank = cfg.batch_size // world
    x_all, ids_all = resident(torch.from_numpy(data.x), device), resident(torch.from_numpy(data.channel_idx), device)
    check_batch_memory(per_rank, config, data.x.shape[1:], device, data.x.itemsize)   # free once the data is placed
    n_params = count_parameters(model)
    log.info("pretraining %s (%d parameters) on %d windows, world %d", config.name, n_params, len(data), world)
    if rank == 0:
        check_batch_windows(cfg.batch_size, len(data))
    if cfg.warmup_steps >= cfg.steps and rank == 0:
        log.warning("--warmup-steps %d is not below --steps %d: the learning rate rises for the whole run and "
                    "never reaches --lr %g (the warm-up ends at step %d)", cfg.warmup_steps, cfg.steps, cfg.lr,
                    cfg.warmup_steps)
    bar = None
    if cfg.progress and rank == 0 and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=start, desc=f"pretrain {config.name}", unit="step")
    log_every = cfg.log_every or (25 if device.type == "cuda" else 1)
    if log_every < 1:
        raise EncoderError(f"--log-every must be >= 1, got {log_every}")
    gen = torch.Generator(device=device)
    clocs = config.objective.endswith("clocs")
    if clocs:   # recording id of every window: the positives of the clocs objective
        from encoders.objectives import pair_indices
        groups = np.unique(np.asarray(data.sources), return_inverse=True)[1].astype(np.int64)
        groups_all = torch.from_numpy(groups).to(x_all.device)
    fwd = torch.compile(ddp) if cfg.compile else ddp
    metrics = {}
    acc = torch.zeros(5, device=device)   # sums of loss, mse, grad norm, nce, desc since the last report
    finite_run = torch.ones((), dtype=torch.bool, device=device)   # every step since the report finite so far
    n_finite = torch.zeros((), device=device)   # steps since the report before the first non-finite one
    since = 0
    saved_step = start or None
    where.update(step=start, saved=saved_step)
    # training seconds before this run: elapsed_s counts from step 0 across resumes (the steps a killed
    # run made after its last checkpoint are run again and counted once)
    elapsed_before_s = float(st.get("elapsed_s") or 0.0) if st is not None else 0.0
    t_start = time.perf_counter()
    t_loop = time.monotonic()
    model.train()
    progress.close()   # the steps say themselves from here
    try:
        for step in range(start, cfg.steps):
            where["step"] = step
            idx = step_indices(cfg.seed, step, len(data), cfg.batch_size)[rank * per_rank:(rank + 1) * per_rank]
            idx_t = torch.from_numpy(idx).to(x_all.device, non_blocking=True)
            xb = x_all.index_select(0, idx_t).to(device, non_blocking=True)
            ib = ids_all.index_select(0, idx_t).to(device, non_blocking=True)
            gen.manual_seed(cfg.seed * 1_000_003 + step)
            pair = None
            if clocs:   # another window of the same recording for every row (drawn for the global batch)
                gidx = step_indices(cfg.seed, step, len(data), cfg.batch_size)
                pidx = pair_indices(groups, gidx, cfg.seed, step)[rank * per_rank:(rank + 1) * per_rank]
                pidx_t = torch.from_numpy(pidx).to(x_all.device, non_blocking=True)
                pair = (x_all.index_select(0, pidx_t).to(device, non_blocking=True),
                        ids_all.index_select(0, pidx_t).to(device, non_blocking=True),
                        groups_all.index_select(0, idx_t).to(device, non_blocking=True))
            for g in opt.param_groups:
                g["lr"] = cfg.lr * lr_factor(step, cfg.warmup_steps, cfg.steps)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                res = training_loss(fwd, xb, ib, gen, (rank * per_rank, cfg.batch_size), pair)
            opt.zero_grad(set_to_none=True)
            res["loss"].backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            nce = res["nce"].detach().float() if "nce" in res else torch.zeros((), device=device)  # contrastive term
            desc = res["desc"].detach().float() if "desc" in res else torch.zeros((), device=device)  # descriptor term
            loss_d = res["loss"].detach().float()
            acc += torch.stack([loss_d, res["mse"].detach().float(), gnorm.detach().float(), nce, desc])
            finite_run &= torch.isfinite(loss_d) & torch.isfinite(gnorm.detach())   # on the device: no sync
            n_finite += finite_run
            since += 1
            checkpoint = (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps
            if (step + 1) % log_every == 0 or checkpoint:   # the only host synchronisation
                vals = acc / since
                if world > 1:
                    torch.distributed.all_reduce(vals)
                    vals /= world
                loss, mse, gn, nce_mean, desc_mean = vals.tolist()
                metrics = {"step": step + 1, "loss": loss, "mse": mse, "grad_norm": gn, "lr": opt.param_groups[0]["lr"],
                           "elapsed_s": round(elapsed_before_s + time.perf_counter() - t_start, 3)}
                if not with_mse:   # no reconstruction term: no mse (0.0 read as a perfect reconstruction)
                    del metrics["mse"]
                if "nce" in res:   # the contrastive term of encoders/objectives.py
                    metrics["nce"] = nce_mean
                if "desc" in res:   # the descriptor-regression term (encoders/descriptors.py)
                    metrics["desc"] = desc_mean
                if rank == 0:
                    with open(out / METRICS_FILE, "a") as fh:
                        fh.write(json_text.dumps(metrics) + "\n")
                if not (math.isfinite(loss) and math.isfinite(gn)):   # NaN spreads through the all-reduce
                    if world > 1:
                        torch.distributed.all_reduce(n_finite, op=torch.distributed.ReduceOp.MIN)
                    raise nonfinite_error(out, step + 2 - since + int(n_finite.item()), cfg, saved_step)
                acc.zero_()
                n_finite.zero_()
                since = 0
                if bar is not None:
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}", refresh=False)
            if bar is not None:
                bar.update(1)
            else:
                progress.step(step + 1, start, cfg.steps, t_loop, metrics)
            if checkpoint:
                # a Ctrl-C held until the step is saved and counted: one landing after train_state.pt was replaced
                # said "the checkpoint of step 2 is kept" over the step 4 on disk (fresh CI, 2026-12-07)
                with interrupts_deferred():
                    if rank == 0:
                        save_step(out, model, pipeline, opt, step + 1, cfg, config, data, metrics, n_params, data_sha,
                                  prov, manifest)
                        manifest = None   # written with the first checkpoint of this process
                    saved_step = step + 1
                    where["saved"] = saved_step
                if world > 1:
                    torch.distributed.barrier()
    finally:
        if bar is not None:
            bar.close()
    return metrics
