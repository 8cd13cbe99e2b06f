"""Expected Gradients: exact on a linear model per draw and in expectation, equal to captum's
GradientShap given captum's own draws, per-image seeding, the fold's training images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import GradientShap

from auditkit.data import ImageDataset
from auditkit.engine.explain import TrainingImages
from auditkit.errors import ExplainerError
from auditkit.explainers import EXPLAINERS, ExpectedGradients, make_explainer
from auditkit.explainers.expected_gradients import path_draws


@pytest.fixture
def background():
    return torch.rand(9, 2, 3, 3, generator=torch.Generator().manual_seed(5))


def test_linear_model_is_weight_times_difference_to_the_drawn_baselines(linear, background):
    """Each draw gives W_c (x - x'_j), whatever a_j: the map is W_c (x - mean_j x'_j) exactly."""
    (model, w), x = linear, torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 3, 1, 1])
    got = ExpectedGradients(model, background=background, samples=7, generator_seed=9).explain(x, y)
    index, _ = path_draws(7, 9, torch.Generator().manual_seed(9))
    assert index.unique().numel() > 1
    torch.testing.assert_close(got, w[y] * (x - background[index].mean(dim=0)))


def test_linear_model_in_expectation(linear, background):
    """Many draws: W_c (x - mean of the background), to sampling error."""
    (model, w), x = linear, torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([2, 0])
    got = ExpectedGradients(model, background=background, samples=6000).explain(x, y)
    spread = (background - background.mean(dim=0)).abs().max()
    torch.testing.assert_close(got, w[y] * (x - background.mean(dim=0)), rtol=0,
                               atol=float(4 * spread * w.abs().max() / 6000**0.5))


def test_equals_captums_gradient_shap_given_its_draws(cnn, images):
    """captum draws the baselines (np.random.choice), then the points (np.random.uniform) from NumPy's
    global generator; the same draws through our estimator give captum's map."""
    x, y = images
    bg = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    ours = ExpectedGradients(cnn, background=bg, batch_size=5)
    for n in (0, 4):  # captum draws from NumPy's global generator: seeding it is the only way
        np.random.seed(7)  # noqa: NPY002
        expected = GradientShap(cnn).attribute(x[n : n + 1], baselines=bg, n_samples=11, stdevs=0.0,
                                               target=int(y[n]))
        np.random.seed(7)  # noqa: NPY002
        index = torch.from_numpy(np.random.choice(6, 11))  # noqa: NPY002
        alpha = torch.from_numpy(np.random.uniform(0.0, 1.0, 11)).float()  # noqa: NPY002
        got = ours._path_gradients(x[n : n + 1], y[n : n + 1], index, alpha)
        torch.testing.assert_close(got, expected.float(), rtol=1e-4, atol=1e-6)


def test_map_of_an_image_does_not_depend_on_its_batch(cnn, images):
    x, y = images
    bg = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    explainer = ExpectedGradients(cnn, background=bg, samples=9, batch_size=16, generator_seed=2)
    together = explainer.explain(x, y)
    for n in range(len(x)):
        torch.testing.assert_close(explainer.explain(x[n : n + 1], y[n : n + 1])[0], together[n],
                                   rtol=1e-6, atol=1e-7)
    other = ExpectedGradients(cnn, background=bg, samples=9, generator_seed=3).explain(x, y)
    assert not torch.allclose(other, together)


def test_training_images_of_a_fold_are_the_other_folds():
    images = torch.arange(10, dtype=torch.uint8).reshape(10, 1, 1, 1) * 20
    data = ImageDataset.from_tensors("t", images, torch.zeros(10, dtype=torch.long), ("a",), "test")
    fold_of = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    training = TrainingImages(data, fold_of)
    for fold in range(3):
        got = training.of(fold, 100, seed=1)
        held_out = (fold_of == fold).nonzero()[:, 0]
        assert got.shape == (10 - held_out.numel(), 1, 1, 1)
        assert set((got.flatten() * 255).round().long().tolist()) == {
            20 * i for i in range(10) if fold_of[i] != fold}
    few = training.of(0, 3, seed=1)
    assert few.shape == (3, 1, 1, 1) and torch.equal(few, training.of(0, 3, seed=1))
    assert not torch.equal(few, training.of(0, 3, seed=2))
    assert TrainingImages(data, None).of(0, 100, seed=0).shape[0] == 10


def test_registry_requires_the_background(linear, background):
    model, _ = linear
    assert EXPLAINERS["expected_gradients"].background_size == 1000
    with pytest.raises(ExplainerError, match=r"expected_gradients draws baselines from the model's training "
                                             r"images: pass background=Tensor\[M, C, H, W\]"):
        make_explainer("expected_gradients", model)
    assert make_explainer("expected_gradients", model, background=background, samples=3).samples == 3


@pytest.mark.parametrize("bad", [torch.zeros(0, 2, 3, 3), torch.zeros(2, 3, 3),
                                 torch.zeros(2, 2, 3, 3).long()])
def test_bad_background(linear, bad):
    with pytest.raises(ExplainerError, match="background must be a floating-point Tensor"):
        ExpectedGradients(linear[0], background=bad)


def test_background_of_another_shape_is_refused(linear):
    with pytest.raises(ExplainerError, match=r"background images are \(2, 4, 4\), the explained ones "
                                             r"\(2, 3, 3\): they must match"):
        ExpectedGradients(linear[0], background=torch.zeros(3, 2, 4, 4)).explain(
            torch.zeros(1, 2, 3, 3), torch.tensor([0]))


@pytest.mark.parametrize("samples", [0, -1])
def test_non_positive_samples_are_refused(linear, background, samples):
    with pytest.raises(ExplainerError, match=r"samples must be an integer in \[1, 10000\]"):
        ExpectedGradients(linear[0], background=background, samples=samples)
