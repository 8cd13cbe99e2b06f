"""Every user-reachable misuse raises ExplainerError (a ValueError) with a message naming the problem."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from auditkit.errors import ExplainerError
from auditkit.explainers import EXPLAINERS, Saliency, explainer_settings, make_explainer


def test_unknown_name_suggests_close_match(cnn):
    with pytest.raises(
        ExplainerError,
        match=r"unknown explainer 'gradcampp'; known: saliency, .*"
        r"did you mean 'gradcam_pp'\?",
    ):
        make_explainer("gradcampp", cnn)
    with pytest.raises(ValueError, match="unknown explainer 'zzz'; known: saliency, gradient_input"):
        make_explainer("zzz", cnn)


def test_unknown_setting_names_it_and_the_accepted_ones(cnn):
    with pytest.raises(
        ExplainerError, match=r"integrated_gradients: unknown setting 'stepz'; accepted: steps"
    ):
        make_explainer("integrated_gradients", cnn, stepz=3)
    with pytest.raises(ExplainerError, match=r"gradcam: unknown setting 'steps'; accepted: none"):
        make_explainer("gradcam", cnn, layer=cnn.target_layer, steps=3)


def test_settings_table():
    assert explainer_settings(EXPLAINERS["smoothgrad"]) == {
        "samples": 60,
        "sigma": 0.2,
        "sigma_convention": "range",
        "absolute": True,
    }
    assert explainer_settings(EXPLAINERS["rise"]) == {
        "masks": 1000,
        "grid_size": 7,
        "keep_probability": 0.5,
        "score": "logit",
    }
    assert explainer_settings(EXPLAINERS["gradient_input"]) == {"convention": "abs"}


@pytest.mark.parametrize("name", ["gradcam", "gradcam_pp"])
def test_layer_required_and_must_belong_to_the_model(name, cnn):
    with pytest.raises(ExplainerError, match=f"{name} needs a convolutional layer"):
        make_explainer(name, cnn)
    with pytest.raises(ExplainerError, match="layer must be a submodule of the model"):
        make_explainer(name, cnn, layer=nn.Conv2d(1, 1, 1))


def test_layer_ignored_by_methods_that_do_not_need_it(cnn, images):
    x, y = images
    make_explainer("saliency", cnn, layer=cnn.target_layer).explain(x, y)


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_model_in_train_mode(name, cnn, images):
    x, y = images
    e = make_explainer(name, cnn, layer=cnn.target_layer, background=torch.rand(3, 1, 8, 8))
    cnn.train()
    with pytest.raises(ExplainerError, match="model must be in eval mode, but 'model' is in training mode"):
        e.explain(x, y)
    cnn.eval()
    cnn.head[3].train()
    with pytest.raises(ExplainerError, match=r"'head\.3' is in training mode"):
        e.explain(x, y)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ({"name": "saliency", "batch_size": 0}, None, r"batch_size must be an integer in \[1, \d+\], got 0"),
        ({"name": "saliency", "batch_size": 2.0}, None,
         r"batch_size must be an integer in \[1, \d+\], got 2\.0"),
        ({"name": "saliency", "batch_size": True}, None,
         r"batch_size must be an integer in \[1, \d+\], got true"),
        ({"name": "integrated_gradients", "steps": 1}, None,
         r"steps must be an integer in \[2, 10000\], got 1"),
        ({"name": "smoothgrad", "samples": 0}, None, r"samples must be an integer in \[1, 10000\], got 0"),
        ({"name": "smoothgrad", "sigma": 0.0}, None, r"sigma must be a number in \(0, 100\], got 0\.0"),
        ({"name": "smoothgrad", "sigma": float("nan")}, None,
         r"sigma must be a number in \(0, 100\], got nan"),
        (
            {"name": "smoothgrad", "sigma_convention": "std"},
            None,
            "sigma_convention must be one of 'range', 'absolute', got 'std'",
        ),
        ({"name": "smoothgrad", "absolute": 1}, None, "absolute must be true or false, got 1"),
        ({"name": "smoothgrad", "generator_seed": -1}, None,
         r"generator_seed must be an integer in \[0, \d+\], got -1"),
        (
            {"name": "gradient_input", "convention": "relu"},
            None,
            "convention must be one of 'abs', 'signed', got 'relu'",
        ),
        (
            {"name": "rise", "keep_probability": 0},
            None,
            r"keep_probability must be a number in \(0, 1\], got 0",
        ),
        ({"name": "rise", "grid_size": 0}, None, r"grid_size must be an integer in \[2, 64\], got 0"),
        ({"name": "rise", "masks": 0}, None, r"masks must be an integer in \[1, 1000000\], got 0"),
        ({"name": "rise", "score": "softmax"}, None, "score must be one of 'logit', 'probability'"),
        ({"name": "random", "generator_seed": "1"}, None,
         r"generator_seed must be an integer in \[0, \d+\], got \'1\'"),
    ],
)
def test_bad_settings(setting, value, message, cnn):
    kwargs = dict(setting)
    name = kwargs.pop("name")
    with pytest.raises(ExplainerError, match=message):
        make_explainer(name, cnn, layer=cnn.target_layer, **kwargs)


def test_model_must_be_a_module():
    with pytest.raises(ExplainerError, match=r"model must be a torch\.nn\.Module, got function"):
        Saliency(lambda x: x)


@pytest.mark.parametrize("name", list(EXPLAINERS))
@pytest.mark.parametrize(
    ("x", "targets", "message"),
    [
        (
            torch.rand(3, 8, 8),
            torch.zeros(3, dtype=torch.int64),
            r"x must be a floating-point Tensor\[N, C, H, W\]",
        ),
        (
            torch.zeros(3, 1, 8, 8, dtype=torch.int64),
            torch.zeros(3, dtype=torch.int64),
            "got torch.int64 tensor",
        ),
        (
            torch.rand(3, 1, 8, 8),
            torch.zeros(4, dtype=torch.int64),
            r"targets must be a Tensor\[N\] with N = 3",
        ),
        (torch.rand(3, 1, 8, 8), torch.zeros(3, 1, dtype=torch.int64), r"got shape \(3, 1\)"),
        (torch.rand(3, 1, 8, 8), [0, 1, 2], "got list"),
        (
            torch.rand(3, 1, 8, 8),
            torch.zeros(3),
            "targets must hold integer class indices, got dtype torch.float32",
        ),
        (
            torch.rand(3, 1, 8, 8),
            torch.tensor([0, 3, 1]),
            r"targets must be class indices in \[0, 2\], got 3",
        ),
        (
            torch.rand(3, 1, 8, 8),
            torch.tensor([0, -1, 1]),
            r"targets must be class indices in \[0, 2\], got -1",
        ),
    ],
)
def test_bad_calls(name, x, targets, message, cnn):
    with pytest.raises(ExplainerError, match=message):
        explainer = make_explainer(name, cnn, layer=cnn.target_layer, background=torch.rand(3, 1, 8, 8))
        explainer.explain(x, targets)


def test_model_must_return_2d_logits(images):
    x, y = images
    with pytest.raises(
        ExplainerError, match=r"must return logits Tensor\[N, num_classes\], got shape \(1, 1, 8, 8\)"
    ):
        Saliency(nn.Identity().eval()).explain(x, y)


def test_layer_output_must_be_a_feature_map(cnn, images):
    x, y = images
    for name in ("gradcam", "gradcam_pp"):
        with pytest.raises(ExplainerError, match=rf"{name}: the layer gives \(7, 24\), neither a feature map "
                           r"\[N, C, h, w\] nor a token sequence \[N, tokens, C\]"):
            make_explainer(name, cnn, layer=cnn.head[2]).explain(x, y)



@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_input_on_another_device(cnn, images):
    x, y = images
    with pytest.raises(ExplainerError, match="x is on cuda:0 but the model is on cpu"):
        Saliency(cnn).explain(x.cuda(), y)


def test_layer_that_never_runs(cnn, images):
    x, y = images
    unused = nn.Conv2d(1, 1, 1)
    cnn.unused = unused.eval()
    with pytest.raises(ExplainerError, match="gradcam_pp: layer never ran in the model's forward pass"):
        make_explainer("gradcam_pp", cnn, layer=unused).explain(x, y)
