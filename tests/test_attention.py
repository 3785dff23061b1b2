"""Windowed sparse attention against its dense oracle (same band mask), and ONNX export."""
import numpy as np
import pytest
import torch

from encoders.attention import Block, WindowedSelfAttention, band_mask, dense_band_attention, windowed_attention


@pytest.mark.parametrize("n_tokens,w,n_global", [
    (37, 8, 0), (37, 8, 2), (64, 16, 0), (64, 16, 1), (5, 8, 3), (1, 4, 0), (101, 7, 4), (16, 16, 0),
])
def test_windowed_equals_dense_band(n_tokens, w, n_global):
    g = torch.Generator().manual_seed(n_tokens * 31 + w)
    q, k, v = (torch.randn(2, 3, n_global + n_tokens, 8, generator=g) for _ in range(3))
    out = windowed_attention(q, k, v, w, n_global)
    ref = dense_band_attention(q, k, v, w, n_global)
    assert out.shape == ref.shape == q.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_gradients_match_dense():
    g = torch.Generator().manual_seed(0)
    qkv = [torch.randn(1, 2, 3 + 45, 8, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    gw = torch.autograd.grad(windowed_attention(*qkv, 6, 3).square().sum(), qkv)
    gd = torch.autograd.grad(dense_band_attention(*qkv, 6, 3).square().sum(), qkv)
    for a, b in zip(gw, gd):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


def test_band_mask_is_banded_and_globals_dense():
    m = band_mask(10, 3, 2)
    assert m[:2].all() and m[:, :2].all()
    loc = m[2:, 2:]
    # token 0 (block 0) sees blocks 0,1 = tokens 0..5, not 6..
    assert loc[0, :6].all() and not loc[0, 6:].any()
    # token 4 (block 1) sees blocks 0..2 = tokens 0..8, not 9
    assert loc[4, :9].all() and not loc[4, 9]


def test_local_attention_ignores_far_tokens():
    """Changing a token more than two blocks away changes nothing for a local query."""
    torch.manual_seed(0)
    attn = WindowedSelfAttention(16, 2, window=4, n_global=0).eval()
    x = torch.randn(1, 40, 16)
    y = x.clone()
    y[0, 30] += 5.0
    with torch.no_grad():
        a, b = attn(x), attn(y)
    torch.testing.assert_close(a[0, :20], b[0, :20])
    assert not torch.allclose(a[0, 28:32], b[0, 28:32])


def test_block_exports_to_onnx_with_dynamic_length(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    block = Block(16, 2, window=4, n_global=2).eval()
    path = tmp_path / "block.onnx"
    B, L = torch.export.Dim("B", min=1, max=64), torch.export.Dim("L", min=3, max=4096)
    torch.onnx.export(block, (torch.randn(2, 23, 16),), str(path), dynamo=True,
                      dynamic_shapes=({0: B, 1: L},), input_names=["x"], output_names=["y"])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (23, 50, 9):
        x = torch.randn(3, n, 16)
        with torch.no_grad():
            ref = block(x).numpy()
        got = sess.run(None, {"x": x.numpy()})[0]
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-4)
