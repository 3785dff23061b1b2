"""Encoder configuration, presets and the model registry.

A model name is ``"<modality>-<preset>"`` (``"ecg-tiny"``, ``"audio-base"``). The configuration is
one frozen dataclass, :class:`EncoderConfig`, saved as JSON in every checkpoint.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Callable

from encoders.errors import EncoderError

MASK_MODES = ("random", "span")
TOKENIZERS = ("patch", "beat")
# mae: masked reconstruction; contrastive: InfoNCE between two augmented crops of each window
# (encoders/objectives.py); mae+contrastive: the sum (contrastive term times contrastive_weight)
# clocs: InfoNCE between two windows of the same recording at different times (CLOCS-style;
# positives share the recording, windows of the same recording are never negatives); mae+clocs: the sum
# descriptors: a training-only linear head on the pooled embedding regresses standardised rhythm and
# morphology descriptors of the window computed from its beat tokens (encoders/descriptors.py;
# knowledge-guided pretext targets as in PaPaGei); mae+descriptors, mae+contrastive+descriptors: the sums
OBJECTIVES = ("mae", "contrastive", "mae+contrastive", "clocs", "mae+clocs",
              "descriptors", "mae+descriptors", "mae+contrastive+descriptors")
# mean: mean of the token outputs; mean+std: statistics pooling - one linear map of the token outputs,
# the mean of its first half and the standard deviation (over real tokens) of its second half, so
# the embedding keeps how much tokens vary within the window (rhythm irregularity), still dim wide
POOLS = ("mean", "mean+std")
# ECG descriptor targets (encoders/descriptors.py): v1 = 13 rhythm + morphology descriptors (the
# third-round ecg-tiny-27bf31bd26); atrial = those plus 4 atrial-activity descriptors (P-wave
# consistency and amplitude, f-wave band fraction after average-beat subtraction, P-peak timing;
# the shipped ecg-tiny-c440d2a286); pulse = the 7 rhythm descriptors plus pulse amplitude variability
# and beat-to-template correlation mean / std (PPG)
PULSE_DETECTORS = ("relu", "upstroke")   # beat tokenizer, PPG (encoders/beat_tokens.py)
ECG_DETECTORS = ("threshold", "searchback")   # beat tokenizer, ECG (encoders/beat_tokens.py)
DESCRIPTOR_SETS = ("v1", "atrial", "pulse", "arrhythmia", "lung")   # lung: audio only (encoders/audio_descriptors.py)
ATTN_KERNELS = ("auto", "blocked", "sdpa", "flex")  # mirrors encoders.attention.KERNELS

# Channel vocabularies: a learned embedding per name, so any subset of these channels works.
CHANNEL_VOCAB: dict[str, tuple[str, ...]] = {
    "ecg": ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "ECG", "PPG"),
    "ppg": ("PPG",),
    "audio": ("AUDIO",),
    "spiro": ("volume", "flow", "flow_volume"),  # the model derives all three from volume
}

# Per-modality input defaults (DESIGN.md section 2): input rate after the out-of-graph pipeline.
_MODALITY_DEFAULTS: dict[str, dict] = {
    "ecg": dict(input_fs_hz=250.0, window_s=10.0, patch_size=25, in_channels=1),
    "ppg": dict(input_fs_hz=125.0, window_s=10.0, patch_size=25, in_channels=1),
    # audio trains on 2 s crops (coughs last 1-4 s); embedding takes any length (8 s default windows)
    "audio": dict(input_fs_hz=16000.0, window_s=2.0, patch_size=4, in_channels=1, spectral_loss_weight=0.0),
    "spiro": dict(input_fs_hz=100.0, window_s=15.0, patch_size=25, in_channels=2),
}

PRESETS: dict[str, dict] = {
    "tiny": dict(dim=128, depth=6, heads=4, decoder_dim=64, decoder_depth=2, decoder_heads=4),
    "small": dict(dim=384, depth=8, heads=6, decoder_dim=192, decoder_depth=2, decoder_heads=6),
    "base": dict(dim=768, depth=12, heads=12, decoder_dim=384, decoder_depth=2, decoder_heads=6),
}


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that defines an encoder's architecture and pretraining objective.

    Attributes
    ----------
    name : registry name, ``"<modality>-<preset>"``.
    modality : ``ecg``, ``ppg``, ``audio`` or ``spiro``.
    in_channels : number of channels the model expects by default (``embed_forward`` with
        ``channel_idx=None`` uses the first ``in_channels`` names of ``channels``).
    channels : channel vocabulary; one learned embedding per name.
    input_fs_hz : sampling rate of the model input in Hz (after the out-of-graph pipeline).
    window_s : training window length in seconds (the model itself takes any whole number of patches).
    patch_size : samples per patch (frames per patch for audio).
    dim, depth, heads, mlp_ratio : transformer backbone.
    attn_window : tokens per attention block ``w``; each block attends to itself and its two
        neighbours, so attention costs O(N * w).
    n_global : learned global tokens that attend to and are attended by every token.
    decoder_dim, decoder_depth, decoder_heads : the light MAE decoder.
    mask_ratio : fraction of tokens masked during pretraining.
    mask_mode : ``random`` or ``span`` (contiguous spans of ``span_patches`` patches).
    spectral_loss_weight : weight of the amplitude/phase spectrum term (0 disables it).
    cross_modal : channels always masked and reconstructed from the others (ECG->PPG: ``("PPG",)``).
    n_mels, n_fft, hop_length, fmin_hz, fmax_hz : log-mel front end (audio only).
    export_mode : True when tracing for ONNX export (no training-only branches).
    tokenizer : ``patch`` (fixed-length patches) or ``beat`` (one token per detected beat/pulse,
        ECG/PPG only; encoders/beat_tokens.py); beat_before_s / beat_after_s / beat_refractory_s
        set the morphology segment and the minimum beat spacing. pulse_detector (PPG): ``relu`` - pulse
        peaks of the window-z-scored wave (every checkpoint before 2026-12-01) - or ``upstroke`` - peaks of
        the rise above the lowest value of the preceding 0.3 s, so that a small pulse after a large one
        (pulsus alternans, a premature beat, an artefact raising the window's mean) still stands out.
        ecg_detector (ECG): ``threshold`` - one threshold at 30 % of a typical beat's QRS energy (every
        checkpoint before 2026-12-02) - or ``searchback`` - as biosig.ecg_beats: a floor under the
        typical beat, a second threshold pass and a search back for beats under the threshold.
    objective : ``mae``, ``contrastive``, ``mae+contrastive``, ``clocs`` or ``mae+clocs``
        (encoders/objectives.py); contrastive_weight, temperature, proj_dim (projection head) and
        crop_fraction (length of each contrastive view as a fraction of the window) configure the
        contrastive term (``clocs`` views are whole windows: crop_fraction is not used).
    descriptor_weight : weight of the descriptor-regression term of the ``*descriptors`` objectives
        (beat tokenizer, encoders/descriptors.py; audio, encoders/audio_descriptors.py; spiro,
        encoders/spiro_descriptors.py).
    descriptor_set : ECG descriptor targets, ``"v1"`` (13 rhythm and morphology descriptors) or
        ``"atrial"`` (those plus 4 atrial-activity descriptors; encoders/descriptors.py) or ``"pulse"``
        (PPG: the 7 rhythm descriptors plus pulse amplitude variability and beat-to-template correlation)
        or ``"arrhythmia"`` (PPG: ``"pulse"`` plus premature-beat fraction, amplitude deficit and pause
        compensation, long pauses and pulse width);
        audio: ``"v1"`` (27 spectral / envelope descriptors) or ``"lung"`` (those plus 4 tonality and
        impulsiveness descriptors; encoders/audio_descriptors.py).
    descriptor_noise : > 0: the descriptor term embeds the window with acquisition noise (in-band
        noise, baseline wander, motion bursts up to this std relative to the window's std;
        encoders/acquisition_noise.py) and regresses the descriptors of the clean window; 0: off.
    descriptor_flip : probability that the descriptor term embeds the window with its sign flipped
        (an inverted lead, common in single-lead recorders) while the targets stay those of the
        window as recorded, so the embedding learns to report them whatever the polarity; 0: off.
    rhythm_loss_weight : beat tokenizer only: extra weight of the MAE error on the 6 interval
        features of masked beats (their mean squared error is added times this weight; 0: the
        plain MAE loss, where they are 6 of ~180 target values).
    pool : ``mean`` or ``mean+std`` (statistics pooling; see :data:`POOLS`); the embedding is
        ``dim`` wide either way.
    attn_kernel : attention kernel, ``auto`` (by device, length and export mode), ``blocked``,
        ``sdpa`` or ``flex`` (see :mod:`encoders.attention`); numerics are the same for all.
    """

    name: str = "ecg-tiny"
    modality: str = "ecg"
    in_channels: int = 1
    channels: tuple[str, ...] = CHANNEL_VOCAB["ecg"]
    input_fs_hz: float = 250.0
    window_s: float = 10.0
    patch_size: int = 25
    dim: int = 128
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    attn_window: int = 16
    n_global: int = 2
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    mask_ratio: float = 0.6
    mask_mode: str = "random"
    span_patches: int = 5
    spectral_loss_weight: float = 0.1
    cross_modal: tuple[str, ...] = ()
    n_mels: int = 64
    n_fft: int = 1024
    hop_length: int = 512
    fmin_hz: float = 50.0
    fmax_hz: float = 8000.0
    export_mode: bool = False
    # issue 14: tokenizer and pretraining objective (encoders/beat_tokens.py, encoders/objectives.py)
    tokenizer: str = "patch"
    beat_before_s: float = 0.25
    beat_after_s: float = 0.45
    beat_refractory_s: float = 0.25
    pulse_detector: str = "relu"
    ecg_detector: str = "threshold"
    objective: str = "mae"
    contrastive_weight: float = 1.0
    temperature: float = 0.1
    proj_dim: int = 64
    crop_fraction: float = 0.7
    rhythm_loss_weight: float = 0.0
    descriptor_weight: float = 1.0
    descriptor_set: str = "v1"
    descriptor_noise: float = 0.0
    descriptor_flip: float = 0.0
    pool: str = "mean"
    attn_kernel: str = "auto"

    def __post_init__(self):
        _check_field_types(self)
        if self.modality not in CHANNEL_VOCAB:
            raise EncoderError(f"unknown encoder modality {self.modality!r}; expected one of "
                               f"{', '.join(CHANNEL_VOCAB)}")
        _check_channel_names(self)
        if self.mask_mode not in MASK_MODES:
            raise EncoderError(f"unknown mask_mode {self.mask_mode!r}; expected one of {', '.join(MASK_MODES)}")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise EncoderError(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")
        if self.dim % self.heads or self.decoder_dim % self.decoder_heads:
            raise EncoderError(f"dim {self.dim} / decoder_dim {self.decoder_dim} must be divisible by "
                               f"heads {self.heads} / decoder_heads {self.decoder_heads}")
        if self.attn_window < 1 or self.patch_size < 1 or self.depth < 1:
            raise EncoderError("attn_window, patch_size and depth must be >= 1")
        if not 1 <= self.in_channels <= len(self.channels):
            raise EncoderError(f"in_channels {self.in_channels} must be between 1 and "
                               f"{len(self.channels)} (the channel vocabulary {self.channels})")
        if self.tokenizer not in TOKENIZERS:
            raise EncoderError(f"unknown tokenizer {self.tokenizer!r}; expected one of {', '.join(TOKENIZERS)}")
        if self.pulse_detector not in PULSE_DETECTORS:
            raise EncoderError(f"unknown pulse_detector {self.pulse_detector!r}; expected one of "
                               f"{', '.join(PULSE_DETECTORS)}")
        if self.ecg_detector not in ECG_DETECTORS:
            raise EncoderError(f"unknown ecg_detector {self.ecg_detector!r}; expected one of "
                               f"{', '.join(ECG_DETECTORS)}")
        if self.tokenizer == "beat" and self.modality not in ("ecg", "ppg"):
            raise EncoderError(f"the beat tokenizer needs ECG or PPG, not {self.modality}")
        if self.objective not in OBJECTIVES:
            raise EncoderError(f"unknown objective {self.objective!r}; expected one of {', '.join(OBJECTIVES)}")
        if "descriptors" in self.objective.split("+") and self.tokenizer != "beat" and self.modality not in ("audio", "spiro"):
            raise EncoderError(f"objective {self.objective} needs the beat tokenizer (descriptors come from beat tokens)"
                               f", the audio modality (spectral descriptors) or spiro (blow-shape descriptors)")
        if self.descriptor_weight < 0:
            raise EncoderError(f"descriptor_weight must be >= 0, got {self.descriptor_weight}")
        if self.descriptor_set not in DESCRIPTOR_SETS:
            raise EncoderError(f"unknown descriptor_set {self.descriptor_set!r}; expected one of "
                               f"{', '.join(DESCRIPTOR_SETS)}")
        audio = self.modality == "audio"
        if (audio and self.descriptor_set not in ("v1", "lung")) or (not audio and self.descriptor_set == "lung"):
            raise EncoderError(f"descriptor_set {self.descriptor_set!r} does not apply to {self.modality}: "
                               + ("audio takes v1 or lung" if audio else "lung is for audio"))
        if not 0.0 <= self.descriptor_noise <= 2.0:
            raise EncoderError(f"descriptor_noise must be in [0, 2] (std relative to the window's), "
                               f"got {self.descriptor_noise}")
        if self.descriptor_noise > 0 and self.tokenizer != "beat":
            raise EncoderError("descriptor_noise needs the beat tokenizer (ECG / PPG descriptors; "
                               "the noise model is an ECG / PPG one)")
        if not 0.0 <= self.descriptor_flip <= 1.0:
            raise EncoderError(f"descriptor_flip must be a probability in [0, 1], got {self.descriptor_flip}")
        if self.descriptor_flip > 0 and self.tokenizer != "beat":
            raise EncoderError("descriptor_flip needs the beat tokenizer (ECG / PPG descriptors)")
        if self.pool not in POOLS:
            raise EncoderError(f"unknown pool {self.pool!r}; expected one of {', '.join(POOLS)}")
        if self.pool == "mean+std" and self.dim % 2:
            raise EncoderError(f"pool mean+std needs an even dim, got {self.dim}")
        negative = [f"{k}={getattr(self, k)}" for k in _NON_NEGATIVE if getattr(self, k) < 0]
        if negative:   # a negative weight maximises its loss term; a negative beat segment broke the model's shapes
            raise EncoderError(f"{', '.join(negative)}: must be >= 0")
        if self.beat_refractory_s <= 0 or self.beat_before_s + self.beat_after_s <= 0:
            raise EncoderError(f"beat_refractory_s ({self.beat_refractory_s:g}) and beat_before_s + beat_after_s "
                               f"({self.beat_before_s + self.beat_after_s:g}) must be > 0 s")
        if not 0.1 <= self.crop_fraction <= 1.0 or self.temperature <= 0:
            raise EncoderError("crop_fraction must be in [0.1, 1] and temperature > 0")
        if self.attn_kernel not in ATTN_KERNELS:
            raise EncoderError(f"unknown attn_kernel {self.attn_kernel!r}; expected one of {', '.join(ATTN_KERNELS)}")
        bad = [c for c in self.cross_modal if c not in self.channels]
        if bad:
            raise EncoderError(f"cross_modal channels {bad} not in the vocabulary {self.channels}")
        if self.input_fs_hz <= 0:
            raise EncoderError(f"input_fs_hz must be > 0, got {self.input_fs_hz}")
        if self.modality == "audio" and not 0 <= self.fmin_hz < self.fmax_hz <= self.input_fs_hz / 2:
            raise EncoderError(f"the log-mel band {self.fmin_hz:g}-{self.fmax_hz:g} Hz must lie within 0 and half "
                               f"input_fs_hz ({self.input_fs_hz / 2:g} Hz): set fmax_hz (and fmin_hz) with input_fs_hz, "
                               f"e.g. --set fmax_hz={self.input_fs_hz / 2:g}")

    @property
    def window_samples(self) -> int:
        """Input samples per training window."""
        return int(round(self.window_s * self.input_fs_hz))

    @property
    def preset(self) -> str:
        return self.name.split("-", 1)[1] if "-" in self.name else self.name

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        d["cross_modal"] = list(self.cross_modal)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise EncoderError(f"unknown encoder config keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    def replace(self, **changes) -> "EncoderConfig":
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise EncoderError(f"unknown encoder config keys {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **changes)


#: integer fields that count something and must be at least 1 (the others may be 0)
_AT_LEAST_ONE = ("in_channels", "patch_size", "dim", "depth", "heads", "attn_window", "decoder_dim",
                 "decoder_heads", "span_patches", "n_mels", "n_fft", "hop_length", "proj_dim")
#: largest integer field: beyond it a value is a typo that would exhaust memory, not a size
_MAX_INT_FIELD = 1 << 20
#: float fields that are weights or lengths: never below 0
_NON_NEGATIVE = ("rhythm_loss_weight", "spectral_loss_weight", "contrastive_weight", "beat_before_s", "beat_after_s")
#: the vocabulary name a recording's unknown channel maps to (encoders.data): it must be in ``channels``
GENERIC_CHANNEL = {"ecg": "ECG", "ppg": "PPG", "audio": "AUDIO", "spiro": "volume"}


def _check_channel_names(config: "EncoderConfig") -> None:
    """``channels`` and ``cross_modal`` as tuples of distinct names, ``channels`` holding the modality's
    generic name (``--set channels='"ECG"'`` became the vocabulary E, C, G, and ``channels='["V1"]'`` a
    KeyError on the first recording; ``[1, 2]`` an AttributeError)."""
    for field in ("channels", "cross_modal"):
        v = getattr(config, field)
        if isinstance(v, str) or not isinstance(v, (list, tuple)) or not all(isinstance(c, str) and c for c in v):
            raise EncoderError(f"{field} must be a list of channel names, e.g. [\"ECG\"], got {v!r}")
        if len({c.upper() for c in v}) != len(v):
            raise EncoderError(f"{field} names a channel twice: {list(v)}")
        object.__setattr__(config, field, tuple(v))
    generic = GENERIC_CHANNEL.get(config.modality)
    if generic and generic.upper() not in {c.upper() for c in config.channels}:
        raise EncoderError(f"channels {list(config.channels)} must include {generic!r}: a recording's "
                           f"{config.modality} channel that matches no other name is embedded as {generic!r}")


def _check_field_types(config: "EncoderConfig") -> None:
    """Each field of the type it is declared with (``--set dim='"x"'`` or ``depth=1.5`` reached torch
    as a TypeError, ``heads=true`` passed as 1): an :class:`EncoderError` naming the field."""
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        if kind == "int":
            low = 1 if f.name in _AT_LEAST_ONE else 0
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not low <= v <= _MAX_INT_FIELD:
                raise EncoderError(f"{f.name} must be an integer from {low} to {_MAX_INT_FIELD:,}, got {v!r}")
        elif kind == "float":
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise EncoderError(f"{f.name} must be a finite number, got {v!r}")
        elif kind == "str" and not isinstance(v, str):
            raise EncoderError(f"{f.name} must be a string, got {v!r}")
        elif kind == "bool" and not isinstance(v, bool):
            raise EncoderError(f"{f.name} must be true or false, got {v!r}")
    if config.window_s <= 0 or config.mlp_ratio <= 0:
        raise EncoderError(f"window_s and mlp_ratio must be > 0, got {config.window_s!r}, {config.mlp_ratio!r}")


# ---------------------------------------------------------------------------------- registry
_REGISTRY: dict[str, Callable[..., EncoderConfig]] = {}


def register(name: str):
    """Decorator: register a function returning an :class:`EncoderConfig` under ``name``."""
    def deco(fn):
        if name in _REGISTRY:
            raise EncoderError(f"model name {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return deco


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get_config(name: str, /, **overrides) -> EncoderConfig:
    """The configuration registered as ``name`` with ``overrides`` applied."""
    if name not in _REGISTRY:
        raise EncoderError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    if "name" in overrides:   # a TypeError (get_config got multiple values for 'name') before
        raise EncoderError(f"the model name {name!r} cannot be overridden (--set name): it is the modality and "
                           "preset (--modality, --preset)")
    return _REGISTRY[name]().replace(**overrides) if overrides else _REGISTRY[name]()


def _make(modality: str, preset: str) -> Callable[[], EncoderConfig]:
    def build() -> EncoderConfig:
        return EncoderConfig(name=f"{modality}-{preset}", modality=modality,
                             channels=CHANNEL_VOCAB[modality], **_MODALITY_DEFAULTS[modality],
                             **PRESETS[preset])
    build.__name__ = f"{modality}_{preset}"
    build.__doc__ = f"The {preset} preset for {modality}."
    return build


for _modality in CHANNEL_VOCAB:
    for _preset in PRESETS:
        register(f"{_modality}-{_preset}")(_make(_modality, _preset))


def min_input_samples(config) -> int:
    """The shortest window (samples at the input rate) an encoder of ``config`` (an
    :class:`EncoderConfig` or its dict) takes: one log-mel patch for audio (patch frames x hop), one
    beat slot (``beat_refractory_s``) for the beat tokenizer, else one patch."""
    get = config.get if isinstance(config, dict) else (lambda k, d=None: getattr(config, k, d))
    if get("modality") == "audio":
        return int(get("patch_size", 1)) * int(get("hop_length", 1))
    if get("tokenizer", "patch") == "beat":
        return max(2, int(round(float(get("beat_refractory_s", 0.25)) * float(get("input_fs_hz")))))
    return int(get("patch_size", 1))


def short_window_problem(window_s: float, input_fs_hz: float, min_samples: int, model_id: str) -> str:
    """Why an embedding window of ``window_s`` seconds is below the model's smallest input
    (:func:`min_input_samples`), or "" when it is not (``embed`` and ``score --window-s``)."""
    if window_s * input_fs_hz >= min_samples:
        return ""
    return (f"--window-s {window_s:g} is shorter than the smallest input of {model_id} ({min_samples} samples "
            f"at {input_fs_hz:g} Hz = {min_samples / input_fs_hz:g} s)")
