"""The encoder: modality front end + windowed-attention transformer + MAE decoder.

Shapes: B batch, C channels, T samples, P time patches, N = P * C tokens (time-major: the C
tokens of one time patch are adjacent so local attention sees all leads at nearby times),
G global tokens, D model width.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from encoders.attention import Block
from encoders.config import EncoderConfig
from encoders.tokenizers import build_frontend, from_patches, sinusoid

log = logging.getLogger(__name__)


class EncoderModel(nn.Module):
    """Masked-autoencoder encoder for one modality; ``config`` is an :class:`EncoderConfig`."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = c = config
        self.frontend = build_frontend(c)
        pd = self.frontend.patch_dim
        self.patch_embed = nn.Linear(pd, c.dim)
        self.chan_embed = nn.Embedding(len(c.channels), c.dim)
        self.global_tokens = nn.Parameter(torch.zeros(1, c.n_global, c.dim))
        kernel = "blocked" if c.export_mode else c.attn_kernel
        self.blocks = nn.ModuleList(Block(c.dim, c.heads, c.attn_window, c.n_global, c.mlp_ratio, kernel)
                                    for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        # light decoder
        self.dec_embed = nn.Linear(c.dim, c.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c.decoder_dim))
        self.dec_chan_embed = nn.Embedding(len(c.channels), c.decoder_dim)
        self.dec_blocks = nn.ModuleList(Block(c.decoder_dim, c.decoder_heads, c.attn_window, c.n_global,
                                              c.mlp_ratio, kernel) for _ in range(c.decoder_depth))
        self.dec_norm = nn.LayerNorm(c.decoder_dim)
        self.dec_pred = nn.Linear(c.decoder_dim, pd)
        if c.tokenizer == "beat":   # learned embedding of the pad slots (no beat detected)
            self.pad_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        if c.pool == "mean+std":    # statistics pooling (encoders.config.POOLS)
            self.pool_proj = nn.Linear(c.dim, c.dim)
        parts = c.objective.split("+")
        if "contrastive" in parts or "clocs" in parts:   # projection head of the contrastive objective (encoders/objectives.py)
            self.proj_head = nn.Sequential(nn.Linear(c.dim, c.dim), nn.GELU(), nn.Linear(c.dim, c.proj_dim))
        if "descriptors" in parts:   # training-only descriptor regression head (encoders/descriptors.py)
            from encoders.descriptors import DescriptorHead
            if c.modality == "audio":   # spectral / envelope descriptors (encoders/audio_descriptors.py)
                from encoders import audio_descriptors as ad
                self.desc_head = DescriptorHead(c.dim, ad.n_desc(c.descriptor_set), ad.LOG_FLOORS)
            elif c.modality == "spiro":   # blow-shape descriptors (encoders/spiro_descriptors.py)
                from encoders import spiro_descriptors as sd
                self.desc_head = DescriptorHead(c.dim, sd.N_DESC, sd.LOG_FLOORS)
            else:
                from encoders.descriptors import SET_LOG_FLOORS, n_desc
                self.desc_head = DescriptorHead(c.dim, n_desc(c.descriptor_set), SET_LOG_FLOORS[c.descriptor_set])
        cross = [c.channels.index(name) for name in c.cross_modal]
        self.register_buffer("cross_ids", torch.tensor(cross, dtype=torch.long), persistent=False)
        self.apply(self._init)
        nn.init.normal_(self.global_tokens, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ tokens
    def _channel_idx(self, x: torch.Tensor, C: int, channel_idx) -> torch.Tensor:
        """Channel vocabulary ids (B, C): from ``channel_idx`` (C,) or (B, C), else 0..C-1."""
        if self.config.modality == "spiro" or channel_idx is None:  # spiro: 3 derived channels
            ids = torch.arange(C, device=x.device)
        else:
            ids = channel_idx.to(x.device)
        if ids.dim() == 1:
            ids = ids[None, :].expand(x.shape[0], C)
        return ids                                                            # (B, C)

    def tokenize(self, x: torch.Tensor, channel_idx=None):
        """x (B, C, T) -> tokens (B, N, D), target patches (B, N, patch_dim), token channel ids (B, N).

        ``channel_idx``: optional long tensor (C,) or (B, C) of positions in ``config.channels``
        (default: the first C names).
        """
        return self.tokenize_masked(x, channel_idx)[:3]

    def tokenize_masked(self, x: torch.Tensor, channel_idx=None):
        """:meth:`tokenize` plus ``valid`` (B, N) bool: False on the pad slots of the beat tokenizer
        (None for the patch tokenizers, where every token is real)."""
        if torch.is_autocast_enabled(x.device.type):   # front ends (beat detection, log-mel) stay fp32
            with torch.autocast(device_type=x.device.type, enabled=False):
                out = self.frontend(x.float())                                # (B, P, C', pd)
        else:
            out = self.frontend(x)                                            # (B, P, C', pd)
        patches, valid = out if isinstance(out, tuple) else (out, None)       # beat: + (B, P, C')
        B, P, C, pd = patches.shape
        ids = self._channel_idx(x, C, channel_idx)                            # (B, C')
        tok = self.patch_embed(patches)                                       # (B, P, C', D)
        tok = tok + self.chan_embed(ids)[:, None] + sinusoid(P, self.config.dim, x.device)[None, :, None]
        token_ids = ids[:, None, :].expand(B, P, C).reshape(B, P * C)          # (B, N)
        tok = tok.reshape(B, P * C, -1)
        if valid is not None:
            valid = valid.reshape(B, P * C)
            tok = torch.where(valid[..., None], tok, self.pad_token.to(tok.dtype))
        return tok, patches.reshape(B, P * C, pd), token_ids, valid

    def pool(self, h: torch.Tensor, valid=None) -> torch.Tensor:
        """Token outputs h (B, G+N, D) -> (B, D) over the real tokens: their mean (``pool="mean"``),
        or for ``"mean+std"`` u = pool_proj(h) and [mean of u[:D/2], std of u[D/2:]]."""
        h = h[:, self.config.n_global:]
        v = torch.ones_like(h[..., :1]) if valid is None else valid.to(h.dtype)[..., None]   # (B, N, 1)
        n = v.sum(1).clamp_min(1.0)                                            # (B, 1)
        if self.config.pool == "mean":
            return (h * v).sum(1) / n
        u = self.pool_proj(h)                                                  # (B, N, D)
        half = u.shape[-1] // 2
        mean = (u * v).sum(1) / n                                              # (B, D)
        var = ((u[..., half:] - mean[:, None, half:]).pow(2) * v).sum(1) / n   # (B, D/2)
        return torch.cat([mean[:, :half], (var + 1e-6).sqrt()], dim=-1)

    def _run_encoder(self, tok: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.global_tokens.expand(tok.shape[0], -1, -1), tok], dim=1)  # (B, G+N, D)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)                                                   # (B, G+N, D)

    def embed_forward(self, x: torch.Tensor, channel_idx=None) -> torch.Tensor:
        """Embeddings of whole windows.

        Parameters
        ----------
        x : float32 (B, C, T), raw windows at ``config.input_fs_hz`` after the out-of-graph part
            of the pipeline. T may be any length giving at least one patch (whole patches used).
        channel_idx : optional long (C,), positions of the C channels in ``config.channels``.

        Returns
        -------
        float32 (B, D): layer-normed mean of the patch tokens.
        """
        tok, _, _, valid = self.tokenize_masked(x, channel_idx)
        return self.pool(self._run_encoder(tok), valid)                       # (B, D)

    # ------------------------------------------------------------------ MAE
    def masking_noise(self, B: int, P: int, C: int, token_ids: torch.Tensor, device, generator=None,
                      batch_slice=None):
        """Noise (B, N) whose argsort gives the masking order (lowest noise is kept).

        ``batch_slice=(start, B_global)`` draws the noise of a whole global batch and keeps rows
        ``start .. start + B`` (data-parallel ranks then mask exactly like one process would).
        The noise is drawn on the generator's device (the training device in ``pretrain``: no
        host-to-device copy per step); without a generator on the CPU default generator.

        ``random``: i.i.d. uniform per token; ``span``: one value per run of ``span_patches``
        time patches per channel, so masked tokens come in contiguous spans. Cross-modal target
        channels get +2 so they are always masked.
        """
        c = self.config
        start, total = batch_slice if batch_slice is not None else (0, B)
        gdev = generator.device if generator is not None else torch.device("cpu")  # drawn where the generator lives
        if c.mask_mode == "span":
            n_span = -(-P // c.span_patches)
            noise = torch.rand(total, n_span, C, generator=generator, device=gdev)[start:start + B].to(device)
            noise = noise.repeat_interleave(c.span_patches, dim=1)[:, :P]     # (B, P, C)
        else:
            noise = torch.rand(total, P, C, generator=generator, device=gdev)[start:start + B].to(device)
        noise = noise.reshape(B, P * C)
        if len(c.cross_modal):
            noise = noise + 2.0 * torch.isin(token_ids, self.cross_ids).to(noise.dtype)
        return noise

    def forward_encoder(self, x: torch.Tensor, channel_idx=None, generator=None, batch_slice=None,
                        return_valid=False):
        """Encode the visible tokens. Returns latent (B, G+K, D), target (B, N, pd),
        mask (B, N) with 1 = masked, ids_restore (B, N), token_ids (B, N) (and ``valid`` (B, N)
        or None with ``return_valid``)."""
        c = self.config
        tok, target, token_ids, valid = self.tokenize_masked(x, channel_idx)
        B, N, D = tok.shape
        C = self._n_channels(x)
        noise = self.masking_noise(B, N // C, C, token_ids, x.device, generator, batch_slice)
        n_forced = int(torch.isin(token_ids, self.cross_ids).sum(1).max()) if len(c.cross_modal) else 0
        keep = max(1, min(int(N * (1 - c.mask_ratio)), N - n_forced))
        ids_shuffle = torch.argsort(noise, dim=1)                             # (B, N)
        ids_keep = torch.sort(ids_shuffle[:, :keep], dim=1).values            # positional order
        ids_all = torch.cat([ids_keep, ids_shuffle[:, keep:]], dim=1)
        ids_restore = torch.argsort(ids_all, dim=1)                           # (B, N)
        visible = torch.gather(tok, 1, ids_keep[..., None].expand(-1, -1, D))  # (B, K, D)
        mask = torch.ones(B, N, device=x.device)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)                             # (B, N), 1 = masked
        if return_valid:
            return self._run_encoder(visible), target, mask, ids_restore, token_ids, valid
        return self._run_encoder(visible), target, mask, ids_restore, token_ids

    def _n_channels(self, x: torch.Tensor) -> int:
        return {"spiro": 3, "audio": 1}.get(self.config.modality, x.shape[1])

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor, token_ids: torch.Tensor,
                        n_channels: int):
        """latent (B, G+K, D) -> predicted patches (B, N, pd) for every token."""
        G = self.config.n_global
        h = self.dec_embed(latent)                                            # (B, G+K, Dd)
        B, N = ids_restore.shape
        vis = h[:, G:]
        full = torch.cat([vis, self.mask_token.expand(B, N - vis.shape[1], -1)], dim=1)
        full = torch.gather(full, 1, ids_restore[..., None].expand(-1, -1, full.shape[-1]))  # (B, N, Dd)
        C = n_channels
        P = N // C
        pos = sinusoid(P, self.config.decoder_dim, latent.device).repeat_interleave(C, dim=0)  # (N, Dd)
        full = full + pos[None] + self.dec_chan_embed(token_ids)
        y = torch.cat([h[:, :G], full], dim=1)
        for blk in self.dec_blocks:
            y = blk(y)
        return self.dec_pred(self.dec_norm(y)[:, G:])                         # (B, N, pd)

    def forward_loss(self, target, pred, mask, n_channels: int) -> dict:
        """MSE on masked patches only, plus the optional amplitude/phase spectrum term."""
        per_token = (pred - target).pow(2).mean(dim=-1)                       # (B, N)
        mse = (per_token * mask).sum() / mask.sum().clamp_min(1.0)
        out = {"mse": mse, "loss": mse}
        wr = self.config.rhythm_loss_weight
        if wr > 0 and self.config.tokenizer == "beat":   # the 6 interval features of masked beats
            from encoders.beat_tokens import N_RHYTHM
            rh = (pred[..., -N_RHYTHM:] - target[..., -N_RHYTHM:]).pow(2).mean(dim=-1)
            rhythm = (rh * mask).sum() / mask.sum().clamp_min(1.0)
            out.update(rhythm=rhythm, loss=mse + wr * rhythm)
        w = self.config.spectral_loss_weight
        if w > 0 and self.config.tokenizer == "patch":
            B, N, pd = target.shape
            P = N // n_channels
            comp = torch.where(mask[..., None] > 0, pred, target)
            sig_p = from_patches(comp.reshape(B, P, n_channels, pd))            # (B, C, T')
            sig_t = from_patches(target.reshape(B, P, n_channels, pd))
            fp, ft = torch.fft.rfft(sig_p, dim=-1), torch.fft.rfft(sig_t, dim=-1)
            amp = (torch.log1p(fp.abs()) - torch.log1p(ft.abs())).abs().mean()
            cos = (fp * ft.conj()).real / (fp.abs() * ft.abs() + 1e-6)
            # amplitude-weighted phase error per window, averaged (so batch shards average exactly)
            phase = ((ft.abs() * (1 - cos)).sum((1, 2)) / ft.abs().sum((1, 2)).clamp_min(1e-6)).mean()
            out.update(amp=amp, phase=phase, loss=mse + w * (amp + phase))
        return out

    def forward(self, x: torch.Tensor, channel_idx=None, generator=None, batch_slice=None, pair=None) -> dict:
        """Training step of ``config.objective`` (encoders/objectives.py); for ``mae``: dict with
        ``loss`` (scalar), ``mse``, ``pred`` (B, N, pd), ``mask`` (B, N) and ``target`` (B, N, pd).
        ``pair``: for ``clocs``, (x2, channel_idx2, groups) - another window of the same recording
        for every row and the recording id (B,) of each row."""
        if self.config.objective != "mae":
            from encoders.objectives import objective_loss
            return objective_loss(self, x, channel_idx, generator, batch_slice, pair)
        return self.forward_mae(x, channel_idx, generator, batch_slice)

    def forward_mae(self, x: torch.Tensor, channel_idx=None, generator=None, batch_slice=None) -> dict:
        """The masked-autoencoder loss (on real tokens only where the tokenizer pads)."""
        latent, target, mask, ids_restore, token_ids, valid = self.forward_encoder(
            x, channel_idx, generator, batch_slice, return_valid=True)
        C = self._n_channels(x)
        pred = self.forward_decoder(latent, ids_restore, token_ids, C)
        out = self.forward_loss(target, pred, mask if valid is None else mask * valid.to(mask.dtype), C)
        out.update(pred=pred, mask=mask, target=target)
        return out


def count_parameters(model: nn.Module, encoder_only: bool = False) -> int:
    """Number of trainable parameters (``encoder_only`` leaves out the MAE decoder)."""
    return sum(p.numel() for n, p in model.named_parameters()
               if not (encoder_only and (n.startswith(("dec_", "proj_head", "desc_head")) or n == "mask_token")))
