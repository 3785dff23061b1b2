"""Progress lines of ``biosig pretrain`` where no tqdm bar is shown, and the bar of the data read on a
terminal (split from :mod:`encoders.pretrain`)."""
from __future__ import annotations

import math
import sys
import time

from biosig.progress import Stages, progress_interval_s


class ProgressLines:
    """One line on stderr every ``BIOSIG_PROGRESS_S`` seconds (default 10) while the data is read
    and while the run trains, where no tqdm bar is shown (stderr not a terminal), like the
    ProgressLog lines of ``embed`` and ``score``. Reads only host clocks: no device synchronisation.
    ``bar``: stderr is a terminal; the data read is then shown by a tqdm bar (the training steps have
    their own), not lines: reading a corpus took seconds to minutes with nothing on the screen."""

    def __init__(self, enabled: bool, bar: bool = False):
        self.enabled, self.every_s = enabled and not bar, progress_interval_s()
        self.bar = enabled and bar
        self.t0 = self.last = time.monotonic()
        self.said = enabled   # stage lines (:meth:`stage`): on a terminal too, where no bar counts them
        self._stages: Stages | None = None

    def _due(self) -> bool:
        now = time.monotonic()
        if not self.enabled or now - self.last < self.every_s:
            return False
        self.last = now
        return True

    def _say(self, text: str) -> None:
        print(f"pretrain: {text}, elapsed {time.monotonic() - self.t0:.0f} s", file=sys.stderr, flush=True)

    def reading(self, records):
        """``records`` unchanged, with a line every interval saying how many were read (a bar on a terminal)."""
        if self.bar:
            from tqdm import tqdm
            with tqdm(desc="pretrain: reading data", unit=" records", leave=False) as bar:
                for rec in records:
                    bar.update(1)
                    yield rec
            return
        n = 0
        for n, rec in enumerate(records, 1):
            if self._due():
                self._say(f"reading data: {n} record(s) read")
            yield rec
        if self.enabled and time.monotonic() - self.t0 >= self.every_s:   # short loads stay quiet
            self._say(f"reading data: done, {n} record(s)")

    def stage(self, text: str) -> None:
        """A stage without a count begins (``"building the model and optimiser"``): said at once, and every
        interval while it goes on (:class:`biosig.progress.Stages`). Between the data read and step 1 a run said
        nothing for 2-8 s, mostly torch importing its compiler when AdamW is created."""
        if self._stages is None:
            self._stages = Stages("pretrain", self.said)
        self._stages.start(text)

    def close(self) -> None:
        """No stage goes on any more (the training steps have their own lines); the heartbeat thread ends."""
        if self._stages is not None:
            self._stages.close()
            self._stages = None

    def step(self, done: int, start: int, total: int, t_loop: float, metrics: dict) -> None:
        """Step ``done`` of ``total`` finished (the run began at ``start``, its loop at ``t_loop``)."""
        if not self._due():
            return
        rate = (done - start) / max(time.monotonic() - t_loop, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("inf")
        loss = metrics.get("loss")
        loss_text = f", loss {loss:.4g} (step {metrics['step']})" if isinstance(loss, float) else ""
        eta_text = "?" if not math.isfinite(eta) else f"{eta:.0f} s" if eta < 120 else f"{eta / 60:.0f} min"
        self._say(f"step {done}/{total}, {rate:.2f} steps/s{loss_text}, ETA {eta_text}")
