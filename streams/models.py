"""Encoders hosted by the runtime and the worker thread that runs their batches.

:class:`ModelHost` loads one encoder per modality (``RuntimeConfig.models``) through
``encoders.load`` and ``encoders.backends.make_backend`` (ONNX Runtime where available, so the
hot path needs no torch once the graph is cached). A model that cannot be loaded is reported in
``status`` and its streams still get windows with quality but an empty embedding.

:class:`EncoderWorker` runs one batch at a time in a thread (ONNX Runtime and torch release the
GIL) so that ingest and forecasting never wait for the encoder.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from biosig.flatline import with_gaps

log = logging.getLogger(__name__)


@dataclass
class HostedModel:
    """One loaded encoder: ``run(x (B, C, T)) -> (B, D)`` at ``input_fs_hz``."""

    name: str
    model_id: str
    modality: str
    input_fs_hz: float
    in_channels: int
    outside: object          # biosig Pipeline: the out-of-graph preprocessing
    backend: object          # encoders.backends.Backend
    pretrained: bool
    channel_index: object = None  # names -> positions in the model's lead vocabulary
    window_s: float = 0.0         # the window it was trained on (streams.config.stream_windows)
    vocabulary: tuple = ()        # its lead names in order (encoders.lead_choice.choose_channels)

    def run(self, x: np.ndarray, channels=None) -> np.ndarray:
        """Embed ``x`` (B, C, T); ``channels`` (B lists of C names) place each lead correctly."""
        idx = None
        if channels is not None and self.channel_index is not None:
            idx = np.array([self.channel_index(names) for names in channels], dtype=np.int64)
        return self.backend.run(x, channel_idx=idx)


class ModelHost:
    """Loads and keeps the configured encoders.

    Parameters
    ----------
    models : modality -> encoder name (``encoders.list_models()``) or checkpoint directory.
    backend : ``auto``, ``onnxruntime``, ``torch`` or ``tensorrt``.
    device, precision : passed to ``encoders.backends.make_backend``. A model may also be an
        exported ``.onnx`` / ``.plan`` file (preprocessing from its metadata, no checkpoint).
    """

    def __init__(self, models: dict, backend: str = "auto", device: str | None = None, precision: str = "fp32"):
        self.models: dict[str, HostedModel] = {}
        self.errors: dict[str, str] = {}
        self.device, self.precision = device, precision
        for modality, name in models.items():
            try:
                self.models[modality] = self._load(modality, name, backend)
            except Exception as exc:  # a missing model must not stop the other streams
                self.errors[modality] = f"{name}: {exc}"
                log.error("no encoder for %s streams: cannot load %s (%s)", modality, name, exc)

    def _load(self, modality: str, name: str, backend: str) -> HostedModel:
        import encoders
        from encoders.backends import cpu_cores, make_backend
        from encoders.errors import EncoderError
        t = time.perf_counter()
        threads = max(1, cpu_cores() - 1) if backend != "torch" else None
        if str(name).lower().endswith((".onnx", ".plan")):  # an exported file: no checkpoint needed
            from encoders.data import channel_index
            from encoders.inference import open_model
            im = open_model(name, backend, device=self.device, precision=self.precision, threads=threads)
            if im.config.modality != modality:
                raise ValueError(f"model {name} embeds {im.config.modality}, configured for {modality}")
            log.info("loaded %s for %s streams on %s in %.1f s", im.model_id, modality, im.backend.name,
                     time.perf_counter() - t)
            return HostedModel(name, im.model_id, modality, float(im.config.input_fs_hz),
                               int(im.config.in_channels or 1), im.outside, im.backend, True,
                               lambda names, c=im.config: channel_index(names, c), im.window_s,
                               tuple(im.config.channels))
        try:
            enc, pretrained = encoders.load(name), True
        except EncoderError:
            enc, pretrained = encoders.load(name, pretrained=False), False
            log.warning("no trained checkpoint for %s: serving the architecture with seeded random "
                        "weights (embeddings are deterministic but untrained)", name)
        cfg = enc.config
        if cfg.modality != modality:
            raise ValueError(f"model {name} embeds {cfg.modality}, configured for {modality}")
        # leave one core to the event loop so that forecasts never wait for an encoder batch
        be = make_backend(backend, enc, threads=threads, device=self.device, precision=self.precision)
        outside, _ = enc.pipeline.split_in_model()
        model_id = enc.model_id if pretrained else f"{enc.model_id}-untrained"
        log.info("loaded %s for %s streams on %s in %.1f s", model_id, modality, be.name,
                 time.perf_counter() - t)
        return HostedModel(name, model_id, modality, float(cfg.input_fs_hz), int(cfg.in_channels or 1),
                           outside, be, pretrained, enc.channel_index, enc.window_s, tuple(cfg.channels))

    def get(self, modality: str) -> HostedModel | None:
        return self.models.get(modality)

    def describe(self) -> dict:
        out = {m: {"model_id": h.model_id, "backend": h.backend.name, "pretrained": h.pretrained}
               for m, h in self.models.items()}
        out.update({m: {"error": e} for m, e in self.errors.items()})
        return out


BACKGROUND_NICE = 5


def background_thread_priority(nice: int = BACKGROUND_NICE):
    """Lower the calling thread's CPU priority (Linux: nice is per thread) so that, on a busy
    machine, the event loop and the forecast thread get a core first; best effort, silent where
    the platform has no per-thread nice. The encoder lanes, the score thread and the recorder's
    writer call it. A real-time policy inherited from the thread that started this one is dropped
    first (:func:`streams.priority.ordinary_thread`), and the OS thread takes the Python thread's
    name (``ps -L`` showed the recorder's writer as ``biosig-loop``, the name of its creator)."""
    import os

    from streams.priority import name_os_thread, ordinary_thread
    ordinary_thread()
    name_os_thread(threading.current_thread().name)
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except (AttributeError, OSError):
        pass


def row_qualities(win: np.ndarray, st) -> list[float] | None:
    """The quality of each row of the window ``win`` (C, W, flat runs as NaN) of input stream ``st``
    when its score measures one lead chosen by quality (ECG and PPG with more than one row,
    :func:`streams.scores.measured_lead`), else None. Computed once per window by the encoder worker
    and handed on: the fed rows' quality is their mean (as :func:`biosig.quality.block_quality`),
    :func:`fed_leads` and the score thread read them (each recomputed them: 4 rows' quality per
    2-lead window where 2 are needed, 5 with a model choosing one lead)."""
    from streams.ingest import LEAD_CHOICE_MODALITIES, window_quality   # scores.ONE_LEAD_MODALITIES, the same
    if st.modality not in LEAD_CHOICE_MODALITIES or win.shape[0] < 2:
        return None
    return [window_quality(win[i:i + 1], st.fs_out_hz, st.modality) for i in range(win.shape[0])]


def fed_leads(win: np.ndarray, st, rows: list[float] | None = None) -> list[int]:
    """Rows of the window ``win`` (C, W: the stream's preprocessed leads, flat runs as NaN) that
    input stream ``st``'s encoder is fed, in the order fed: every row unless ``st.chooses_leads``.

    A multi-lead ECG or PPG stream whose encoder takes fewer leads is fed the ones ``embed`` feeds it from a
    record (:func:`encoders.lead_choice.fed_lead_order`, the one rule, also behind ``score``'s): usable leads
    (not mostly missing, not constant), of those the ones passing the quality gate (:data:`biosig.quality.USABLE`)
    first, then the model's lead order (MLII as II), then the stream's. Offline the gate's share is counted over
    the record's windows; live over this window (what the runtime knows when it embeds it). Before, the stream's
    first lead was fed: leads ["V5", "II"] embedded V5 live and II offline. ``rows``: :func:`row_qualities` of
    ``win`` (None: computed here where needed)."""
    if not getattr(st, "chooses_leads", False):
        return list(range(win.shape[0]))
    from biosig.quality import USABLE
    from encoders.lead_choice import fed_lead_order, unusable_reasons
    from streams.ingest import window_quality

    def passes(cand: list[int]) -> dict[int, float]:   # this window's verdict per candidate lead, 1 or 0
        return {i: float((rows[i] if rows is not None else window_quality(win[i:i + 1], st.fs_out_hz, st.modality))
                         >= USABLE[st.modality]) for i in cand}
    return fed_lead_order(st.channels, st.modality, st.model.vocabulary, st.use_channels, unusable_reasons(win),
                          passes)


@dataclass
class Job:
    """Windows of one model (``None``: quality only) to embed.

    ``items[i]`` is the runtime's pending window ``(stream, window, flat, t_start_s, t_end_s,
    t_last_s, t_enqueued)``: ``stream`` the :class:`streams.ingest.InputStream` (for its rate and
    modality), ``flat`` where the window's samples are gaps (or None): recorded samples that were a
    flat line (ECG, PPG), or a recorded block whose channels cancel when mixed (stereo audio,
    :meth:`streams.ingest.InputStream.windows`). The worker fills ``measured`` (B windows: each with
    its gaps as NaN, what quality and the score measures see; the encoder is fed ``x`` unchanged),
    ``rows`` (B: :func:`row_qualities` of each, or None), ``fed`` (B lists: the rows of each
    window the encoder was fed, :func:`fed_leads`) and ``quality`` (B,: of the rows fed).
    """

    model: HostedModel | None
    x: np.ndarray            # (B, C, T) float32
    items: list
    t_submit: float
    measured: list | None = None
    rows: list | None = None
    fed: list | None = None
    quality: list | None = None


class EncoderWorker:
    """A thread that embeds one :class:`Job` at a time.

    ``submit`` is called only when ``idle``; results are read with ``poll_results`` after the
    ``notify`` callback fired (the runtime wakes its poller through an inproc socket).
    """

    def __init__(self, notify):
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self._results: queue.Queue = queue.Queue()
        self._notify = notify
        self.busy = False
        self.batches = 0
        self.windows = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._loop, name="biosig-encoder", daemon=True)
        self._thread.start()

    @property
    def idle(self) -> bool:
        return not self.busy

    def submit(self, job: Job):
        self.busy = True
        self._jobs.put(job)

    def _loop(self):
        background_thread_priority()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            from streams.ingest import window_quality
            emb, err, ms = None, None, 0.0
            try:
                job.measured = [with_gaps(w, it[2]) for w, it in zip(job.x, job.items)]
                job.rows = [row_qualities(m, it[0]) for m, it in zip(job.measured, job.items)]
                job.fed = [fed_leads(m, it[0], r) for m, it, r in zip(job.measured, job.items, job.rows)]
                t0 = time.perf_counter()
                if job.model is not None:
                    x = job.x if all(len(f) == job.x.shape[1] for f in job.fed) else \
                        np.stack([w[f] for w, f in zip(job.x, job.fed)])
                    emb = job.model.run(x, [[it[0].channels[i] for i in f] for f, it in zip(job.fed, job.items)])
                ms = (time.perf_counter() - t0) * 1e3    # model time only
                job.quality = [float(np.mean([r[i] for i in f])) if r is not None else
                               window_quality(m[f], it[0].fs_out_hz, it[0].modality)
                               for m, f, it, r in zip(job.measured, job.fed, job.items, job.rows)]
            except Exception as exc:  # reported per window, the runtime keeps going
                emb, err = None, f"{type(exc).__name__}: {exc}"
                log.error("encoder %s failed on a batch of %d: %s",
                          getattr(job.model, "model_id", "quality"), len(job.items), err)
            self._results.put((job, emb, err, ms))
            self._notify()

    def poll_results(self) -> list:
        out = []
        while True:
            try:
                job, emb, err, ms = self._results.get_nowait()
            except queue.Empty:
                return out
            self.busy = False
            self.batches += 1
            self.windows += len(job.items)
            self.failures += err is not None
            out.append((job, emb, err, ms))

    def stop(self):
        self._jobs.put(None)
        self._thread.join(timeout=10)
