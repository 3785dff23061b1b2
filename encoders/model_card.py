"""MODEL_CARD.md for a checkpoint directory, built from its meta.json, config.json and metrics."""
from __future__ import annotations

import json
import pathlib

import numpy as np


def write_model_card(directory, command: str, data: str, evaluation: str = "", notes: str = "") -> str:
    """Write ``directory/MODEL_CARD.md`` and return its text.

    Parameters
    ----------
    command : the exact ``biosig pretrain`` command(s) that produced the checkpoint.
    data : what the training data are, with their attributions.
    evaluation, notes : optional Markdown sections.
    """
    d = pathlib.Path(directory)
    meta = json.loads((d / "meta.json").read_text())
    cfg = json.loads((d / "config.json").read_text())
    pipe = json.loads((d / "pipeline.json").read_text())
    lines = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines() if x.strip()]
    last = lines[-20:]
    loss_first = lines[0]["loss"] if lines else float("nan")
    steps_text = " -> ".join(pipe["pipeline"]["steps"][i]["name"] for i in range(len(pipe["pipeline"]["steps"])))
    size_mb = (d / "weights.pt").stat().st_size / 2**20
    tc = meta.get("train_config", {})
    objective = cfg.get("objective", "mae")
    kind = {"mae": "Masked-autoencoder", "contrastive": "Contrastive (InfoNCE)",
            "mae+contrastive": "Masked-autoencoder + contrastive (InfoNCE)",
            "clocs": "Contrastive-across-time (CLOCS-style InfoNCE)",
            "mae+clocs": "Masked-autoencoder + contrastive-across-time (CLOCS-style InfoNCE)"}[objective]
    if cfg.get("tokenizer", "patch") == "beat":
        front = (f"beat-synchronous tokens (one slot per {cfg['beat_refractory_s']:g} s, a token per detected "
                 f"beat: {cfg['beat_before_s']:g} s before to {cfg['beat_after_s']:g} s after the peak plus 6 "
                 f"interval features; pad slots masked; encoders/beat_tokens.py)")
    else:
        front = f"{cfg['modality']} front end, patch size {cfg['patch_size']}"
    extra = ""
    if objective.endswith("clocs"):
        extra = (f"\n- Objective `{objective}`: InfoNCE between two whole windows of the same recording at "
                 f"different times (any lead), each with noise; windows of the same recording are not negatives; "
                 f"temperature {cfg['temperature']:g}, weight {cfg['contrastive_weight']:g}, projection head to "
                 f"{cfg['proj_dim']} (training only; encoders/objectives.py).")
    elif objective != "mae":
        extra = (f"\n- Objective `{objective}`: InfoNCE between two crops of {cfg['crop_fraction']:g} x the window "
                 f"with noise, temperature {cfg['temperature']:g}, weight {cfg['contrastive_weight']:g}, "
                 f"projection head to {cfg['proj_dim']} (training only; encoders/objectives.py).")
    if cfg.get("rhythm_loss_weight", 0.0) and cfg.get("tokenizer", "patch") == "beat":
        extra += (f"\n- Masked-beat loss: the MSE of the 6 interval features of masked beats is added with weight "
                  f"{cfg['rhythm_loss_weight']:g} (so the model must predict the rhythm, not only the morphology).")
    pooling = ("statistics pooling: a linear map of the encoder's beat tokens, mean of its first half and "
               "standard deviation of its second half over the real tokens"
               if cfg.get("pool", "mean") == "mean+std" else "mean of the encoder's patch tokens")
    text = f"""# {cfg['name']} ({meta['model_id']})

{kind} encoder for **{cfg['modality']}** from the `biosig` project, shipped inside the
package so that `encoders.load("{cfg['name']}")` works without any download.

## Model
- Architecture: {front}, transformer width {cfg['dim']},
  depth {cfg['depth']}, {cfg['heads']} heads, windowed sparse attention (block w = {cfg['attn_window']} tokens
  attending to itself and its neighbours) with {cfg['n_global']} global tokens; MAE decoder width
  {cfg['decoder_dim']}, depth {cfg['decoder_depth']}; mask ratio {cfg['mask_ratio']} ({cfg['mask_mode']}),
  spectral loss weight {cfg['spectral_loss_weight']}.{extra}
- Parameters: {meta.get('params', 0):,} (weights file {size_mb:.1f} MiB, float32).
- Input: float32 (B, C, T) at {cfg['input_fs_hz']:g} Hz after the out-of-graph part of the pipeline;
  output: (B, {cfg['dim']}) embedding ({pooling}).
- Preprocessing pipeline (stored in `pipeline.json`, hash `{pipe['hash']}`): {steps_text}.
  `Encoder.embed` applies it; the steps the model does itself (z-score / log-mel) are inside the graph.

## Training (reproduce with)
```
{command}
```
- Data: {data}
- {meta.get('n_windows')} training windows of {tc.get('window_s') or cfg['window_s']} s from {meta.get('n_sources')} recordings;
  {meta['step']} steps, global batch {tc.get('batch_size')}, AdamW lr {tc.get('lr')} (warm-up {tc.get('warmup_steps')}, cosine),
  seed {tc.get('seed')}, torch {meta.get('torch')}, CPU.
- Loss ({'masked-token MSE' if objective != 'contrastive' else 'InfoNCE'}{' + spectral term' if cfg['spectral_loss_weight'] and cfg.get('tokenizer', 'patch') == 'patch' else ''}{' + InfoNCE' if objective in ('mae+contrastive', 'mae+clocs') else ''}):
  {loss_first:.3f} at step 1 -> {np.mean([x['loss'] for x in last]):.3f} (mean of the last {len(last)} logged steps);
  {f"masked-token MSE {np.mean([x['mse'] for x in last]):.3f}" if last and 'mse' in last[-1] else 'no reconstruction term'}{f", InfoNCE {np.mean([x['nce'] for x in last]):.3f}" if last and 'nce' in last[-1] else ''}. Full curve: `metrics.jsonl`.
"""
    if evaluation:
        text += "\n## Evaluation\n" + evaluation.strip() + "\n"
    text += """
## Limitations
- A *tiny* model trained for minutes on one shared CPU on a few hundred to a few thousand windows:
  a reproducible default and a smoke test of the pipeline, not a state-of-the-art encoder. For
  research, pretrain `small`/`base` presets on large corpora with the same command.
- Not a medical device; embeddings are not validated for any clinical decision.
"""
    if notes:
        text += "\n## Notes\n" + notes.strip() + "\n"
    (d / "MODEL_CARD.md").write_text(text)
    return text
