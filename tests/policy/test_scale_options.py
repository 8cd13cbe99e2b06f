"""Policy options for scale: the ``ray`` section, ``run.deterministic``, ``training.mixed_precision``."""

from __future__ import annotations

import pytest

from auditkit.errors import PolicyError
from auditkit.policy import RaySpec, load_policy

from .conftest import MINIMAL


def test_defaults_run_serially_deterministic_in_float32(write) -> None:
    policy = load_policy(write(MINIMAL))
    assert policy.ray == RaySpec() and policy.ray.enabled is False and policy.ray.gpus_per_task == "auto"
    assert policy.run.deterministic is True
    assert policy.training.mixed_precision is False


def test_every_option_is_read(write) -> None:
    policy = load_policy(write(MINIMAL + (
        "training:\n  mixed_precision: bf16\n"
        "run:\n  deterministic: false\n"
        "ray:\n  enabled: true\n  address: ray://head.example:10001\n  cpus_per_task: 4\n"
        "  gpus_per_task: 0.5\n")))
    assert policy.training.mixed_precision == "bf16"
    assert policy.run.deterministic is False
    assert policy.ray == RaySpec(enabled=True, address="ray://head.example:10001", cpus_per_task=4,
                                 gpus_per_task=0.5)
    assert policy.to_dict()["ray"]["gpus_per_task"] == 0.5


@pytest.mark.parametrize(("text", "key", "message"), [
    ("ray:\n  gpus_per_task: all", "ray.gpus_per_task",
     r"expected 'auto' or a number in \[0, 64\], got 'all'"),
    ("ray:\n  address: http://head:8265", "ray.address",
     r"expected 'auto', 'ray://HOST:PORT' or 'HOST:PORT' or null, got 'http://head:8265'"),
    ("ray:\n  address: auto\n  num_cpus: 4", "ray.num_cpus", r"num_cpus sizes a local Ray instance"),
    ("ray:\n  cpus_per_task: 0", "ray.cpus_per_task", r"expected an integer in \[1, 1024\] or null, got 0"),
    ("ray:\n  enable: true", "ray.enable", r"did you mean 'enabled'\?"),
    ("training:\n  mixed_precision: true", "training.mixed_precision",
     r"expected one of false, 'bf16', 'fp16', got true"),
    ("training:\n  mixed_precision: fp61", "training.mixed_precision", r"did you mean 'fp16'\?"),
    ("run:\n  deterministic: yes please", "run.deterministic", r"expected true or false"),
], ids=["gpus", "address", "address-and-num-cpus", "cpus-per-task", "typo", "amp-true", "amp-typo",
        "deterministic"])
def test_invalid_values_name_the_key(write, text: str, key: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy(write(MINIMAL + text))
    assert f": {key}: " in str(caught.value)
