"""Per-window scores for the runtime: measures, head outputs and alarm hygiene on ``score/...``.

For every window the runtime publishes on ``emb/<source>/<stream>``, it publishes one ``score``
frame on ``score/<source>/<stream>`` (documented in docs/protocol.md). The header is computed by
:meth:`ScoreHost.compute` in :class:`streams.score_worker.ScoreWorker`'s own thread, never on the
runtime's event loop (neurokit2's beat detection takes ~3 ms per ECG window; on the event loop it
delayed the receipt of marker frames) and never in an encoder lane (where it would serialise with
the model); the queue and the thread are :mod:`streams.score_worker`, re-exported here. The
measures are :func:`biosig.measures_window.window_measures` of the very window the encoder saw,
with the quality the runtime already computed, so ``biosig score`` (which calls the same function
on the same causal windows) gives the same numbers.

Alarm hygiene: a window below its modality's quality threshold carries ``ok: false``, every
measure ``null`` and ``missing: "low_quality"``. Heads (``ecg-af`` on ECG streams, ``ppg-af`` on
PPG streams) run only on ``ok`` windows; their output is also smoothed: ``smoothed`` is the mean
of the values that exist among the stream's last ``smooth_windows`` windows (by device time;
``null`` when none has one), so one noisy window does not flip the AF probability and a value
from before a run of withheld windows or a gap is never averaged in. The head state of a stream
restarts with its session and when its device time goes back. A PPG window whose pulse rate is about
twice its bed's recent ECG rate is withheld as ``rate_disagrees_with_ecg`` (:mod:`streams.bed_rates`).
"""
from __future__ import annotations

import collections
import logging
import time

import numpy as np

from streams.bed_rates import BedRates
from streams.score_worker import SCORE_BURST, STOP_DRAIN_S, ScoreWorker  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

DEFAULT_SMOOTH_WINDOWS = 5

#: Modalities whose measures read one lead (:func:`biosig.measures_window.window_measures` measures
#: the first row of a (C, W) window, while a window's quality is the mean over its rows).
ONE_LEAD_MODALITIES = ("ecg", "ppg")


def measured_lead(win: np.ndarray, fs_hz: float, modality: str,
                  rows: list[float] | None = None) -> tuple[np.ndarray, float]:
    """``(win[i:i+1], quality of lead i)`` for the lead of a multi-lead window (C, W) with the best
    quality (the first of equals): the lead the score measures, gated on its own quality. Before,
    the measures read the first lead and were gated on the mean quality of all leads: a noisy first
    lead beside a clean one passed the gate (SDNN 88 ms of a 9 ms sinus rhythm, published as ``ok``)
    and a clean first lead beside a noisy one was withheld. ``rows``: each lead's quality when the
    encoder worker computed it already (streams.models.row_qualities), None: computed here."""
    from streams.ingest import window_quality
    q = rows if rows is not None else [window_quality(win[i:i + 1], fs_hz, modality) for i in range(win.shape[0])]
    best = int(np.argmax(q))
    return win[best:best + 1], float(q[best])


