"""The :class:`Head` file format and its NumPy evaluator."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from encoders.errors import EncoderError

HEADS_DIR = pathlib.Path(__file__).resolve().parent
HEAD_FORMAT = 1
TRANSFORMS = ("identity", "log")     # log: log(x + eps) with eps from the head file
_cache: dict[str, "Head"] = {}


@dataclass(frozen=True)
class Head:
    """A logistic-regression head ``p = sigmoid(b + w . (t(x) - mean) / scale)``.

    Attributes
    ----------
    name, version : identity (``ecg-af`` 1).
    modality : the stream modality whose window measures it reads.
    output : the name of its output (``af_prob``).
    features : measure names, in order; ``transforms`` one of :data:`TRANSFORMS` per feature.
    encoder_id : the encoder whose embeddings it reads, or None (measure-only head).
    training : human-readable description of the training data.
    read_at_prevalence : None for the head as fitted (calibrated to its training records'
        prevalence); else the prevalence its probabilities are read at (:meth:`at_prevalence`).
    min_window_s : the shortest window it was fitted on, or None; :meth:`predict` gives no
        probability for a shorter window (a strip shorter than a window is one short window).
    """

    name: str
    version: int
    modality: str
    output: str
    features: tuple[str, ...]
    transforms: tuple[str, ...]
    eps: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    encoder_id: str | None = None
    training: str = ""
    metrics: dict = field(default_factory=dict)
    read_at_prevalence: float | None = None
    min_window_s: float | None = None

    @property
    def head_id(self) -> str:
        """``ecg-af-v1``; ``ecg-af-v1@prevalence=0.087`` when read at another prevalence, so a resumed
        score job or a stream client can tell the two apart."""
        base = f"{self.name}-v{self.version}"
        return base if self.read_at_prevalence is None else f"{base}@prevalence={self.read_at_prevalence:g}"

    @property
    def training_prevalence(self) -> float:
        """Share of positives among the records the head was fitted on (those with a usable window,
        each counting once: ``metrics["fit_prevalence"]``; in a file without it, among all training
        records): its probabilities are calibrated to it."""
        q = self.metrics.get("fit_prevalence")
        if isinstance(q, (int, float)) and 0 < q < 1:
            return float(q)
        n, k = self.metrics.get("n_records"), self.metrics.get("n_positive")
        if not n or k is None or not 0 < k < n:
            raise EncoderError(f"head {self.name}: its file does not say the prevalence it was fitted at "
                               "(metrics n_records / n_positive), so it cannot be read at another")
        return k / n

    @property
    def fitted_prevalence(self) -> float | None:
        """:attr:`training_prevalence`, or None when its file does not say."""
        try:
            return self.training_prevalence
        except EncoderError:
            return None

    @property
    def prevalence(self) -> float | None:
        """The prevalence its probabilities are calibrated to: the one they are read at
        (:meth:`at_prevalence`), else :attr:`fitted_prevalence`."""
        return self.fitted_prevalence if self.read_at_prevalence is None else self.read_at_prevalence

    def at_prevalence(self, prevalence: float | None) -> "Head":
        """The same head with its probabilities read at another prevalence (None: as fitted).

        Bayes' rule with the features' likelihood ratio unchanged: the odds are multiplied by
        ``[q / (1 - q)] / [p0 / (1 - p0)]`` (``p0`` = :attr:`training_prevalence`), i.e. the log-odds
        move by the difference of the two prevalences' log-odds (:attr:`log_odds_shift`; the fitted
        coefficients and intercept are kept as they are); the ranking of windows (AUROC) does not
        change. Equals :func:`encoders.heads.train.prior_shift` of the fitted probability."""
        if prevalence is None:
            return dataclasses.replace(self, read_at_prevalence=None)
        q = check_prevalence(prevalence)
        self.training_prevalence  # noqa: B018 - a head that cannot say it is refused here, not at predict
        return dataclasses.replace(self, read_at_prevalence=q)

    def as_fitted(self) -> "Head":
        """The head with its probabilities as fitted."""
        return self.at_prevalence(None)

    @property
    def log_odds_shift(self) -> float:
        """Added to the fitted log-odds: 0 as fitted, else logit(q) - logit(training prevalence)."""
        if self.read_at_prevalence is None:
            return 0.0
        q, p0 = self.read_at_prevalence, self.training_prevalence
        return math.log(q / (1 - q)) - math.log(p0 / (1 - p0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised design matrix (N, F) from raw feature values (N, F)."""
        X = np.array(X, dtype=np.float64, copy=True)
        for j, t in enumerate(self.transforms):
            if t == "log":
                X[:, j] = np.log(np.maximum(X[:, j], 0.0) + self.eps)
        return (X - np.asarray(self.mean)) / np.asarray(self.scale)

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (N,) for raw features (N, F); rows with a non-finite feature give nan."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        z = self.transform(X) @ np.asarray(self.coef) + self.intercept + self.log_odds_shift
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        return np.where(np.isfinite(X).all(axis=1), p, np.nan)

    def too_short(self, window_s: float | None) -> bool:
        """Whether ``window_s`` seconds of signal are fewer than the head was fitted on."""
        return self.min_window_s is not None and window_s is not None and window_s < self.min_window_s - 1e-6

    def predict(self, measures: dict) -> float | None:
        """Probability for one window's measures (dict); None when a feature is missing or the
        window (``measures["window_s"]``, when given) is shorter than :attr:`min_window_s`."""
        if self.too_short(measures.get("window_s")):
            return None
        x = [measures.get(f) for f in self.features]
        if any(v is None or not math.isfinite(float(v)) for v in x):
            return None
        return float(self.predict_matrix(np.array([x], dtype=np.float64))[0])

    def to_json(self) -> str:
        d = {"format": HEAD_FORMAT, "kind": "logistic", "name": self.name, "version": self.version,
             "modality": self.modality, "output": self.output, "features": list(self.features),
             "transforms": list(self.transforms), "eps": self.eps, "mean": list(self.mean),
             "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept,
             "encoder_id": self.encoder_id, "training": self.training, "metrics": self.metrics}
        if self.read_at_prevalence is not None:
            d["read_at_prevalence"] = self.read_at_prevalence
        if self.min_window_s is not None:
            d["min_window_s"] = self.min_window_s
        return json.dumps(d, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "head") -> "Head":
        try:
            d = json.loads(text)
            if d.get("format") != HEAD_FORMAT or d.get("kind") != "logistic":
                raise ValueError(f"format {d.get('format')!r} kind {d.get('kind')!r}; expected {HEAD_FORMAT} logistic")
            n = len(d["features"])
            if not all(len(d[k]) == n for k in ("transforms", "mean", "scale", "coef")):
                raise ValueError("features, transforms, mean, scale and coef differ in length")
            bad = set(d["transforms"]) - set(TRANSFORMS)
            if bad:
                raise ValueError(f"unknown transform(s) {sorted(bad)}; accepted: {', '.join(TRANSFORMS)}")
            head = cls(name=d["name"], version=int(d["version"]), modality=d["modality"], output=d["output"],
                       features=tuple(d["features"]), transforms=tuple(d["transforms"]), eps=float(d["eps"]),
                       mean=tuple(map(float, d["mean"])), scale=tuple(map(float, d["scale"])),
                       coef=tuple(map(float, d["coef"])), intercept=float(d["intercept"]),
                       encoder_id=d.get("encoder_id"), training=d.get("training", ""),
                       metrics=d.get("metrics", {}),
                       min_window_s=None if d.get("min_window_s") is None else float(d["min_window_s"]))
            return head if d.get("read_at_prevalence") is None else head.at_prevalence(d["read_at_prevalence"])
        except (KeyError, TypeError, ValueError, EncoderError) as exc:
            raise EncoderError(f"{where}: not a valid head file ({exc})") from None


