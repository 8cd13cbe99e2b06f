"""Explainers on vision transformers: Grad-CAM and Grad-CAM++ on token layers (torchvision's ViT, Swin,
declared grids) against references written token by token, and every method on a tiny ViT and Swin."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn

from auditkit.errors import ExplainerError
from auditkit.explainers import EXPLAINERS, GradCam, GradCamPlusPlus, make_explainer
from auditkit.explainers.tokens import TokenLayout, feature_map, token_layout
from auditkit.models import AuditedModel, choose_layer


class Tokenised(nn.Module):
    """A conv map ``[N, K, h, w]`` turned into tokens ``[N, 2 + h*w, K]`` (two learned prefix tokens,
    then the cells row by row), an identity ``tokens`` layer, then a head that mixes every token.
    It declares its grid: Grad-CAM on ``tokens`` must equal Grad-CAM on ``body`` (rectified, so that
    Grad-CAM++'s non-negative weights leave a map that is not all zero)."""

    def __init__(self, grid: tuple[int, int], classes: int = 3, k: int = 5) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, k, 3, stride=2, padding=1), nn.ReLU())
        self.prefix = nn.Parameter(torch.randn(1, 2, k))
        self.tokens = nn.Identity()
        self.mix = nn.Linear(k, k)
        self.head = nn.Linear((2 + grid[0] * grid[1]) * k, classes)
        self.token_grid, self.prefix_tokens = grid, 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.body(x)
        cells = [a[:, :, i, j] for i in range(a.shape[2]) for j in range(a.shape[3])]  # row-major
        t = torch.cat([self.prefix.expand(len(x), -1, -1), torch.stack(cells, dim=1)], dim=1)
        return self.head(F.gelu(self.mix(self.tokens(t))).flatten(1))


@pytest.mark.parametrize("explainer", [GradCam, GradCamPlusPlus])
def test_tokens_on_a_declared_grid_give_the_maps_of_the_feature_map_they_hold(explainer) -> None:
    torch.manual_seed(0)
    model = Tokenised(grid=(4, 6)).eval()  # 8 x 12 images, stride 2: a non-square 4 x 6 grid
    x, y = torch.rand(4, 1, 8, 12), torch.tensor([0, 1, 2, 1])
    assert token_layout(model, model.tokens) == TokenLayout((4, 6), 2, "Tokenised.token_grid")
    on_tokens = explainer(model, layer=model.tokens).explain(x, y)
    on_conv = explainer(model, layer=model.body).explain(x, y)
    torch.testing.assert_close(on_tokens, on_conv, rtol=1e-5, atol=1e-7)
    assert on_conv.amax() > 0


def test_gradcam_equals_captums_layer_gradcam_on_a_feature_map(cnn, images) -> None:
    x, y = images
    ours = GradCam(cnn, layer=cnn.target_layer).explain(x, y)
    cam = LayerGradCam(cnn, cnn.target_layer).attribute(x, target=y, relu_attributions=True)
    theirs = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


def activation_and_gradient(model: nn.Module, layer: nn.Module, x_i: torch.Tensor, c: int):
    """The layer's output for one image, as the network gives it, and ``d f_c / d`` it, float64."""
    stored = []
    handle = layer.register_forward_hook(lambda _m, _i, out: stored.append(out))
    try:
        logit = model(x_i[None])[0, c]
    finally:
        handle.remove()
    (g,) = torch.autograd.grad(logit, stored[0])
    return stored[0].detach()[0].double(), g[0].double()


def upsampled(cam: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0].float()


def test_vit_gradcam_drops_the_class_token_and_lays_patches_row_by_row(vit, images28) -> None:
    x, y = images28
    layer = vit.encoder.layers[-1].ln_1
    got = GradCam(vit, layer=layer).explain(x, y)
    for i in range(len(x)):
        a, g = activation_and_gradient(vit, layer, x[i], int(y[i]))  # [17, 32]: class token, 16 patches
        weights = g[1:].mean(dim=0)
        cam = torch.zeros(4, 4, dtype=torch.float64)
        for t in range(1, 17):
            row, col = divmod(t - 1, 4)
            cam[row, col] = torch.relu((weights * a[t]).sum())
        torch.testing.assert_close(got[i], upsampled(cam, (28, 28)), rtol=1e-4, atol=1e-6)
    assert got.amax() > 0


def test_swin_gradcam_reads_channels_last_maps(swin, images28) -> None:
    x, y = images28
    layer = swin.features[-1][-1].norm1
    got = GradCamPlusPlus(swin, layer=layer).explain(x, y)
    for i in range(len(x)):
        a, g = activation_and_gradient(swin, layer, x[i], int(y[i]))  # [4, 4, 32]: h, w, channels
        alpha = g**2 / (2 * g**2 + a.sum(dim=(0, 1)) * g**3)
        weights = (alpha.nan_to_num(0.0) * torch.relu(g)).sum(dim=(0, 1))
        cam = torch.relu(torch.einsum("ijk,k->ij", a, weights))
        torch.testing.assert_close(got[i], upsampled(cam, (28, 28)), rtol=1e-4, atol=1e-6)
    assert got.amax() > 0


