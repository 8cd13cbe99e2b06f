"""A real two-node Ray cluster on this machine, started with the README's commands, audits a small policy.

The README's section "On several machines (Ray)" is the source: its ``export`` line, its two ``ray
start`` lines and its ``ray`` policy section are read from it and run, with what two nodes on one
machine need besides: a free port and one CPU each, ``HEAD_IP`` the head's address, a ``--temp-dir``
each (Ray keeps a node's sockets and logs there), free ports for each node's dashboard agent, a
small object store, ``--block`` (so the test owns each node's processes as one process group) and a
resource naming each node, so the nodes can be told apart. The token is a fresh one of this test,
passed as ``RAY_AUTH_TOKEN`` to both nodes and the driver (``~/.ray`` is not touched). The nodes are
stopped by ending the two process groups the test started (``ray stop`` would end every Ray
instance of this user on the machine, other tests' included).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
import yaml

from auditkit.engine import AuditOptions, run_audit
from auditkit.policy import load_policy
from auditkit.results import AuditDocument

from .conftest import write_tiny_policy
from .test_ray import NOTHING_REUSED

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## On several machines (Ray)"


@dataclass(frozen=True)
class Readme:
    """What the README's multi-node section says to run."""

    env: dict[str, str]
    head: list[str]
    worker: list[str]
    ray: dict[str, object]


def readme() -> Readme:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    policy = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    lines = [shlex.split(line, comments=True) for line in shell.splitlines()]
    env = dict(word.split("=", 1) for line in lines if line[:1] == ["export"] for word in line[1:])
    starts = [line for line in lines if line[:2] == ["ray", "start"]]
    assert len(starts) == 2 and "--head" in starts[0] and "--address" in starts[1], shell
    return Readme(env, starts[0], starts[1], policy["ray"])


def _with(command: list[str], **values: str) -> list[str]:
    """``command`` with the value of each ``--option`` in ``values`` replaced (it must be there)."""
    out = list(command)
    for option, value in values.items():
        flag = "--" + option.replace("_", "-")
        out[out.index(flag) + 1] = value
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    process: subprocess.Popen
    output: Path

    def wait_started(self, timeout: float = 180) -> str:
        """Wait for ``ray start`` to say the node runs; its output."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.output.read_text(errors="replace")
            if "Ray runtime started" in text:
                return text
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(f"ray start did not start a node:\n{self.output.read_text(errors='replace')}")

    def stop(self) -> None:
        """End the node's process group (``ray start --block`` and every process it started):
        SIGTERM, then SIGKILL to what is left after 5 s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            end = time.monotonic() + 5
            while time.monotonic() < end:
                self.process.poll()  # reaps the group's leader once it exits
                if not _group_alive(self.process.pid):
                    return
                time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _start(command: list[str], env: dict[str, str], temp: Path, name: str) -> Node:
    local = ["--temp-dir", str(temp / name), "--resources", json.dumps({f"auditkit_test_{name}": 1}),
             "--dashboard-agent-listen-port", str(_free_port()), "--object-store-memory", str(80 * 2**20),
             "--disable-usage-stats", "--block"]
    output = temp / f"{name}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), command[0]),
                                    *command[1:], *local], env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Node(process, output)


@dataclass(frozen=True)
class Cluster:
    address: str
    """The head's ``HOST:PORT``."""
    env: dict[str, str]
    """The environment of the nodes, for a driver: the README's, this test's token, this checkout."""


