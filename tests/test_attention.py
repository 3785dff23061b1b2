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


# ---------------------------------------------------------------------------------------------
# Kernel dispatch: every kernel equals the dense oracle; auto picks by device, length, export.
from encoders import attention as attn_mod  # noqa: E402

CASES = [(37, 8, 0), (37, 8, 2), (64, 16, 1), (5, 8, 3), (1, 4, 0), (101, 7, 4), (130, 16, 2)]


@pytest.mark.parametrize("kernel", ["blocked", "sdpa", "flex"])
@pytest.mark.parametrize("n_tokens,w,n_global", CASES)
def test_every_kernel_equals_dense_band_on_cpu(kernel, n_tokens, w, n_global):
    g = torch.Generator().manual_seed(n_tokens * 7 + w)
    q, k, v = (torch.randn(2, 3, n_global + n_tokens, 8, generator=g) for _ in range(3))
    out = windowed_attention(q, k, v, w, n_global, kernel=kernel)
    torch.testing.assert_close(out, dense_band_attention(q, k, v, w, n_global), atol=2e-5, rtol=1e-5)


def test_band_mask_mod_is_band_mask():
    for n, w, g in ((37, 8, 2), (10, 3, 0), (50, 7, 4)):
        L = n + g
        qi, ki = torch.arange(L)[:, None], torch.arange(L)[None, :]
        got = attn_mod.band_mask_mod(w, g)(0, 0, qi, ki)
        assert torch.equal(got, band_mask(n, w, g))


def test_sdpa_gradients_match_dense():
    g = torch.Generator().manual_seed(1)
    qkv = [torch.randn(1, 2, 2 + 30, 8, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    gk = torch.autograd.grad(windowed_attention(*qkv, 5, 2, kernel="sdpa").square().sum(), qkv)
    gd = torch.autograd.grad(dense_band_attention(*qkv, 5, 2).square().sum(), qkv)
    for a, b in zip(gk, gd):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


def test_flex_without_backward_on_cpu_says_so():
    q = torch.randn(1, 1, 20, 8, requires_grad=True)
    with pytest.raises(ValueError, match="FlexAttention has no backward on cpu"):
        windowed_attention(q, q, q, 4, 0, kernel="flex")


@pytest.mark.gpu
def test_flex_gradients_match_dense_on_cuda():
    g = torch.Generator().manual_seed(1)
    qkv = [torch.randn(1, 2, 2 + 300, 16, generator=g).cuda().requires_grad_() for _ in range(3)]
    gk = torch.autograd.grad(windowed_attention(*qkv, 16, 2, kernel="flex").square().sum(), qkv)
    gd = torch.autograd.grad(dense_band_attention(*qkv, 16, 2).square().sum(), qkv)
    for a, b in zip(gk, gd):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_auto_selection_by_device_length_and_override(monkeypatch):
    monkeypatch.delenv(attn_mod.ENV_KERNEL, raising=False)
    q_cpu = torch.zeros(1, 1, 100, 8)
    assert attn_mod.select_kernel(q_cpu) == "blocked"
    assert attn_mod.select_kernel(q_cpu, "sdpa") == "sdpa"
    monkeypatch.setenv(attn_mod.ENV_KERNEL, "sdpa")
    assert attn_mod.select_kernel(q_cpu) == "sdpa"
    assert attn_mod.select_kernel(q_cpu, "blocked") == "blocked"   # argument / config beats the env
    monkeypatch.setenv(attn_mod.ENV_KERNEL, "bogus")
    with pytest.raises(ValueError, match="unknown attention kernel 'bogus'"):
        attn_mod.select_kernel(q_cpu)
    monkeypatch.delenv(attn_mod.ENV_KERNEL)
    # CUDA rules without a GPU: a meta tensor that claims the cuda device type
    short = torch.empty(1, 1, attn_mod.SDPA_MAX_TOKENS, 8, device="meta")
    monkeypatch.setattr(torch.Tensor, "device", property(lambda self: torch.device("cuda")), raising=False)
    try:
        assert attn_mod.select_kernel(short) == "sdpa"
        long = torch.empty(1, 1, attn_mod.SDPA_MAX_TOKENS + 1, 8, device="meta")
        assert attn_mod.select_kernel(long) == ("flex" if attn_mod._have_flex() else "blocked")
    finally:
        monkeypatch.undo()


def test_export_tracing_always_uses_blocked(monkeypatch, tmp_path):
    """Even with sdpa forced by the environment, the exported graph is the blocked kernel's."""
    ort = pytest.importorskip("onnxruntime")
    monkeypatch.setenv(attn_mod.ENV_KERNEL, "sdpa")
    seen = []
    real = attn_mod._blocked_attention
    monkeypatch.setattr(attn_mod, "_blocked_attention", lambda *a: seen.append(1) or real(*a))
    torch.manual_seed(0)
    block = Block(16, 2, window=4, n_global=2).eval()
    path = tmp_path / "block.onnx"
    torch.onnx.export(block, (torch.randn(2, 23, 16),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "b", 1: "n"}})
    assert seen, "the blocked kernel was not traced"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 41, 16)
    with torch.no_grad():
        ref = block(x).numpy()   # eager: the sdpa kernel; same numbers
    np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], ref, atol=1e-5, rtol=1e-4)


def test_config_attn_kernel_reaches_every_block():
    import encoders
    from encoders.errors import EncoderError
    m = encoders.create_model("ecg-tiny", depth=1, attn_kernel="sdpa")
    assert {b.attn.kernel for b in list(m.blocks) + list(m.dec_blocks)} == {"sdpa"}
    assert encoders.create_model("ecg-tiny", depth=1, attn_kernel="sdpa", export_mode=True).blocks[0].attn.kernel == "blocked"
    with pytest.raises(EncoderError, match="unknown attn_kernel"):
        encoders.create_model("ecg-tiny", attn_kernel="fast")
    x = torch.randn(2, 1, 2500)
    torch.manual_seed(0)
    a = encoders.create_model("ecg-tiny", attn_kernel="blocked").eval()
    b = encoders.create_model("ecg-tiny", attn_kernel="sdpa").eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(a.embed_forward(x), b.embed_forward(x), atol=1e-5, rtol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("kernel", ["blocked", "sdpa", "flex"])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.bfloat16, 3e-2)])
def test_cuda_kernels_equal_dense_band(kernel, dtype, tol):
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 4, 2 + 3000, 32, generator=g).to("cuda", dtype) for _ in range(3))
    ref = dense_band_attention(q.float(), k.float(), v.float(), 64, 2)
    out = windowed_attention(q, k, v, 64, 2, kernel=kernel).float()
    torch.testing.assert_close(out, ref, atol=tol, rtol=tol)
