"""The demo policy's deployed checkpoint (``deployed.checkpoint`` of ``policies/digits.yaml``), made as
``make demo`` makes it (``auditkit train``) when missing, for the benchmarks that run the demo."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_POLICY = ROOT / "policies" / "digits.yaml"


def ensure_demo_checkpoint(policy: Path = DEMO_POLICY) -> None:
    """Train ``policy``'s deployed checkpoint when it names one that does not exist yet."""
    from auditkit.api import train_deployed
    from auditkit.policy import load_policy

    loaded = load_policy(policy)
    target = loaded.deployed.checkpoint
    if target is not None and not Path(target).exists():
        done = train_deployed(policy, target)
        print(f"trained the deployed checkpoint {done.path} (sha256 {done.sha256})", flush=True)