class ScoreHost:
    """Computes and publishes score frames; one per runtime.

    Parameters
    ----------
    heads : modality -> head names (``encoders.heads``); a head that cannot be loaded is logged
        and skipped (its streams still get measures). None: the head each modality gets in
        ``score`` and ``embed`` too (``encoders.heads.HEADS_BY_MODALITY``).
    smooth_windows : windows averaged for the ``smoothed`` head outputs (>= 1).
    prevalence : the prevalence every head's probability is read at (``serve --af-prevalence``;
        :meth:`encoders.heads.Head.at_prevalence`), None: as fitted. Each head output in a frame says
        the prevalence its value is calibrated to (``prevalence``) and the fitted one
        (``fitted_prevalence``); the head id says it too (``ecg-af-v1@prevalence=0.087``).
    """

    def __init__(self, heads: dict | None = None, smooth_windows: int = DEFAULT_SMOOTH_WINDOWS,
                 prevalence: float | None = None):
        if int(smooth_windows) < 1:
            from streams.errors import StreamError
            raise StreamError(f"smooth_windows must be >= 1, got {smooth_windows}")
        self.smooth_windows = int(smooth_windows)
        self.prevalence = prevalence
        self._told_unit: set[str] = set()   # spirogram streams warned about their unit (once each)
        if heads is None:
            from encoders.heads import HEADS_BY_MODALITY   # NumPy only: serve stays free of torch
            heads = {modality: (name,) for modality, name in HEADS_BY_MODALITY.items()}
        self.head_names = dict(heads)
        self._heads: dict[str, list] = {}
        self._recent: dict[tuple, tuple] = {}   # (stream, head) -> (session, recent values)
        self.errors: dict[str, str] = {}
        self.bed_rates = BedRates()   # per bed, the ECG rates a PPG rate twice as high is withheld against

    def heads_for(self, modality: str) -> list:
        if modality not in self._heads:
            loaded = []
            for name in self.head_names.get(modality, ()):
                try:
                    from encoders.heads import load_head
                    loaded.append(load_head(name, self.prevalence))
                except Exception as exc:  # a missing head must not stop the measures
                    self.errors[name] = str(exc)
                    log.error("head %s not available: %s", name, exc)
            self._heads[modality] = loaded
        return self._heads[modality]

    def header(self, stream: str, session: int, modality: str, win: np.ndarray, fs_hz: float,
               t_start: float, t_end: float, quality: float | None = None,
               hop_s: float | None = None, withheld: str | None = None, doubt=None) -> dict:
        """The ``score`` header of one window (C, W) at ``fs_hz``; updates the smoothing state.

        ``hop_s``: the stream's window hop in seconds. With it, ``smoothed`` averages only the
        values of the windows that ended within the last ``smooth_windows`` hops (device time), so a
        value from before a run of withheld windows or a gap never enters the mean (it made a
        sinus window after a minute of lead-off read ``smoothed`` 0.72 from AF a minute old);
        None: the last ``smooth_windows`` values, however old.

        ``withheld``: a reason the stream's measures cannot be trusted whatever the window holds
        (``rate_mismatch``, ``rate_pending``): ``ok`` false, that ``missing``, every measure and head value null.
        ``doubt``: None, or a function of an ``ok`` window's measures giving such a reason or None
        (:meth:`streams.bed_rates.BedRates.ppg_reason`: a PPG rate twice the bed's ECG rate)."""
        from biosig.measures_window import measured_span_s, unit_of, window_measures
        m = window_measures(win, fs_hz, modality, quality=quality)
        if not withheld and doubt is not None and m["ok"]:
            withheld = doubt(m)
        if withheld:
            m = {**{k: None for k in m}, "quality": m["quality"], "min_quality": m["min_quality"],
                 "ok": False, "missing": withheld}
        measures = {k: v for k, v in m.items() if k not in ("quality", "min_quality", "ok", "missing")}
        heads = {}
        span_s = measured_span_s(win, fs_hz, modality)   # the signal the measures come from
        for head in self.heads_for(modality):
            p = head.predict({**measures, "window_s": span_s}) if m["ok"] else None
            recent = self._recent_values(stream, head.name, session, float(t_end), hop_s)
            if p is not None:
                recent.append((float(t_end), p))
            heads[head.output] = {"head_id": head.head_id, "value": p, "prevalence": head.prevalence,
                                  "fitted_prevalence": head.fitted_prevalence,
                                  "smoothed": float(np.mean([v for _, v in recent])) if recent else None,
                                  "n_smoothed": len(recent), "smooth_windows": self.smooth_windows}
            if p is None:
                heads[head.output]["missing"] = m["missing"] or "missing_feature"
                if m["ok"] and head.too_short(span_s):
                    heads[head.output].update(missing="short_window", signal_s=round(span_s, 2),
                                              min_window_s=head.min_window_s)
        header = {"kind": "score", "stream": stream, "modality": modality,
                  "window_start_s": float(t_start), "window_end_s": float(t_end),
                  "quality": float(m["quality"]), "min_quality": float(m["min_quality"]), "ok": bool(m["ok"]),
                  "measures": measures, "units": {k: unit_of(k) for k in measures}, "heads": heads,
                  "t_out_s": time.time()}
        if m["missing"]:
            header["missing"] = m["missing"]
        return header

    def _recent_values(self, stream: str, head: str, session: int, t_end: float, hop_s: float | None):
        """The deque of ``(window_end_s, value)`` the smoothed output of ``head`` on ``stream`` averages,
        pruned for a window ending at ``t_end``: a new publisher session or device time gone back
        (a new time base) starts it afresh; values of windows that ended ``smooth_windows`` hops or
        more before ``t_end`` are dropped (``hop_s`` None: none by age)."""
        key = (stream, head)
        sess, recent = self._recent.get(key, (None, None))
        if sess != session or (recent and recent[-1][0] > t_end):
            recent = collections.deque(maxlen=self.smooth_windows)
            self._recent[key] = (session, recent)
        if hop_s is not None and hop_s > 0:
            oldest = t_end - (self.smooth_windows - 0.5) * hop_s   # the last smooth_windows windows' ends
            while recent and recent[0][0] < oldest:
                recent.popleft()
        return recent

    def warm_up(self, modality: str, window_s: float, fs_hz: float) -> None:
        """Load the modality's heads and compute one score of a synthetic window, so that every
        lazy import (neurokit2, the heads) happens at start-up, never on the event loop."""
        from biosig.synthetic import simulate
        try:
            win = simulate(modality, window_s, fs_hz=fs_hz).samples[:1]
        except Exception:  # modalities the generator has no form for (or rates it refuses)
            win = np.random.default_rng(0).normal(size=(1, max(2, int(round(window_s * fs_hz))))).astype(np.float32)
        self.header("warm-up", -1, modality, win, fs_hz, 0.0, window_s)
        self._recent = {k: v for k, v in self._recent.items() if k[0] != "warm-up"}

    def compute(self, st, win, t_start, t_end, quality, rows=None) -> dict | None:
        """The score header of one window of input stream ``st``, or None when it cannot be
        computed (counted under the stream's ``rejected["score"]``; never raises). Called by the
        runtime's :class:`streams.score_worker.ScoreWorker` thread, off the event loop. ``rows``: the
        quality of each row of ``win`` (:func:`streams.models.row_qualities`) or None."""
        try:
            withheld = None
            if st.modality in ONE_LEAD_MODALITIES and win.shape[0] > 1:
                win, quality = measured_lead(win, st.fs_out_hz, st.modality, rows)
            if st.modality == "spiro":
                win, withheld = self._spiro_volume_ml(st, win)
            windower = getattr(st, "windower", None)
            hop_s = windower.hop_n / st.fs_out_hz if windower is not None else None
            # device time says the declared rate is wrong: every measure would be scaled by it; or,
            # short of a verdict, its run so far already doubts it (streams.device_rate)
            wrong_rate = ("rate_mismatch" if getattr(st, "rate_mismatch", "") else
                          "rate_pending" if getattr(st, "rate_pending", False) else None)
            doubt = ((lambda m: self.bed_rates.ppg_reason(st.name, t_end, m.get("hr_bpm")))
                     if st.modality == "ppg" else None)   # a PPG rate twice its bed's ECG rate
            h = self.header(st.name, st.session, st.modality, win, st.fs_out_hz, t_start, t_end, quality, hop_s,
                            wrong_rate, doubt)
            if st.modality == "ecg":
                self.bed_rates.note_ecg(st.name, st.session, t_end, h["measures"].get("hr_bpm") if h["ok"] else None)
            if withheld:
                h.update(ok=False, missing=withheld, measures={k: None for k in h["measures"]})
        except Exception as exc:  # a measure failing on odd data must not stop the runtime
            st.stats.rejected["score"] += 1
            log.warning("no score for a window of %s: %s: %s", st.name, type(exc).__name__, exc)
            return None
        return h


    def _spiro_volume_ml(self, st, win):
        """(window, withheld reason): the exhaled volume in mL that spirometry indices need, from a
        volume in mL or L or a flow in L/s, mL/s or L/min (integrated over the window), as `score` reads a
        spirogram (:func:`biosig.spirometry.to_volume_ml`). Withheld, never guessed: an encoder's
        window (a flow-volume curve, ``preprocessed_window``) and a stream without a unit
        (``no_unit``: one window's span cannot tell L from mL, a plateau in mL looks like litres) or
        with another unit (``unit``)."""
        if st.model is not None:
            return win, "preprocessed_window"
        from biosig.spirometry import FLOW_UNITS, VOLUME_UNITS, to_volume_ml
        unit = (st.units[0] if st.units else "").strip()
        if unit.lower() not in VOLUME_UNITS and unit.lower() not in FLOW_UNITS:
            if st.name not in self._told_unit:
                self._told_unit.add(st.name)
                log.warning("spirogram stream %s: %s on its first channel, so no indices are published; "
                            "declare mL, L, L/s, mL/s or L/min in the stream's units", st.name,
                            f"unit {unit!r}" if unit else "no unit")
            return win, "unit" if unit else "no_unit"
        return to_volume_ml(np.asarray(win, dtype=np.float64)[0], unit, st.fs_out_hz, st.name)[None], None


