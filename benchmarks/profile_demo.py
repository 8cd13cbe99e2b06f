"""Where the demo's wall time goes, and how far each phase is from its compute floor.

Not a test (pytest collects only ``test_*.py``). It does what ``make demo`` does, from an empty out
folder: a demo signer (``auditkit keygen``), ``auditkit run policies/digits.yaml`` with that key
(:func:`auditkit.api.certify`, so the audit, report, signature and history record) and
``auditkit verify``, and stamps every log line with the seconds since the start. A phase is the time
from the previous log line to the line that ends it, so the table adds up to the wall time:

    nice -n 5 .venv/bin/python -u benchmarks/profile_demo.py [POLICY] [OUT]

(default ``policies/digits.yaml`` and a fresh temporary folder). Phases are summed by kind: the clean
trainings, each explainer's pass at the clean level (explanations, distances, muF, its bootstrap and
ReCo's permutation null: the log line comes after the scores), the properties, the passes of each
sanity level, the label-shuffled retrainings, the trend tests, the report, the signature and the
verification.

The compute floor. While the audit runs, global module hooks (``register_module_forward_pre_hook``)
count every call of a root module (one not called from inside another module's forward) by kind
and input shape: ``train`` (a module in training mode: forward, cross-entropy, backward to the
weights and one Adam step), ``grad`` (eval mode, autograd on: forward and one backward to the input,
as gradient methods and captum do) and ``forward`` (autograd off: predictions, RISE, muF). After
the audit, the same module objects are timed bare, call by call, on random inputs of every counted
shape (:func:`bare_seconds`: the median of three rounds through every shape), and

    floor(phase) = sum over (kind, shape) of calls(phase, kind, shape) x t(kind, shape)   [s]

is the time the phase's model evaluations alone take at the model's raw throughput on this machine;
``wall / floor`` is how much the phase spends beyond them (data movement, captum, distances, the
bootstrap, Python). A phase without model evaluations (the report, the trend tests) has no floor.
A second table lists the evaluations by kind, image size and batch, with each one's bare time.
The ``train`` timing uses a fresh Adam on a copy of the model, so it counts the optimiser step but
not the schedule or the shuffling. Grad-CAM's backward stops at its layer, so its ``grad`` calls are
counted as full ones and its floor is an upper bound.
"""

from __future__ import annotations

import copy
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent

PHASES: tuple[tuple[str, str], ...] = (
    (r"^keygen done", "demo signer (auditkit keygen)"),
    (r"^fold accuracies", "clean trainings (k folds, with loading the data)"),
    (r"^label shuffling [\d.]+: retrained", "label-shuffled retrainings"),
    (r"^label_shuffling_[\d.]+ (\w+): MeGe", "label-shuffling levels, pass + scores: {0}"),
    (r"^weight_randomisation_[\d.]+ (\w+): MeGe", "weight-randomisation levels, pass + scores: {0}"),
    (r"^sanity_images (\w+): MeGe", "sanity subsample, clean models' pass + scores: {0}"),
    (r"^(\w+): MeGe", "clean level, explanation pass + scores: {0}"),
    (r"^(\w+): SENS_max", "properties (robustness, invariance, completeness): {0}"),
    (r"^sanity check ", "trend tests and verdicts"),
    (r"^report written", "report (HTML and PDF)"),
    (r"^report signed", "signature (PAdES, CMS)"),
)
"""(regex on a log line, the phase that line ends); the first match wins, other lines go to "other"."""

OTHER = "other (logging, level set-up, accuracy of degraded models, history)"

Key = tuple[str, int, tuple[int, ...]]
"""(kind, id of the module, input shape) of a counted call."""


def phase_of(line: str) -> str:
    for pattern, name in PHASES:
        found = re.match(pattern, line)
        if found:
            return name.format(*found.groups())
    return OTHER


class EvaluationCounter:
    """Counts root-module calls by (kind, module, input shape) between two :meth:`take` calls.

    Keeps one frozen copy of every module class and kind it saw (:attr:`models`) for the timing.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.calls: Counter[Key] = Counter()
        self.models: dict[tuple[str, int], nn.Module] = {}
        self._handles = [nn.modules.module.register_module_forward_pre_hook(self._enter),
                         nn.modules.module.register_module_forward_hook(self._leave)]

    def _enter(self, module: nn.Module, args: tuple) -> None:
        self.depth += 1
        if self.depth != 1 or not args or not isinstance(args[0], torch.Tensor) or args[0].dim() != 4:
            return
        kind = "train" if module.training else "grad" if torch.is_grad_enabled() else "forward"
        slot = (kind, id(type(module)))
        if slot not in self.models:
            self.models[slot] = bare_copy(module)
        self.calls[(kind, slot[1], tuple(args[0].shape))] += 1

    def _leave(self, module: nn.Module, args: tuple, output: object) -> None:
        self.depth -= 1

    def take(self) -> Counter[Key]:
        """The calls since the last take."""
        calls, self.calls = self.calls, Counter()
        return calls

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def bare_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` without the hooks an explainer may have put on it (captum's Grad-CAM)."""
    clone = copy.deepcopy(module)
    for part in clone.modules():
        for hooks in (part._forward_hooks, part._forward_pre_hooks, part._backward_hooks,
                      part._backward_pre_hooks):
            hooks.clear()
    return clone


