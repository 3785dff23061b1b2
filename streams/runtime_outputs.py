"""The runtime's output half: dynamic batches for the encoder lanes and every frame that leaves
the PUB socket (``emb/``, ``score/``, ``sig/``, ``hb/runtime``; the forecast worker sends
``fcst/`` and ``hold/`` through the same :meth:`OutputsMixin._send`).

Score frames (measures and heads, :mod:`streams.scores`) are computed and sent by
:class:`streams.scores.ScoreWorker` in its own thread, never on the event loop: neurokit2's beat
detection takes a few ms per ECG window, and on the event loop it delayed the receipt of marker
frames.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from streams import protocol
from streams.fair_share import admit

log = logging.getLogger("streams.runtime")

#: The largest batch of windows of streams catching up (:meth:`Lane.take`) when no real-time stream's window waits.
CATCHUP_MAX_BATCH = 4


class Lane:
    """Windows waiting for one encoder worker, one queue per stream, served round-robin.

    At most ``embed_queue`` windows wait in all; a stream holds at most its fair share of them
    (``embed_queue`` over the streams waiting, at least ``max_batch``): a full lane drops the
    oldest window of the stream holding most, so one client's huge frames (thousands of windows
    each) neither delay nor displace the windows of the others. Items are the runtime's
    ``(stream, window, flat, t_start_s, t_end_s, t_last_s, t_enqueued_monotonic)``.

    A stream's queue is keyed by its name, not by its :class:`streams.ingest.InputStream`: after a
    publisher restart the old session's waiting windows go out before the new session's, in one
    order. Keyed by the session's object, the two were served in turn as two streams, and
    ``emb/<stream>`` stepped back and forth in device time (26 steps back after a restart with a
    backlog of 30 windows).
    """

    def __init__(self, name: str, worker):
        self.name, self.worker = name, worker
        self.queues: dict = {}       # stream name -> deque of items, in the order the streams first queued
        self.count = 0
        self.dropped = 0             # windows dropped for a full lane or share, ever (the overload signal)

    def __len__(self) -> int:
        return self.count

    def oldest_enqueued(self) -> float:
        """The monotonic time the oldest waiting window was queued (the lane is not empty)."""
        return min(q[0][-1] for q in self.queues.values())

    def add(self, item, max_total: int, min_share: int):
        """Queue ``item``; returns the dropped item (whose stream counts it) or None."""
        q, dropped, self.count = admit(self.queues, item[0].name, self.count, max_total, min_share)
        q.append(item)
        self.dropped += dropped is not None
        return dropped

    def take(self, max_batch: int) -> list:
        """Up to ``max_batch`` windows of one model and shape (the oldest waiting window's), one
        per stream in turn, each stream's oldest first; the streams served go to the back.

        A stream keeping up (whose every waiting window is in the batch after a turn) never waits
        in a batch padded with another stream's backlog: the batch ends with that turn, the backlog
        fills the next one. Padded, a bed's window cost the model time of ``max_batch`` windows
        whenever one client sent faster than the encoder embeds (a client at 500 times its rate
        beside a bed at 1, ecg-tiny on 2 cores: the bed's embeddings 3.6 s late, p50; 1.3 s with
        this rule, the rest is the CPU the flood's ingest takes).

        Streams at their real-time rate come before those catching up (``InputStream.catching_up``,
        :mod:`streams.ingest_budget`: spending their allowance faster than it refills): while one of
        theirs waits, a batch holds their windows only, and a batch of catching-up windows alone is at
        most :data:`CATCHUP_MAX_BATCH`, so that a bed's window that comes meanwhile waits for a short
        batch, not a full one. A client at 500 times its rate beside a bed at 1 (defaults, ecg-tiny, 2
        loaded cores, ``benchmarks/bench_flood.py``, 5 back-to-back pairs): the bed's embeddings were
        0.48-0.99 s late (p50 over the flood's first 5 s), 0.27-0.61 s with this rule (its wait in
        the lane 0.18-0.47 -> 0.06-0.14 s)."""
        live = {k: q for k, q in self.queues.items() if q}
        pool = {k: q for k, q in live.items() if not q[0][0].catching_up}
        if not pool:   # only catching-up windows wait: short batches
            pool, max_batch = live, min(max_batch, CATCHUP_MAX_BATCH)
        first = min((q[0] for q in pool.values()), key=lambda it: it[-1])
        items, served = [], []
        while len(items) < max_batch:
            took = []
            for key, q in pool.items():
                if len(items) >= max_batch:
                    break
                if q and q[0][0].model is first[0].model and q[0][1].shape == first[1].shape:
                    items.append(q.popleft())
                    served.append(key)
                    took.append(key)
            if not took:
                break
            if any(not self.queues[k] for k in took) and any(self.queues[k] for k in took):
                break   # someone is keeping up and someone has a backlog: not padded with it
        self.count -= len(items)
        for key in dict.fromkeys(served):    # round-robin: served streams move to the back
            q = self.queues.pop(key)
            if q:
                self.queues[key] = q
        return items


class OutputsMixin:
    """Batching and publishing side of :class:`streams.runtime.Runtime` (``_send`` is thread-safe)."""

    # ------------------------------------------------------------------ batching and outputs
    def _maybe_submit(self, lane):
        from streams.models import Job
        if not len(lane) or not lane.worker.idle:
            return
        age = time.monotonic() - lane.oldest_enqueued()
        if len(lane) < self.config.max_batch and age < self.config.max_delay_s:
            return
        items = lane.take(self.config.max_batch)
        self.batch_sizes.add(len(items))
        x = np.stack([it[1] for it in items])
        lane.worker.submit(Job(items[0][0].model, x, items, time.monotonic()))

    def _publish_embeddings(self, job, emb, err, model_ms):
        now_m = time.monotonic()
        for i, (st, _, _, t_start, t_end, t_last, t_enq) in enumerate(job.items):
            if err is not None:
                st.stats.rejected["encoder"] += 1
                continue
            lat = {"queue": (job.t_submit - t_enq) * 1e3}
            if job.model is not None:
                lat.update(model=model_ms, wait=(now_m - job.t_submit) * 1e3 - model_ms)
            self._publish_window(st, job.measured[i], t_start, t_end, t_last, job.quality[i],
                                 None if emb is None else emb[i],
                                 lat, "" if job.model is None else job.model.model_id, job.fed[i],
                                 None if job.rows is None else job.rows[i])

    def _publish_window(self, st, win, t_start, t_end, t_last, q, emb, lat, model_id="", fed=None, rows=None):
        """Publish one window's embedding frame and hand it to the score thread (the single place;
        hooks on windows go here). ``fed``: the rows of ``win`` the encoder was fed (the frame's
        ``channels`` and ``quality`` are theirs; the score thread gets every row, to measure the
        best lead); None: every row. ``rows``: the quality of each row (streams.models.row_qualities)
        or None."""
        t_out = time.time()
        total = (t_out - t_last) * 1e3
        st.stats.outputs += 1
        st.stats.output_ms.add(total)
        header = {"kind": "embedding", "stream": st.name, "model_id": model_id,
                  "window_start_s": t_start, "window_end_s": t_end, "quality": float(q),
                  "latency_ms": {**lat, "total": total}, "t_out_s": t_out,
                  "modality": st.modality,
                  "channels": [st.channels[i] for i in fed] if st.chooses_leads else list(st.channels[:win.shape[0]]),
                  # the stream's device time says another rate than it declares: this embedding is of a
                  # window cut and filtered at the wrong rate (streams.device_rate; "" when nothing is wrong)
                  "rate_mismatch": getattr(st, "rate_mismatch", "")}
        vec = np.zeros(0, np.float32) if emb is None else np.asarray(emb, np.float32)
        self._send(f"emb/{st.name}", header, vec)
        self.score_worker.submit(st, win, t_start, t_end, q, rows)

    def _tap(self, h: dict, x: np.ndarray):
        """An accepted input frame again on the output socket as ``sig/<stream>`` (for the dashboard)."""
        keys = ("stream", "session", "t0_s", "fs_hz", "channels", "units", "modality")
        self._send(f"sig/{h['stream']}", {"kind": "signal", **{k: h[k] for k in keys}}, x, record=False)

    def _send(self, topic: str, header: dict, array=None, record: bool = True):
        """Publish one output frame; safe from any thread (the forecast worker sends too)."""
        import zmq
        with self._send_lock:
            header = dict(header, seq=self.out_seq[topic], epoch=self.epoch)
            self.out_seq[topic] += 1
            try:
                self.pub.send_multipart(protocol.encode(topic, header, array), zmq.NOBLOCK, copy=False)
            except zmq.Again:  # PUB drops for slow subscribers itself; counted here if ever raised
                self.invalid["output_dropped"] += 1
            if record and self.recorder is not None:
                self.recorder.add_output(topic, header, array, time.time())

    def _heartbeat(self):
        """``hb/runtime`` with the last sequence number of every output topic, so that a
        subscriber can see frames lost at the end of a topic."""
        import zmq
        with self._send_lock:
            last = {t: n - 1 for t, n in self.out_seq.items() if t not in ("hb/runtime", "status")}
            header = {"kind": "heartbeat", "stream": "runtime", "t_s": time.time(), "last_seq": last,
                      "seq": self.out_seq["hb/runtime"], "epoch": self.epoch}
            self.out_seq["hb/runtime"] += 1
            try:
                self.pub.send_multipart(protocol.encode("hb/runtime", header), zmq.NOBLOCK)
            except zmq.Again:
                self.invalid["output_dropped"] += 1