#: The measures a one-line summary shows per modality, with their label and unit (the rest are in
#: the header for programs).
SUMMARY_MEASURES = {"ecg": (("hr_bpm", "HR", "/min"), ("sdnn_ms", "SDNN", "ms")),
                    "ppg": (("hr_bpm", "HR", "/min"), ("sdnn_ms", "SDNN", "ms")),
                    "resp": (("resp_rate_bpm", "RR", "/min"),),
                    "spiro": (("fvc_l", "FVC", "L"), ("fev1_l", "FEV1", "L"))}


def measure_text(label: str, value, unit: str) -> str:
    """``HR 95 /min``, ``FVC 5.84 L``: rates and milliseconds whole, the rest to 2 decimals; ``-`` for none."""
    if value is None:
        return f"{label} - {unit}"
    return f"{label} {value:.{0 if unit in ('/min', 'ms') else 2}f} {unit}"


#: What a clinician reads after the reason of a window withheld for doubt about its beats or breaths
_DOUBT_TEXT = {"uncertain_beats": "a beat may be missing or false",
               "uncertain_breaths": "a breath may be left out, or a pause or apnea in the window",
               "rate_disagrees_with_ecg": "the pulse rate is about twice the bed's ECG rate: a reflected wave counted"}


def summary_text(header: dict) -> str:
    """One line a clinician can read for a score header: the main measures and head outputs, or
    why they are withheld (``withheld: low_quality (quality 0.18 < 0.86)``)."""
    q, thr = header.get("quality"), header.get("min_quality")
    qtxt = "" if q is None else f"quality {q:.2f}"
    if not header.get("ok", False):
        why = header.get("missing") or "not computed"
        if why == "low_quality" and q is not None and thr is not None:
            return f"withheld: low_quality ({qtxt} < {thr:.2f})"
        if why in _DOUBT_TEXT:
            return f"withheld: {why} ({_DOUBT_TEXT[why]}" + (f"; {qtxt})" if qtxt else ")")
        return f"withheld: {why}" + (f" ({qtxt})" if qtxt else "")
    measures = header.get("measures") or {}
    parts = []
    for key, label, unit in SUMMARY_MEASURES.get(header.get("modality", ""), ()):
        v = measures.get(key)
        if v is not None:
            parts.append(measure_text(label, v, unit))
    for name, out in (header.get("heads") or {}).items():
        if out.get("value") is None:
            why = out.get("missing") or "no value"
            if why == "short_window" and isinstance(out.get("signal_s"), (int, float)):
                why += f": {out['signal_s']:.1f} s of signal < {out.get('min_window_s', float('nan')):g} s"
            parts.append(f"{name} - ({why})")
        else:
            sm = out.get("smoothed")
            parts.append(f"{name} {out['value']:.2f}" + ("" if sm is None else f" (mean of {out.get('n_smoothed', 0)}: "
                                                          f"{sm:.2f})") + prevalence_text(out))
    return "  ".join(parts + [qtxt]) if parts or qtxt else "ok"