def check_prevalence(prevalence) -> float:
    """A prevalence as a float strictly between 0 and 1, or :class:`EncoderError`."""
    try:
        q = float(prevalence)
    except (TypeError, ValueError):
        raise EncoderError(f"a prevalence is a number between 0 and 1 (a share, 0.087 for 8.7 %), "
                           f"got {prevalence!r}") from None
    if not 0.0 < q < 1.0:
        raise EncoderError(f"a prevalence must be strictly between 0 and 1 (a share, 0.087 for 8.7 %), got {q:g}")
    return q


def list_heads() -> list[str]:
    """Names of the shipped heads (folders of ``encoders/heads`` holding a ``head.json``)."""
    return sorted(p.parent.name for p in HEADS_DIR.glob("*/head.json"))


def load_head(name: str, prevalence: float | None = None) -> Head:
    """A shipped head by name, or a ``head.json`` path / its folder; read at ``prevalence``
    (:meth:`Head.at_prevalence`) when given."""
    if not isinstance(name, str):
        if not isinstance(name, os.PathLike):
            raise EncoderError(f"a head is named by a str (one of {', '.join(list_heads())}) or a path, "
                               f"not {type(name).__name__}")
        name = os.fspath(name)
    if name in _cache:
        return _cache[name].at_prevalence(prevalence) if prevalence is not None else _cache[name]
    p = pathlib.Path(name)
    path = p / "head.json" if p.is_dir() else p if p.suffix == ".json" else HEADS_DIR / name / "head.json"
    if not path.is_file():
        raise EncoderError(f"unknown head {name!r}; shipped heads: {', '.join(list_heads()) or 'none'}")
    head = Head.from_json(path.read_text(), where=str(path))
    _cache[name] = head
    return head.at_prevalence(prevalence) if prevalence is not None else head
