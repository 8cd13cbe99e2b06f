"""One contract table: every registered explainer through the same checks."""

from __future__ import annotations

import pytest
import torch

from auditkit.explainers import EXPLAINERS, make_explainer

# Small settings keep the table fast; RISE's 150 masks cross one mask block (100).
FAST = {
    "integrated_gradients": {"steps": 10},
    "smoothgrad": {"samples": 8},
    "rise": {"masks": 150, "grid_size": 3},
    "occlusion": {"window": 3, "stride": 2},
    "kernel_shap": {"samples": 40, "segments": 6},
    "lime": {"samples": 40, "segments": 6},
    "expected_gradients": {"samples": 12},
}
NAMES = list(EXPLAINERS)


def build(name, model, batch_size=64, seed=0, shape=(1, 8, 8)):
    """``shape``: of the images, for the background images of Expected Gradients."""
    return make_explainer(
        name,
        model,
        layer=model.target_layer,
        batch_size=batch_size,
        generator_seed=seed,
        background=torch.rand(5, *shape, generator=torch.Generator().manual_seed(3)),
        **FAST.get(name, {}),
    )


def test_registry_lists_the_papers_methods():
    """The paper's seven methods and its random control come first, in its order (auditkit's own
    controls, such as ``input``, follow)."""
    assert NAMES[:8] == [
        "saliency",
        "gradient_input",
        "integrated_gradients",
        "smoothgrad",
        "gradcam",
        "gradcam_pp",
        "rise",
        "random",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_device_finite(name, cnn, images):
    x, y = images
    out = build(name, cnn).explain(x, y)
    channels = x.shape[1] if EXPLAINERS[name].pixel_wise else 1
    assert out.shape == (x.shape[0], channels, *x.shape[2:])
    assert out.dtype == torch.float32 and out.device == x.device
    assert not out.requires_grad
    assert torch.isfinite(out).all()
    assert out.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_three_channel_non_square_input(name, cnn3):
    x = torch.rand(4, 3, 16, 12, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2, 1])
    out = build(name, cnn3, batch_size=3, shape=(3, 16, 12)).explain(x, y)
    assert out.shape == (4, 3 if EXPLAINERS[name].pixel_wise else 1, 16, 12)
    torch.testing.assert_close(out, build(name, cnn3, shape=(3, 16, 12)).explain(x, y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_batched_equals_one_call(name, cnn, images):
    x, y = images
    small = build(name, cnn, batch_size=3).explain(x, y)
    large = build(name, cnn, batch_size=64).explain(x, y)
    torch.testing.assert_close(small, large, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_model_and_input_left_as_found(name, cnn, images):
    x, y = images
    x0 = x.clone()
    cnn.body[0].weight.requires_grad_(False)
    flags = [p.requires_grad for p in cnn.parameters()]
    build(name, cnn).explain(x, y)
    assert all(p.grad is None for p in cnn.parameters())
    assert [p.requires_grad for p in cnn.parameters()] == flags
    assert not any(m.training for m in cnn.modules())
    assert torch.equal(x, x0) and not x.requires_grad


@pytest.mark.parametrize("name", NAMES)
def test_frozen_model_and_no_grad_context(name, cnn, images):
    x, y = images
    expected = build(name, cnn).explain(x, y)
    for p in cnn.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        got = build(name, cnn).explain(x, y)
    torch.testing.assert_close(got, expected)
    assert not any(p.requires_grad for p in cnn.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch(name, cnn):
    out = build(name, cnn).explain(torch.empty(0, 1, 8, 8), torch.empty(0, dtype=torch.int64))
    assert out.shape == (0, 1, 8, 8) and out.dtype == torch.float32


@pytest.mark.parametrize("name", [n for n in NAMES if EXPLAINERS[n].seeded])
def test_seeded_methods_reproduce(name, cnn, images):
    x, y = images
    first = build(name, cnn, seed=5)
    again = build(name, cnn, seed=5).explain(x, y)
    torch.testing.assert_close(first.explain(x, y), again, rtol=0, atol=0)
    assert not torch.equal(build(name, cnn, seed=6).explain(x, y), again)
    second_call = first.explain(x, y)
    if name == "random":  # one generator per instance: successive calls differ
        assert not torch.equal(second_call, again)
    else:  # noise / masks reset per call: a map is a function of (image, seed)
        torch.testing.assert_close(second_call, again, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name, cnn, images):
    x, y = images
    cpu = build(name, cnn).explain(x, y)
    gpu = build(name, cnn.cuda()).explain(x.cuda(), y.cuda())
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4)