def bare_call(model: nn.Module, kind: str, shape: tuple[int, ...]) -> Callable[[], None]:
    """One bare call of ``model`` of ``kind`` on a random input of ``shape`` (module docstring)."""
    device = next(model.parameters()).device
    x = torch.rand(shape, device=device)
    model = model.train() if kind == "train" else model.eval()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-6) if kind == "train" else None

    def once() -> None:
        if kind == "forward":
            with torch.no_grad():
                model(x)
        elif kind == "grad":
            leaf = x.detach().requires_grad_(True)
            torch.autograd.grad(model(leaf)[:, 0].sum(), leaf)
        else:
            labels = torch.zeros(shape[0], dtype=torch.long, device=device)
            loss = nn.functional.cross_entropy(model(x), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return once


def bare_seconds(calls: dict[str, Counter[Key]], models: dict[tuple[str, int], nn.Module],
                 rounds: int = 3, repeats: int = 3) -> dict[Key, float]:
    """Seconds of one bare call of every counted (kind, module, shape): the median over ``rounds``
    rounds through all of them (so that a slow moment of a shared machine does not fall on a few
    shapes only) of the median of ``repeats`` timed calls after one warm-up."""
    keys = sorted({key for counted in calls.values() for key in counted})
    work = {key: bare_call(copy.deepcopy(models[(key[0], key[1])]), key[0], key[2]) for key in keys}
    times: dict[Key, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for key in keys:
            work[key]()
            round_times = []
            for _ in range(repeats):
                start = time.perf_counter()
                work[key]()
                round_times.append(time.perf_counter() - start)
            times[key].append(statistics.median(round_times))
    return {key: statistics.median(t) for key, t in times.items()}


def evaluations(counted: Counter[Key]) -> str:
    """``"1.1M grad, 0.4M forward"``: images evaluated, by kind."""
    images: Counter[str] = Counter()
    for (kind, _, shape), n in counted.items():
        images[kind] += n * shape[0]
    return ", ".join(f"{images[kind] / 1e6:.2f}M {kind}" for kind in ("train", "grad", "forward")
                     if images[kind])


def main(argv: list[str]) -> None:
    from demo_checkpoint import ensure_demo_checkpoint  # run as a script: this folder is on sys.path

    from auditkit.api import certify
    from auditkit.signing.options import SigningOptions

    policy = Path(argv[0]) if argv else ROOT / "policies" / "digits.yaml"
    ensure_demo_checkpoint(policy)
    out = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="auditkit-profile-"))
    counter = EvaluationCounter()
    start = time.perf_counter()
    last = start
    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, Counter[Key]] = defaultdict(Counter)

    def stamped(line: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phase = phase_of(line)
        spent[phase] += now - last
        calls[phase].update(counter.take())
        last = now
        print(f"{now - start:8.1f} s  {line}", flush=True)

    keys = out / "keys"
    subprocess.run([sys.executable, "-m", "auditkit", "keygen", str(keys), "--name", "profile signer"],
                   check=True, capture_output=True)
    stamped("keygen done")
    certify(policy, out=out, signing=SigningOptions(key=keys / "signer.p12"), log=stamped)
    subprocess.run([sys.executable, "-m", "auditkit", "verify", str(out), "--trust", str(keys / "ca.pem")],
                   check=True, capture_output=True)
    now = time.perf_counter()
    spent["verification (auditkit verify)"] += now - last
    total = now - start
    counter.close()
    print(f"\ntiming {len({key for c in calls.values() for key in c})} kinds of call bare ...", flush=True)
    bare = bare_seconds(calls, counter.models)
    floor = {phase: sum(n * bare[key] for key, n in counted.items()) for phase, counted in calls.items()}
    print("\n| phase | wall s | share | model evaluations (images) | floor s | wall / floor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        bound = floor.get(name, 0.0)
        ratio = (f"{seconds / bound:.2f}x" if bound >= 0.1 else  # below 0.1 s a ratio says nothing
                 "no model evaluations" if bound == 0 else "floor under 0.1 s")
        print(f"| {name} | {seconds:.1f} | {seconds / total:.1%} | {evaluations(calls.get(name, Counter()))} "
              f"| {bound:.1f} | {ratio} |")
    total_floor = sum(floor.values())
    print(f"| **total** | **{total:.1f}** | | | **{total_floor:.1f}** | **{total / total_floor:.2f}x** |")
    every: Counter[Key] = sum(calls.values(), Counter())
    print("\n| kind | image | batch | calls | images | bare ms per call | images/s | floor s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, n in sorted(every.items(), key=lambda item: -item[1] * bare[item[0]]):
        kind, _, shape = key
        if n * bare[key] < 0.005 * total_floor:  # the shapes that make up less than 0.5 % of it
            continue
        print(f"| {kind} | {'x'.join(map(str, shape[1:]))} | {shape[0]} | {n:,} | {n * shape[0]:,} "
              f"| {bare[key] * 1e3:.2f} | {shape[0] / bare[key]:,.0f} | {n * bare[key]:.1f} |")

if __name__ == "__main__":
    main(sys.argv[1:])