def test_which_swin_layers_are_channels_last(swin) -> None:
    assert token_layout(swin, swin.features[-1][-1].norm1) == TokenLayout(None, 0, "SwinTransformer")
    assert token_layout(swin, swin.norm) == TokenLayout(None, 0, "SwinTransformer")
    assert token_layout(swin, swin.features[0][0]) is None  # the patch convolution: [N, C, h, w]
    assert token_layout(swin, swin.permute) is None  # after the final permute: [N, C, h, w]


def test_a_grid_the_policy_declares_wins_and_must_match_the_tokens(vit, images28) -> None:
    x, y = images28
    layer = vit.encoder.layers[-1].ln_1
    right = AuditedModel(vit, layer="encoder.layers.encoder_layer_1.ln_1", token_grid=(2, 8),
                         prefix_tokens=1).eval()
    assert token_layout(right, layer) == TokenLayout((2, 8), 1, "AuditedModel.token_grid")
    assert GradCam(right, layer=layer).explain(x, y).shape == (5, 1, 28, 28)
    wrong = AuditedModel(vit, token_grid=(4, 4)).eval()
    with pytest.raises(ExplainerError, match=r"^gradcam: the layer gives \(5, 17, 32\): 17 tokens, but 0 "
                       r"prefix tokens \+ a 4 x 4 grid \(AuditedModel.token_grid\) makes 0 \+ 4 x 4 = 16$"):
        GradCam(wrong, layer=layer).explain(x, y)


@pytest.mark.parametrize(("grid", "prefix", "message"), [
    ((4,), None, r"AuditedModel.token_grid must be two positive integers \(h, w\), got \(4,\)"),
    ((4, 0), None, r"must be two positive integers \(h, w\), got \(4, 0\)"),
    ((4, 4), -1, r"AuditedModel.prefix_tokens must be an integer >= 0, got -1"),
])
def test_a_declared_grid_that_is_not_one(vit, grid, prefix, message) -> None:
    model = AuditedModel(vit, token_grid=grid, prefix_tokens=prefix)
    with pytest.raises(ExplainerError, match=message):
        GradCam(model, layer=vit.encoder.layers[-1].ln_1)


def test_tokens_without_a_grid_and_outputs_that_are_neither() -> None:
    tokens = torch.zeros(2, 17, 8)
    with pytest.raises(ExplainerError, match=r"^x gives \(2, 17, 8\), a token sequence \[N, tokens, C\], and "
                       r"no token grid is known for it: declare model.token_grid"):
        feature_map(tokens, None, "x")
    for bad, shown in ((torch.zeros(2, 8), r"\(2, 8\)"), ((tokens, tokens), "tuple")):
        with pytest.raises(ExplainerError, match=rf"^x gives {shown}, neither a feature map"):
            feature_map(bad, None, "x")
    a = torch.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    assert feature_map(a, None, "x") is a
    torch.testing.assert_close(feature_map(a, TokenLayout(None, 0, "s"), "x")[1, :, 2, 0], a[1, 2, 0, :])


SMALL = {"integrated_gradients": {"steps": 8}, "smoothgrad": {"samples": 4}, "rise": {"masks": 16},
         "occlusion": {"window": 7, "stride": 7}, "kernel_shap": {"samples": 16, "groups": "grid"},
         "lime": {"samples": 16, "groups": "grid"}, "expected_gradients": {"samples": 4}}
"""Settings that keep each method a few passes on these tiny models."""


@pytest.mark.parametrize("name", list(EXPLAINERS))
@pytest.mark.parametrize("arch", ["vit", "swin"])
def test_every_explainer_runs_on_a_small_vit_and_swin(name, arch, request, images28) -> None:
    model = request.getfixturevalue(arch)
    x, y = images28
    layer = model.get_submodule(choose_layer(model).name)
    background = torch.rand(8, *x.shape[1:], generator=torch.Generator().manual_seed(1))

    def maps(batch_size: int) -> torch.Tensor:
        return make_explainer(name, model, layer=layer, batch_size=batch_size, generator_seed=3,
                              background=background, **SMALL.get(name, {})).explain(x, y)

    whole = maps(5)
    channels = 1 if not EXPLAINERS[name].pixel_wise else x.shape[1]
    assert whole.shape == (5, channels, 28, 28) and whole.dtype == torch.float32
    assert torch.isfinite(whole).all() and whole.abs().amax() > 0
    torch.testing.assert_close(maps(2), whole, rtol=1e-4, atol=1e-6)  # batching changes nothing
