"""Run an audit's independent tasks as Ray tasks; the only module of auditkit that imports ``ray``.

It is imported by :func:`auditkit.engine.audit.make_executor` only when Ray was asked for
(``auditkit run --ray`` or ``ray.enabled: true`` in the policy). Install Ray with
``pip install 'auditkit[ray]'``.

Where the tasks run (the policy's ``ray`` section, :class:`~auditkit.policy.RaySpec`):

- if this process has already called ``ray.init`` (a notebook, a test), that instance is used and
  left running;
- else ``ray.init(address=ray.address)``: ``null`` starts a local instance of ``ray.num_cpus`` CPUs
  (or joins the one ``RAY_ADDRESS`` names), ``auto`` / ``HOST:PORT`` / ``ray://HOST:PORT`` joins an
  existing cluster. The dashboard is not started and usage statistics are off
  (``RAY_USAGE_STATS_ENABLED=0`` unless set), so a machine without network is fine. An instance
  started here is shut down by :meth:`RayExecutor.close`.

Each task reserves ``cpus_per_task`` CPUs (default: this process's torch thread count) and runs
torch with exactly that many threads, and ``gpus_per_task`` GPUs (``auto``: one when the audit runs
on CUDA). A task on CUDA uses the GPU Ray assigned to it (Ray sets ``CUDA_VISIBLE_DEVICES``, so it is
``cuda`` inside the task, whatever ``cuda:N`` the driver uses).

Identical numbers: every task is seeded on its own (fold i with ``training.seed + i``, every
explainer and muF draw from a generator seeded by the fold and the policy's seeds), never from state
left by an earlier task, and CPU float sums depend only on the thread count, which the task pins.
So a Ray run gives the serial run's numbers bit for bit on the same hardware; on another CPU or GPU
model, the last bits may differ as they would serially. ``run.deterministic`` is applied in every
task as in the driver.

Data flow (see :mod:`auditkit.engine.executor` for why): the data set and the k models of a level go
to the tasks through Ray's object store, once each; checkpoints and distances come back as work files
in ``<out>/work/``, which on a multi-node cluster must be a path every node mounts. On a cluster,
every node needs the same auditkit and torch installed (or a ``runtime_env`` set up by the operator
before ``ray.init``).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch

from auditkit.engine.executor import Executor, Task, torch_settings
from auditkit.errors import AuditError
from auditkit.policy import RaySpec

__all__ = ["RayExecutor"]


def _run_task(fn: Callable[..., Any], device_type: str, threads: int, deterministic: bool,
              *args: Any) -> tuple[str, Any]:
    """Body of every Ray task: pin the torch settings, then call ``fn(*args, device=...)``; the id of
    the node it ran on (hex, for the log) and what ``fn`` returned.

    ``args`` are top-level arguments of the Ray task, so object references among them arrive
    resolved.
    """
    import ray

    device = torch.device(device_type)
    torch_settings(device, deterministic, threads)
    return ray.get_runtime_context().get_node_id(), fn(*args, device=device)


class RayExecutor(Executor):
    """Submits every task of a :meth:`run` at once as a Ray task and waits for all of them.

    Args:
        spec: the policy's ``ray`` section.
        device: the audit's device; tasks run on CUDA when it is CUDA.
        deterministic: the policy's ``run.deterministic``, applied in every task.
        log: receives a line when a Ray instance is started or joined (its nodes, CPUs and GPUs),
            and one per finished task, naming the node it ran on (the first 12 hex digits of its id).
        progress: a progress bar of the finished tasks of each run (:class:`Executor`).

    Raises:
        AuditError: Ray is not installed, cannot start or cannot reach ``spec.address``; the audit
            runs on CUDA but ``gpus_per_task`` is 0.
    """

    def __init__(self, spec: RaySpec, device: torch.device, *, deterministic: bool = True,
                 log: Callable[[str], None] = lambda _: None, progress: bool = False) -> None:
        try:
            import ray
        except ImportError as exc:
            raise AuditError("running on Ray needs the ray package: pip install 'auditkit[ray]' "
                             f"(or run without --ray and ray.enabled) ({exc})") from exc
        super().__init__(device, progress=progress, log=log)
        self._ray = ray
        self._shared: dict[int, Any] = {}
        self.deterministic = deterministic
        self.threads = spec.cpus_per_task or torch.get_num_threads()
        on_cuda = device.type == "cuda"
        self.gpus = (1.0 if on_cuda else 0.0) if spec.gpus_per_task == "auto" else float(spec.gpus_per_task)
        if on_cuda and self.gpus == 0:
            raise AuditError("ray.gpus_per_task is 0 but the audit runs on CUDA: every task would use "
                             "the same GPU unscheduled; set it to 'auto', 1 or a fraction such as 0.5")
        self._owns = not ray.is_initialized()
        if self._owns:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            where = spec.address or os.environ.get("RAY_ADDRESS") or "a local instance"
            try:
                ray.init(address=spec.address, num_cpus=spec.num_cpus, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
                raise AuditError(f"could not start or join Ray ({where}): {type(exc).__name__}: {exc}; "
                                 "check ray.address in the policy") from exc
            log(f"ray: started or joined {where}")
        resources = ray.cluster_resources()
        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        log(f"ray: {nodes} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs; "
            f"each task reserves {self.threads} CPU(s) and {self.gpus:g} GPU(s)")
        if resources.get("CPU", 0) < self.threads or resources.get("GPU", 0) < self.gpus:
            self.close()
            raise AuditError(f"a task needs {self.threads} CPU(s) and {self.gpus:g} GPU(s) but the Ray "
                             f"cluster has {resources.get('CPU', 0):g} and {resources.get('GPU', 0):g}: "
                             "lower ray.cpus_per_task / ray.gpus_per_task or raise ray.num_cpus")
        self._remote = ray.remote(_run_task)
        self._nodes: dict[int, str] = {}  # id(task) -> the node it ran on, during a run

    def share(self, obj: Any) -> Any:
        """``ray.put(obj)``, once per object while it lives (the data set is shared by every level)."""
        ref = self._shared.get(id(obj))
        if ref is None:
            ref = self._ray.put(obj)
            try:
                weakref.finalize(obj, self._shared.pop, id(obj), None)
            except TypeError:  # not weak-referenceable (a list): put again next time
                return ref
            self._shared[id(obj)] = ref
        return ref

    def _run(self, tasks: Sequence[Task], done: Callable[[Task], None]) -> list[Any]:
        ray = self._ray
        device_type = self.device.type
        refs = [
            self._remote.options(num_cpus=self.threads, num_gpus=self.gpus, name=task.name or None)
            .remote(task.fn, device_type, self.threads, self.deterministic, *task.args)
            for task in tasks
        ]
        of = {ref: task for ref, task in zip(refs, tasks, strict=True)}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                node, _ = ray.get(ready[0])  # raises a failed task's error now, not after the others
                self._nodes[id(of[ready[0]])] = node
                done(of[ready[0]])
        except BaseException as exc:
            for ref in pending:
                ray.cancel(ref, force=True)
            if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc.cause, Exception):
                raise exc.cause from exc  # the task's own error: an AuditError keeps its exit code
            raise
        finally:
            self._nodes.clear()
        return [result for _, result in ray.get(refs)]

    def _where(self, task: Task) -> str:
        node = self._nodes.get(id(task))
        return "" if node is None else f" on node {node[:12]}"

    def close(self) -> None:
        self._shared.clear()
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False
