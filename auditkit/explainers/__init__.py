"""Attribution methods of Fel et al. (WACV 2022, appendix B), one module each, captum underneath.

Every explainer maps ``(x [N, C, H, W], targets [N])`` to float32 maps, ``[N, C, H, W]`` for the
pixel methods and ``[N, 1, H, W]`` for Grad-CAM, Grad-CAM++ and RISE; see :class:`Explainer`.
"""

from auditkit.explainers.base import Evaluations, Explainer
from auditkit.explainers.expected_gradients import ExpectedGradients
from auditkit.explainers.gradcam import GradCam, GradCamPlusPlus
from auditkit.explainers.gradient_input import GradientInput
from auditkit.explainers.integrated_gradients import IntegratedGradients
from auditkit.explainers.kernel_shap import KernelShap
from auditkit.explainers.lime import Lime
from auditkit.explainers.occlusion import Occlusion
from auditkit.explainers.random_baseline import RandomBaseline
from auditkit.explainers.random_smooth import RandomSmooth, smoothness_width
from auditkit.explainers.registry import EXPLAINERS, explainer_settings, make_explainer
from auditkit.explainers.rise import Rise, rise_masks
from auditkit.explainers.saliency import Saliency
from auditkit.explainers.smoothgrad import SmoothGrad

__all__ = [
    "EXPLAINERS",
    "Evaluations",
    "ExpectedGradients",
    "Explainer",
    "GradCam",
    "GradCamPlusPlus",
    "GradientInput",
    "IntegratedGradients",
    "KernelShap",
    "Lime",
    "Occlusion",
    "RandomBaseline",
    "RandomSmooth",
    "Rise",
    "Saliency",
    "SmoothGrad",
    "explainer_settings",
    "make_explainer",
    "rise_masks",
    "smoothness_width",
]
