"""Task heads: small shipped models on per-window measures (and, later, embeddings).

A head is a regularised logistic regression stored as ``encoders/heads/<name>/head.json`` with
everything needed to run and audit it: the ordered feature list and their transforms, the
standardisation, coefficients, its version, the encoder id it expects (``null`` for a
measure-only head, which runs beside any encoder) and a description of its training data.
Its model card (``MODEL_CARD.md``) and reliability plot sit in the same folder.

>>> from encoders.heads import load_head
>>> head = load_head("ecg-af")                                      # doctest: +SKIP
>>> head.predict({"madsd_norm": 0.2, "cvsd": 0.2, ...})            # doctest: +SKIP
0.97

Heads are NumPy only (no torch), so ``serve`` hosts them without loading torch.
"""
from __future__ import annotations

from encoders.heads.head import HEADS_DIR, Head, list_heads, load_head  # noqa: F401

# The head each modality's windows get in serve, score and embed.
HEADS_BY_MODALITY = {"ecg": "ecg-af", "ppg": "ppg-af"}


def unused_prevalence_warning(modality: str, prevalence: float | None) -> str | None:
    """What ``embed`` / ``score`` log when ``--af-prevalence`` is given for recordings of a modality
    that gets no head (no AF probability to read at it); None when it has an effect or is not given."""
    if prevalence is None or modality in HEADS_BY_MODALITY:
        return None
    return f"--af-prevalence has no effect: {modality} recordings get no AF probability"
