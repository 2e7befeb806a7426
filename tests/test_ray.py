"""--xares-ray: the suite on a Ray cluster of three nodes on 127.0.0.1 (a head that schedules and two
workers of one CPU each), against the same run without Ray.

Ray binds the machine's interface address even when told ``--node-ip-address=127.0.0.1``, so the
cluster and the runs that use it live in a network namespace that holds only the loopback device
(``unshare -n``, as root; else ``unshare -rn`` where user namespaces are allowed): nothing of theirs
can leave the machine. A helper process inside it (``HELPER``) starts the nodes once for the module,
runs each command it is sent, kills a node when asked, and stops the nodes, by their ids, when its
input ends. Where no namespace can be made, or Ray is not installed, the tests skip saying so.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_xares.encoder import EncoderError, EncoderSpec
from pytest_xares.engine.cluster import (
    SHIP_BYTES,
    ClusterError,
    Placement,
    RemoteError,
    folder_to_ship,
    outcome_of,
    placement,
    unpack,
)
from pytest_xares.engine.cluster import (
    Cluster as RayCluster,
)
from pytest_xares.engine.policy import on_worker
from pytest_xares.engine.progress import Progress
from pytest_xares.errors import NotRun, UsageError, XaresError
from pytest_xares.settings import Settings
from pytest_xares.testing import BANDS_ENCODER, encoder_file, tiny_task, write_tone_shard

PORT = 6380
RAY = str(Path(sys.executable).with_name("ray"))

HELPER = r"""
import json, os, signal, socket, subprocess, sys, time

ray_bin, port, temp = sys.argv[1], sys.argv[2], sys.argv[3]
# Optionally a folder each worker node sees as its own: [the path, the folder of node 1, of node 2].
private = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
common = ["--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats"]
nodes = []

def start(*args, own=None):
    # Each node in a process group of its own, which ends with it; with ``own``, in a mount
    # namespace of its own too, where that folder is bound over the private path.
    command = [ray_bin, "start", *args, *common]
    if own is not None:
        bind = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
        command = ["unshare", "-m", "--propagation", "private", "sh", "-c", bind, "sh", own, private[0], *command]
    nodes.append(subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))

def alive():
    import ray
    return sum(1 for node in ray.nodes() if node["Alive"])