@pytest.fixture
def two_nodes() -> Iterator[Cluster]:
    pytest.importorskip("ray")
    spec = readme()
    temp = Path(tempfile.mkdtemp(prefix="ak-ray-"))  # short: a node's socket paths must fit 107 bytes
    env = {**os.environ, **spec.env, "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    env.pop("RAY_ADDRESS", None)
    port = str(_free_port())
    nodes: list[Node] = []
    try:
        head = [*_with(spec.head, port=port, num_cpus="1"), "--dashboard-port", str(_free_port())]
        nodes.append(_start(head, env, temp, "head"))
        ip = re.search(r"Local node IP: (\S+)", nodes[0].wait_started()).group(1)
        address = f"{ip}:{port}"
        nodes.append(_start(_with(spec.worker, address=address, num_cpus="1"), env, temp, "worker"))
        nodes[1].wait_started()
        yield Cluster(address, env)
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(temp, ignore_errors=True)
    assert not any(_group_alive(node.process.pid) for node in nodes)


DRIVER = """\
import json, sys, time
import ray, torch
from auditkit.engine import AuditOptions, run_audit
from auditkit.policy import load_policy

address, policy, out = sys.argv[1:]
ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
for _ in range(120):  # both nodes joined: node id -> the name its resource gives
    alive = [n for n in ray.nodes() if n["Alive"]]
    if len(alive) == 2:
        break
    time.sleep(0.5)
nodes = {n["NodeID"]: k.removeprefix("auditkit_test_") for n in alive for k in n["Resources"]
         if k.startswith("auditkit_test_")}
ray.shutdown()
torch.set_num_threads(1)
lines = []
run_audit(AuditOptions(load_policy(policy), out, device="cpu", progress=False), log=lines.append)
print(json.dumps({"nodes": nodes, "log": lines}))
"""
"""The audit's driver, run on the cluster's machine with the nodes' environment (Ray reads its
authentication settings when first imported, so a driver gets them from the start)."""


def numbers(results: Path) -> AuditDocument:
    """Everything in results.json but the times and the environment."""
    document = AuditDocument.from_json(results.read_bytes())
    return replace(document, created="", run_seconds=0.0, reused_from_earlier_run=NOTHING_REUSED,
                   environment={})


@pytest.mark.slow
def test_an_audit_on_two_ray_nodes_runs_tasks_on_both_and_matches_the_serial_run(
    two_nodes: Cluster, tmp_path: Path
) -> None:
    serial_policy = write_tiny_policy(tmp_path, epochs=2, explainers=("saliency", "gradcam", "random"),
                                      name="serial.yaml")
    policy = tmp_path / "on_ray.yaml"  # the same, with the README's ray section at this cluster
    ray_section = {**readme().ray, "address": two_nodes.address}
    policy.write_text(serial_policy.read_text() + yaml.safe_dump({"ray": ray_section}))
    args = [two_nodes.address, str(policy), str(tmp_path / "ray")]
    driver = subprocess.run([sys.executable, "-c", DRIVER, *args], env=two_nodes.env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert driver.returncode == 0, driver.stderr[-5000:]
    report = json.loads(driver.stdout.splitlines()[-1])
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the tasks' thread count (cpus_per_task: 1): the same float sums
    try:
        run_audit(AuditOptions(load_policy(serial_policy), tmp_path / "serial", device="cpu", progress=False))
    finally:
        torch.set_num_threads(before)
    print(f"cluster at {two_nodes.address}: " + ", ".join(f"{name} node {node[:12]}"
                                                          for node, name in report["nodes"].items()))
    print("\n".join(report["log"]))
    assert sorted(report["nodes"].values()) == ["head", "worker"]
    assert "ray: 2 node(s), 2 CPUs, 0 GPUs; each task reserves 1 CPU(s) and 0 GPU(s)" in report["log"]
    done = re.compile(r"(.+): done on node ([0-9a-f]{12})$")
    ran = {m.group(1): m.group(2) for m in map(done.match, report["log"]) if m}
    assert set(ran) == {"train fold 0", "train fold 1", "train fold 2", "explain saliency",
                        "explain gradcam", "explain random"}
    names = {node[:12]: name for node, name in report["nodes"].items()}
    assert {names[node] for node in ran.values()} == {"head", "worker"}, ran
    on_ray, serial = numbers(tmp_path / "ray" / "results.json"), numbers(tmp_path / "serial" / "results.json")
    assert on_ray.policy.resolved["ray"] == {**serial.policy.resolved["ray"], **ray_section}
    assert {k: v for k, v in on_ray.policy.resolved.items() if k != "ray"} == {
        k: v for k, v in serial.policy.resolved.items() if k != "ray"}
    assert replace(on_ray, policy=serial.policy) == serial  # every number, verdict and checkpoint digest
