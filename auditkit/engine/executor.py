"""Where the independent tasks of an audit run: in this process, one after the other, or on Ray.

An audit has three kinds of independent, seeded tasks: the training of one fold model f_i
(:func:`~auditkit.engine.crosstrain.train_fold`), the retraining of one fold on label-shuffled data
(the same function with other labels) and the explanation pass of one explainer over the k models
of one level (:func:`auditkit.engine.audit.explain_pass`). Each writes its own work file under
``<out>/work/`` (atomically) and returns only small metadata. The driver (:func:`~auditkit.engine.
audit.run_audit`) decides which tasks to run: those whose work file is missing or was made under
another key; finished ones are never resubmitted, so resume is the same with and without Ray.
After the tasks ran, the driver loads their work files exactly as a resumed serial run does, so
everything downstream (scores, bootstrap, verdicts) is one code path.

:class:`SerialExecutor` is the default (the audit runs as it always did; the engine does not even
call it for work it can do inline with progress bars). :class:`~auditkit.engine.ray_executor.
RayExecutor` runs the tasks as Ray tasks; it is the only module that imports ``ray``, and
:func:`auditkit.engine.audit.make_executor` imports it only when Ray was asked for (``--ray`` or
``ray.enabled`` in the policy), so a serial audit never imports Ray.

Why work files and not Ray's object store for results: the work files are also the resume state,
and what a task produces is bounded (a state dict of one model, or ``k - 1`` float32 distances per
image plus a few example maps; never every map). Writing them to the out folder means a killed
driver loses no finished task, and a Ray run and a serial run share and reuse each other's work. The
price: on a multi-node cluster the out folder must be on a filesystem every node mounts at the same
path (NFS, a cluster filesystem); on a local Ray instance it trivially is. Inputs that are read-only
and shared by many tasks (the data set, the k models of a level) go the other way, through the
object store (:meth:`Executor.share`), so they are serialised once per audit or level.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from auditkit.engine.progress import progress_bar

__all__ = ["Executor", "SerialExecutor", "Task", "torch_settings"]


@dataclass(frozen=True)
class Task:
    """One independent unit of work.

    Attributes:
        fn: a module-level function (Ray ships it by reference), called as
            ``fn(*args, device=...)`` with the device the task runs on.
        args: its positional arguments; picklable, or handles from :meth:`Executor.share`.
        name: what the task does, for log lines (``"train fold 2"``).
        output: the work file the task writes, recorded in :attr:`Executor.produced` when it
            finishes (so the driver can tell work done in this run from work reused from an earlier one).
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = field(default=())
    name: str = ""
    output: Path | None = None


class Executor(ABC):
    """Runs lists of independent :class:`Task` and returns their results in order.

    Args:
        device: the audit's device (the driver's).
        progress: show a progress bar of the finished tasks of each :meth:`run` on stderr.
        log: receives a line ``"<task name>: done"`` as each task finishes (with ``" on node <id>"``
            on Ray).
    """

    def __init__(self, device: torch.device, *, progress: bool = False,
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.device = device
        self.progress = progress
        self.log = log
        self.produced: set[Path] = set()
        """The :attr:`Task.output` of every task that finished in this executor's lifetime."""

    def share(self, obj: Any) -> Any:
        """A handle to pass ``obj`` to many tasks (the object itself when nothing is shipped)."""
        return obj

    def run(self, tasks: Sequence[Task], done: Callable[[Task], None] | None = None) -> list[Any]:
        """Run ``tasks`` (in any order, possibly at once) and return their results in task order.

        ``done`` is called with each task as it finishes. An exception of a task is raised here as the
        task raised it, after the other tasks were cancelled or finished.
        """
        with progress_bar(self.progress and bool(tasks), len(tasks), "tasks", unit="task") as bar:

            def finished(task: Task) -> None:
                if task.output is not None:
                    self.produced.add(task.output)
                bar.update()
                self.log(f"{task.name}: done{self._where(task)}")
                if done is not None:
                    done(task)

            return self._run(tasks, finished)

    def _where(self, task: Task) -> str:
        """Where ``task`` ran, for its log line: ``""`` (in this process); a Ray executor names the node."""
        return ""

    @abstractmethod
    def _run(self, tasks: Sequence[Task], done: Callable[[Task], None]) -> list[Any]:
        """:meth:`run` without the bookkeeping: call ``done(task)`` as each task finishes."""

    def close(self) -> None:  # noqa: B027 (nothing to release by default)
        """Release what the executor holds (a Ray instance it started)."""


class SerialExecutor(Executor):
    """Runs the tasks one after the other in this process, on the audit's device."""

    def _run(self, tasks: Sequence[Task], done: Callable[[Task], None]) -> list[Any]:
        out = []
        for task in tasks:
            out.append(task.fn(*task.args, device=self.device))
            done(task)
        return out


def torch_settings(device: torch.device, deterministic: bool, threads: int | None = None) -> None:
    """Set the process-wide torch settings the audit's numbers depend on (driver and every task).

    Args:
        device: where the work runs; the cuDNN / cuBLAS settings are made only for CUDA.
        deterministic: on CUDA, ``True`` sets ``cudnn.deterministic = True``, ``cudnn.benchmark =
            False``, ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset (read when cuBLAS first starts, so
            set it in the environment to be sure) and ``torch.use_deterministic_algorithms(True,
            warn_only=True)`` (an op without a deterministic kernel warns instead of failing);
            ``False`` sets ``cudnn.benchmark = True``: cuDNN times its algorithms per input shape
            and keeps the fastest, faster for the fixed shapes of an audit, not bit-reproducible.
            Leaves CPU settings alone: on CPU the numbers depend only on the thread count.
        threads: torch intra-op threads, None to leave them.
    """
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