def wait(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the Ray nodes did not come up")
        time.sleep(0.1)

def gcs_up():
    try:
        socket.create_connection(("127.0.0.1", int(port)), 0.2).close()
        return True
    except OSError:
        return False

try:
    start("--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false", f"--temp-dir={temp}")
    wait(gcs_up)
    import ray
    ray.init(address=f"127.0.0.1:{port}", log_to_driver=False, logging_level="WARNING")
    for count in (2, 3):  # one at a time: two raylets starting together can take the same port
        start(f"--address=127.0.0.1:{port}", "--num-cpus=1", own=private[count - 1] if private else None)
        wait(lambda: alive() >= count)
    ray.shutdown()  # this helper is no driver of the runs
    print("helper:", json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        run = subprocess.Popen(command["args"], cwd=command["cwd"], env=command["env"], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        killed = []
        marker = command.get("kill_when")
        if marker:  # the encoder wrote its raylet's pid and its own: that node dies now
            while not os.path.exists(marker) and run.poll() is None:
                time.sleep(0.02)
            if run.poll() is None:
                time.sleep(0.3)  # well inside the encoding
                killed = [int(pid) for pid in open(marker).read().split()]
                for pid in killed:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:  # the worker went with its raylet
                        pass
        output, _ = run.communicate(timeout=command["timeout"])
        answer = {"rc": run.returncode, "output": output, "killed": killed}
        print("helper:", json.dumps(answer), flush=True)  # Ray writes lines of its own here too
finally:
    for node in reversed(nodes):  # the processes of each node this helper started, and nothing else
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait()
"""


def namespace_prefix() -> list[str] | None:
    """``unshare -n`` where this process may make a network namespace, else ``unshare -rn`` (a user
    namespace too), else ``None``."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        probe = subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


class Cluster:
    """The helper inside the namespace: ``run`` sends it a command and returns what came of it."""

    def __init__(self, folder: Path, private: tuple[Path, list[Path]] | None = None) -> None:
        """``private``: a path, and the folders (one per worker node) each node sees there."""
        prefix = namespace_prefix()
        if prefix is None:
            pytest.skip("no network namespace can be made here (needs unshare and ip, as root or with user namespaces)")
        script = folder / "helper.py"
        script.write_text(HELPER)
        # Unix socket paths must be short.
        self.temp = Path(os.path.realpath("/tmp")) / f"xares-ray-{os.getpid()}{'-p' if private else ''}"
        # A home of its own: Ray keeps state there (~/.ray/auth_token, which a head started elsewhere
        # on this machine may have written, and then every head here demands that token).
        self.home = folder / "home"
        self.home.mkdir()
        self.process = subprocess.Popen(
            [*prefix, sys.executable, str(script), RAY, str(PORT), str(self.temp)]
            + ([json.dumps([str(private[0]), *map(str, private[1])])] if private else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(self.home)},
        )
        self.address = f"127.0.0.1:{PORT}"

    def answer(self) -> dict[str, Any]:
        """The helper's next answer, past the lines that Ray's driver in it writes."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("helper: "):
                return json.loads(line.removeprefix("helper: "))
        raise AssertionError("the helper of the Ray cluster ended (see its output above)")

    def ready(self) -> None:
        assert self.answer()["ready"]

    def run(self, args: list[str], cwd: Path, timeout: float = 240, kill_when: Path | None = None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        env = {**run_env(), "HOME": str(self.home)}
        command = {"args": args, "cwd": str(cwd), "env": env, "timeout": timeout, "kill_when": str(kill_when or "")}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.answer()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)
        shutil.rmtree(self.temp, ignore_errors=True)


def run_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XARES_", "PYTEST_"))}
    return {**env, "XARES_OFFLINE": "1"}


def pytest_args(workdir: Path, cache: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfs", f"--xares-encoder={workdir / 'encoder.py'}",
        "--xares-suite=demo", f"--xares-tasks-dir={workdir / 'tasks'}", f"--xares-data-dir={workdir / 'data'}",
        f"--xares-cache-dir={workdir / cache}", *extra,
    ]  # fmt: skip


#: The bands encoder, writing beside ``MARKS`` which process encoded (its raylet's pid and the
#: encoder's file) and returning NaN for the 0.73 s clips of the task ``tinyboom``. While ``SPREAD``
#: exists, a process's first encoding waits (a minute at most) until a process of another node
#: has encoded too: each node has one CPU, so a waiting task keeps the next one off its node,
#: and on a loaded machine a node whose worker starts late still gets work. Once ``ARMED``
#: exists it takes 0.2 s per batch and announces its first batch in ``KILL`` (its raylet's pid and
#: its own), so that the node can be killed while it encodes.
ENCODER = BANDS_ENCODER.replace(
    "    def forward(self, audio):\n",
    """    def forward(self, audio):
        import os, sys, time
        if any("embeddings" in sys._getframe(i).f_code.co_filename for i in range(1, 6)):  # not a check
            os.makedirs(MARKS, exist_ok=True)
            mark = os.path.join(MARKS, str(os.getpid()))
            first = not os.path.exists(mark)
            with open(mark, "w") as f:
                f.write(f"{os.getppid()} {__file__}")
            waited = 0.0
            while first and os.path.exists(SPREAD) and waited < 60:
                parents = {open(os.path.join(MARKS, m)).read().split(" ")[0] for m in os.listdir(MARKS)}
                if len(parents) > 1:
                    break
                time.sleep(0.1)
                waited += 0.1
            if os.path.exists(ARMED):
                if not os.path.exists(KILL):
                    with open(KILL + ".tmp", "w") as f:
                        f.write(f"{os.getppid()} {os.getpid()}")
                    os.replace(KILL + ".tmp", KILL)
                time.sleep(0.2)
        if audio.shape[-1] == 11680:
            return torch.full((audio.shape[0], 73, 16), float("nan"))
""",
)
#: The items of the user's tasks (tiny*) and of a frame-level demo task, whose frames are written
#: to the cache as they come.
SELECTION = "tiny or demo_events"


def scores(path: Path) -> dict[tuple[str, str], float]:
    return {(r["task"], r["method"]): r["score"] for r in json.loads(path.read_text())["results"]}


def summary(output: str) -> list[str]:
    """The short summary's lines (``-rfs``) and the final counts."""
    lines = [line for line in output.splitlines() if line.startswith(("FAILED", "SKIPPED", "ERROR"))]
    counts = [line for line in output.splitlines() if " in " in line and ("passed" in line or "failed" in line)]
    return [*sorted(lines), counts[-1].split(" in ")[0] if counts else "no counts"]


def marks(workdir: Path) -> dict[int, tuple[int, str]]:
    """Each process that encoded: its pid → (its parent's pid, the encoder file it ran)."""
    found = {}
    for mark in (workdir / "marks").iterdir():
        parent, file = mark.read_text().split(" ", 1)
        found[int(mark.name)] = (int(parent), file)
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tasks (tiny and tiny2 of tones; tinyabsent without data; tinyboom, whose clips the encoder
    turns into NaN) and the encoder file, alone in its folder."""
    root = tmp_path_factory.mktemp("ray")
    tasks, data = root / "tasks", root / "data"
    tiny_task(tasks, data)
    definition = (tasks / "tiny.py").read_text()
    for name in ("tiny2", "tinyabsent", "tinyboom"):
        (tasks / f"{name}.py").write_text(
            definition.replace('name="tiny"', f'name="{name}"').replace("tiny_", f"{name}_")
        )
    (data / "tiny2").mkdir()
    for split in ("train", "valid", "test"):
        shutil.copy(data / "tiny" / f"tiny_{split}_000000.tar", data / "tiny2" / f"tiny2_{split}_000000.tar")
        write_tone_shard(data / "tinyboom" / f"tinyboom_{split}_000000.tar", ["a", "b", "c"] * 2, seconds=0.73)
    names = {name: str(root / name) for name in ("marks", "armed", "kill", "spread")}
    globals_ = "".join(f"{name.upper()} = {path!r}\n" for name, path in names.items())
    encoder_file(root, globals_ + textwrap.dedent(ENCODER), "encoder.py")
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, workdir: Path) -> Iterator[Cluster]:
    """The cluster, and (while its nodes start) the same run without Ray, for comparison."""
    pytest.importorskip("ray")
    cluster = Cluster(tmp_path_factory.mktemp("ray-helper"))
    try:
        local = subprocess.run(
            [*pytest_args(workdir, "cache-local"), "-k", SELECTION, f"--xares-json={workdir / 'local.json'}"],
            cwd=workdir, env=run_env(), capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        (workdir / "local.out").write_text(local.stdout + local.stderr)
        shutil.rmtree(workdir / "marks", ignore_errors=True)
        cluster.ready()
        yield cluster
    finally:
        cluster.close()


def test_the_suite_on_a_ray_cluster_scores_and_reports_as_a_local_run(cluster: Cluster, workdir: Path) -> None:
    local = (workdir / "local.out").read_text()
    assert "2 failed, 5 passed, 2 skipped" in local, local
    (workdir / "spread").touch()
    try:
        result = cluster.run(
            [*pytest_args(workdir, "cache-ray"), "-k", SELECTION, f"--xares-json={workdir / 'ray.json'}",
             f"--xares-ray={cluster.address}"],
            cwd=workdir,
        )  # fmt: skip
    finally:
        (workdir / "spread").unlink()
    output = result["output"]
    assert result["rc"] == 1, output  # tinyboom's items fail, as they do without Ray
    # The same items pass, skip and fail, with the same messages: no data for tinyabsent (a skip),
    # the encoder's NaN for tinyboom (a failure naming the clips).
    assert summary(output) == summary(local), output
    assert any(
        line.startswith("SKIPPED") and "no data folder" in line and "tinyabsent" in line for line in summary(output)
    )
    assert any("tinyboom::mlp - EncoderError" in line and "NaN" in line for line in summary(output)), output
    assert scores(workdir / "ray.json") == pytest.approx(scores(workdir / "local.json"), abs=1e-6)
    assert "X-ARES scores" in output and "| tiny " in output and "| demo_events " in output
    # Encoded by workers on both nodes, not by the session's process, each from the copy of the
    # encoder's folder that went with the job.
    encoded = marks(workdir)
    assert len({parent for parent, _ in encoded.values()}) == 2, encoded
    assert all(file != str(workdir / "encoder.py") and "working_dir" in file for _, file in encoded.values())
    results = json.loads((workdir / "ray.json").read_text())["results"]
    assert all(not r["cached"] and r["details"]["encoded"] for r in results if r["method"] == "mlp")


def test_a_node_killed_while_it_encodes_its_task_runs_again_elsewhere_and_nothing_half_written_is_used(
    cluster: Cluster, workdir: Path
) -> None:
    shutil.rmtree(workdir / "marks", ignore_errors=True)
    (workdir / "armed").touch()
    args = [*pytest_args(workdir, "cache-kill"), "-k", "demo_events", f"--xares-json={workdir / 'kill.json'}"]
    result = cluster.run([*args, f"--xares-ray={cluster.address}"], cwd=workdir, kill_when=workdir / "kill")
    assert result["rc"] == 0, result["output"]
    assert "1 passed" in result["output"]
    # The node was killed (its raylet, and the worker that encoded), and another one encoded the task
    # again, to the score of a run without Ray and without a kill.
    raylet, worker = result["killed"]
    encoded = marks(workdir)
    assert encoded[worker][0] == raylet and {parent for parent, _ in encoded.values()} - {raylet}, (raylet, encoded)
    killed = scores(workdir / "kill.json")
    assert killed == pytest.approx({k: v for k, v in scores(workdir / "local.json").items() if k[0] == "demo_events"})

    # The dead worker was writing the frames: its temporary file is left, hidden, named as no entry is.
    leftovers = [p.name for p in (workdir / "cache-kill" / "embeddings").rglob("*.tmp")]
    assert leftovers and all(name.startswith(".") and ".f16." in name for name in leftovers), leftovers
    # and never taken for one: the same run here reads the entries the retried Ray task wrote, and
    # gets the same score without encoding anything.
    (workdir / "armed").unlink()
    again = subprocess.run(
        [*args[:-1], f"--xares-json={workdir / 'again.json'}"],
        cwd=workdir, env=run_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    (cached,) = json.loads((workdir / "again.json").read_text())["results"]
    assert cached["cached"] and scores(workdir / "again.json") == killed


def test_each_node_may_keep_its_own_cache_at_the_same_path(
    cluster: Cluster, workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Nodes whose cache folder is a disk of their own (the same path on each, nothing shared
    but the data): each task's entries are on the node that ran it, the session's own folder stays
    empty, and the scores are a local run's."""
    shared = workdir / "cache-per-node"  # the path of --xares-cache-dir, as every process sees it
    shared.mkdir()
    own = [tmp_path_factory.mktemp(f"node-{k}-disk") for k in (1, 2)]
    private = Cluster(tmp_path_factory.mktemp("ray-private"), (shared, own))
    shutil.rmtree(workdir / "marks", ignore_errors=True)
    (workdir / "spread").touch()
    try:
        private.ready()
        args = [*pytest_args(workdir, "cache-per-node"), "-k", SELECTION, f"--xares-json={workdir / 'per-node.json'}"]
        result = private.run([*args, f"--xares-ray={private.address}"], cwd=workdir)
    finally:
        (workdir / "spread").unlink()
        private.close()
    assert summary(result["output"]) == summary((workdir / "local.out").read_text()), result["output"]
    assert scores(workdir / "per-node.json") == pytest.approx(scores(workdir / "local.json"), abs=1e-6)
    assert not any(shared.iterdir())  # what the nodes wrote is on their disks, not the session's
    tasks = [{p.name for p in (disk / "embeddings").iterdir()} if (disk / "embeddings").exists() else set()
             for disk in own]  # fmt: skip
    assert tasks[0] and tasks[1] and not tasks[0] & tasks[1], tasks  # each task's embeddings on one node


# Without a cluster -------------------------------------------------------------------------------


def test_a_gpu_encoder_asks_each_ray_task_for_a_gpu_and_the_cpus_that_come_with_one() -> None:
    gpus, cpus = [{"CPU": 8.0, "GPU": 4.0}, {"CPU": 12.0, "GPU": 2.0}, {"CPU": 64.0}], [{"CPU": 4.0}, {"CPU": 0.0}]
    assert placement("auto", gpus) == Placement(2, 1, "cuda")  # the fewest CPUs per GPU of any GPU node
    assert placement("cuda:1", gpus) == Placement(2, 1, "cuda")  # the GPU Ray assigns, which is cuda there
    assert placement("auto", cpus) == Placement(1, 0, "cpu")
    assert placement("cpu", gpus) == Placement(1, 0, "cpu")
    assert placement("auto", [{"CPU": 2.0, "GPU": 4.0}]) == Placement(1, 1, "cuda")
    with pytest.raises(UsageError, match="no node of the Ray cluster has one"):
        placement("cuda", cpus)  # a GPU task on a cluster without one would wait forever


def test_the_encoders_folder_goes_with_the_job_only_when_it_is_small(tmp_path: Path) -> None:
    spec = EncoderSpec.parse(str(encoder_file(tmp_path, BANDS_ENCODER)), tmp_path)
    (tmp_path / ".git").mkdir()
    with open(tmp_path / ".git" / "pack", "wb") as f:
        f.truncate(2 * SHIP_BYTES)  # never shipped, nor counted
    assert folder_to_ship(spec) == tmp_path
    assert folder_to_ship(EncoderSpec("pytest_xares.example_encoders.mel")) is None  # installed on the nodes
    with open(tmp_path / "weights.bin", "wb") as f:
        f.truncate(SHIP_BYTES + 1)
    assert folder_to_ship(spec) is None  # then it must be on a folder every node sees


class Odd(XaresError):
    def __init__(self, what: str, where: int) -> None:
        super().__init__(f"{what} at {where}")


def test_what_a_worker_raises_comes_back_as_it_would_be_raised_here() -> None:
    def raising(error: BaseException) -> Any:
        def call() -> Any:
            raise error

        return call

    with pytest.raises(NotRun, match="^no data folder x$"):
        unpack(outcome_of(raising(NotRun("no data folder x"))))
    with pytest.raises(EncoderError, match="^the encoder returned NaN$"):
        unpack(outcome_of(raising(EncoderError("the encoder returned NaN"))))
    with pytest.raises(XaresError, match="^odd at 3$"):  # a class that cannot come back whole: its message does
        unpack(outcome_of(raising(Odd("odd", 3))))
    with pytest.raises(RemoteError, match=r"(?s)ZeroDivisionError: division by zero \(on the Ray node .*Traceback"):
        unpack(outcome_of(lambda: 1 / 0))
    assert unpack(outcome_of(lambda: 0.75)) == 0.75


@pytest.mark.parametrize("value", ["local", "auto", "10.0.0.7:6379", "head-0.cluster.local:6379", "ray://head:10001"])
def test_xares_ray_takes_local_auto_or_a_heads_address(value: str) -> None:
    assert Settings.with_defaults(ray=f" {value}").ray == value


def test_a_bad_xares_ray_or_a_missing_ray_fail_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="--xares-ray: cannot read 'head'"):
        Settings.with_defaults(ray="head")  # no port
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    with pytest.raises(UsageError, match=r"pip install 'pytest-xares\[ray\]'"):
        Settings.with_defaults(ray="auto", encoder=EncoderSpec("pytest_xares.example_encoders.mel"))
    assert Settings.with_defaults(ray="auto").ray == "auto"  # an inert plugin (no encoder) does not mind


def test_xares_ray_with_xdist_says_to_leave_out_n(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--xares-encoder=pytest_xares.example_encoders.mel", "--xares-suite=demo", "--xares-ray=auto", "-n", "2",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*--xares-ray: leave out -n*"])


def test_an_address_where_no_ray_head_answers_fails_at_once_saying_so(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import socket

    with socket.socket() as free:  # a port of 127.0.0.1 that nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    settings = Settings.with_defaults(ray=f"127.0.0.1:{port}", encoder=EncoderSpec("pytest_xares.example_encoders.mel"))
    started = time.monotonic()
    with pytest.raises(ClusterError, match=rf"--xares-ray=127.0.0.1:{port}: nothing answers there .*ray start --head"):
        RayCluster(settings, Progress(io.StringIO(), live=False), on_worker).connect()
    assert time.monotonic() - started < 15  # Ray itself would retry for minutes
