"""Grad-CAM and Grad-CAM++ against slow per-image references written from the formulas."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from auditkit.explainers import GradCam, GradCamPlusPlus


def layer_and_gradient(model, x_i, c):
    """``A`` [K, h, w] and ``d f_c / d A`` for one image, via the model's two halves (no hooks)."""
    a = model.body(x_i[None]).detach().requires_grad_()
    logit = model.head(a.clone())[0, c]  # clone: the head starts with an in-place ReLU
    (g,) = torch.autograd.grad(logit, a)
    return a.detach()[0].double(), g[0].double()


def upsample(cam, size):
    return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0]


def test_gradcam_matches_reference(cnn, images):
    x, y = images
    got = GradCam(cnn, layer=cnn.target_layer, batch_size=3).explain(x, y)
    for i in range(len(x)):
        a, g = layer_and_gradient(cnn, x[i], int(y[i]))
        weights = g.mean(dim=(1, 2))
        cam = torch.relu((weights[:, None, None] * a).sum(dim=0))
        torch.testing.assert_close(got[i], upsample(cam, x.shape[-2:]).float(), rtol=1e-5, atol=1e-6)
    assert (got >= 0).all()


def gradcam_pp_reference(a, g):
    """Eq. 19 of Chattopadhyay et al. written out position by position, float64."""
    k_, h, w = a.shape
    weights = torch.zeros(k_, dtype=torch.float64)
    zero_denominators = 0
    for k in range(k_):
        total = float(a[k].sum())
        for i in range(h):
            for j in range(w):
                gij = float(g[k, i, j])
                denominator = 2 * gij**2 + total * gij**3
                if denominator == 0:
                    zero_denominators += 1
                    continue
                weights[k] += gij**2 / denominator * max(gij, 0.0)
    cam = torch.relu((weights[:, None, None] * a).sum(dim=0))
    return cam, zero_denominators


def test_gradcam_pp_matches_reference(cnn, images):
    x, y = images
    got = GradCamPlusPlus(cnn, layer=cnn.target_layer, batch_size=3).explain(x, y)
    zeros = 0
    for i in range(len(x)):
        a, g = layer_and_gradient(cnn, x[i], int(y[i]))
        cam, z = gradcam_pp_reference(a, g)
        zeros += z
        torch.testing.assert_close(got[i], upsample(cam, x.shape[-2:]).float(), rtol=1e-4, atol=1e-6)
    assert zeros > 0  # max pool and ReLU after the layer give g = 0: the 0/0 case is exercised


def test_gradcam_pp_denominator_zero_with_nonzero_gradient():
    """``A = x`` (identity layer) with channel sums S = 1 and a linear head ``g = v``: where v = -2,
    ``2 g^2 + S g^3 = 8 - 8 = 0`` exactly, so alpha = 0 there (not inf or NaN)."""
    layer = nn.Identity()
    model = nn.Sequential(layer, nn.Flatten(), nn.Linear(2 * 4 * 4, 2, bias=False)).eval()
    v = torch.tensor([-2.0, 1.0, 0.5, 0.0]).repeat(8)
    with torch.no_grad():
        model[2].weight.copy_(torch.stack([v, -v]))
    x = torch.full((1, 2, 4, 4), 1 / 16)
    got = GradCamPlusPlus(model, layer=layer).explain(x, torch.tensor([0]))
    # per channel, 4 positions each of g = 1 (alpha 1/3), 0.5 (alpha 0.4), -2 and 0 (alpha 0):
    w = 4 * (1 / 3 * 1 + 0.4 * 0.5)
    torch.testing.assert_close(got, torch.full((1, 1, 4, 4), 2 * w / 16))
    a, g = x[0].double(), v.reshape(2, 4, 4).double()
    cam, zeros = gradcam_pp_reference(a, g)
    assert zeros == 16
    torch.testing.assert_close(got[0, 0], cam.float())


def test_upsampling_is_bilinear_not_nearest():
    """A 2x2 layer map [[1, 0], [0, 0]] (average pool of a 4x4 image, all weights 1, so the mean
    gradient is 1) upsampled to 4x4 with align_corners=False: rows/cols weigh 1, .75, .25, 0."""
    model = nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 2, bias=False)).eval()
    with torch.no_grad():
        model[2].weight.fill_(1.0)
    x = torch.zeros(1, 1, 4, 4)
    x[..., :2, :2] = 1.0
    profile = torch.tensor([1.0, 0.75, 0.25, 0.0])
    for explainer in (GradCam, GradCamPlusPlus):  # g = 1: Grad-CAM++ alpha = 1/(2 + 1), four cells
        scale = 1.0 if explainer is GradCam else 4 / 3
        cam = explainer(model, layer=model[0]).explain(x, torch.tensor([0]))
        torch.testing.assert_close(cam[0, 0], scale * profile[:, None] * profile[None, :])