def prevalence_text(out: dict) -> str:
    """`` at prevalence 0.087`` (read at the one the runtime was told), `` at prevalence 0.338 (as
    fitted)``, or "" when the frame does not say (a head whose file does not record it)."""
    q, q0 = out.get("prevalence"), out.get("fitted_prevalence")
    if not isinstance(q, (int, float)):
        return ""
    return f" at prevalence {q:.3g}" + (" (as fitted)" if isinstance(q0, (int, float)) and q == q0 else "")


def score_row(header: dict) -> dict:
    """The part of a score header a run's summary needs: ``{"ok", "missing", "window_end_s",
    "measures": {the summary measures}, "heads": {output: value}, "prevalence": {output: the
    prevalence its value is calibrated to}}`` (JSON-able, small)."""
    keys = [k for k, _, _ in SUMMARY_MEASURES.get(header.get("modality", ""), ())]
    measures = header.get("measures") or {}
    return {"ok": bool(header.get("ok")), "missing": header.get("missing"), "window_end_s": header.get("window_end_s"),
            "modality": header.get("modality"), "measures": {k: measures.get(k) for k in keys},
            "heads": {name: out.get("value") for name, out in (header.get("heads") or {}).items()},
            "prevalence": {name: out.get("prevalence") for name, out in (header.get("heads") or {}).items()}}
