"""The ray engine on real Ray: a cluster on loopback, byte-identical output, a killed worker, bad input.

The cluster is started the way a user starts one (``ray start --head`` on
127.0.0.1, 2 CPUs), jobs run through ``python -m pipeline`` in a subprocess
(their own Ray driver), and the output is compared with the local engine's,
byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.raycluster import LocalCluster, free_port
from tests.helpers.tinymodels import FLORES

pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[test,ray]'")

ROOT = Path(__file__).resolve().parents[1]
ACTOR = "_GroupTranslator"  # Ray titles an actor's process after its class
OUTPUTS = ("flores.en-pt-BR.greedy.txt", "flores.en-pt-BR.greedy.jsonl", "scores.json")


def write_job(folder: Path, lines: int, chunk_size: int, engine: str = "local") -> Path:
    """FLORES-200 devtest en->pt-BR, its first ``lines`` lines, with the embedded model."""
    folder.mkdir(parents=True, exist_ok=True)
    source = (FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:lines]
    reference = (FLORES / "por_Latn.devtest").read_text(encoding="utf-8").splitlines()[:lines]
    (folder / "flores.en.txt").write_text("\n".join(source) + "\n", encoding="utf-8")
    (folder / "flores.pt-BR.txt").write_text("\n".join(reference) + "\n", encoding="utf-8")
    config = folder / "job.toml"
    config.write_text(
        f'engine = "{engine}"\n\n'
        '[[corpora]]\nname = "flores"\nsource = "flores.en.txt"\nsrc_lang = "en"\n'
        'references = { "pt-BR" = "flores.pt-BR.txt" }\n\n'
        f'[[systems]]\nname = "greedy"\nmodel = "bergamot-en-pt"\nchunk_size = {chunk_size}\n\n'
        '[ray]\ncpus_per_actor = 1\n',
        encoding="utf-8",
    )
    return config


SPEED_FIELDS = ("segments_translated", "segments_from_cache", "segments_resumed", "translation_seconds",
                "segments_per_s", "tokens_per_s", "peak_rss_mb")


def figures(folder: Path) -> dict:
    """The job's one result's speed figures, from its scores.json."""
    (result,) = json.loads((folder / "runs" / "job" / "scores.json").read_text(encoding="utf-8"))["results"]
    return {key: result[key] for key in SPEED_FIELDS}


def counts(folder: Path) -> tuple[int, int, int]:
    """Translated, from the cache, resumed."""
    speed = figures(folder)
    return speed["segments_translated"], speed["segments_from_cache"], speed["segments_resumed"]


def mtpipe(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)


def outputs(folder: Path) -> dict[str, bytes]:
    files = {name: (folder / "runs" / "job" / name).read_bytes() for name in OUTPUTS}
    scores = json.loads(files.pop("scores.json"))
    del scores["config"]  # the job file's path
    for result in scores["results"]:  # the speed figures differ between runs (see figures()); the rest may not
        for key in (*SPEED_FIELDS, "output", "jsonl"):
            result.pop(key, None)
    files["scores.json"] = json.dumps(scores, sort_keys=True).encode()
    return files


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 320-line job, run by the local engine: what every Ray run must reproduce."""
    folder = tmp_path_factory.mktemp("local")
    result = mtpipe("-q", "run", "--no-cache", str(write_job(folder, 320, 20)))
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def cluster() -> LocalCluster:
    with LocalCluster(cpus=2) as running:
        yield running


@pytest.mark.slow
def test_a_job_on_a_loopback_cluster_matches_the_local_engine_byte_for_byte(
    tmp_path: Path, local_run: Path, cluster: LocalCluster
) -> None:
    # With the test's own cache, empty: every segment goes to the cluster, as with --no-cache.
    config = write_job(tmp_path / "first", 320, 20, engine="ray")
    result = mtpipe("-q", "run", "--address", cluster.address, str(config))
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "first") == outputs(local_run)
    # 16 groups of 20 went to the cluster's two actors: each loaded the model once.
    assert result.stdout.count("greedy") == 1
    assert counts(tmp_path / "first") == counts(local_run) == (320, 0, 0)
    assert figures(tmp_path / "first")["segments_per_s"] > 0
    # The same job in another folder: all from the cache, nothing sent, no speed.
    config = write_job(tmp_path / "again", 320, 20, engine="ray")
    result = mtpipe("run", "--address", cluster.address, str(config))
    assert result.returncode == 0, result.stderr
    assert "group(s) of segments" not in result.stderr
    assert outputs(tmp_path / "again") == outputs(local_run)
    assert counts(tmp_path / "again") == (0, 320, 0)
    assert figures(tmp_path / "again")["segments_per_s"] is None
    assert "—, all from cache" in result.stdout


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_nothing_is_lost(
    tmp_path: Path, local_run: Path, cluster: LocalCluster
) -> None:
    config = write_job(tmp_path, 320, 20, engine="ray")
    journal = tmp_path / "runs" / "job" / "flores.en-pt-BR.greedy.partial"
    job = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "-q", "run", "--no-cache", "--address", cluster.address, str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        # Wait until the actors translate (the first groups are journaled), then kill one.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and job.poll() is None:
            if journal.exists() and journal.read_text(encoding="utf-8").count("\n") >= 2:
                break
            time.sleep(0.1)
        victims = cluster.actor_pids(ACTOR)
        assert job.poll() is None, "the job ended before a worker could be killed"
        assert victims, "no actor process found"
        done_at_kill = journal.read_text(encoding="utf-8").count("\n") - 1
        os.kill(victims[0], signal.SIGKILL)
        _, stderr = job.communicate(timeout=600)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, stderr
    assert done_at_kill < 320
    assert victims[0] not in cluster.actor_pids(ACTOR)
    assert outputs(tmp_path) == outputs(local_run)
    assert counts(tmp_path) == (320, 0, 0)  # a group run again is counted once


def test_no_cluster_at_the_address_fails_fast_with_one_line(tmp_path: Path) -> None:
    config = write_job(tmp_path, 10, 10)
    start = time.monotonic()
    result = mtpipe("run", "--engine", "ray", "--address", f"127.0.0.1:{free_port()}", str(config), timeout=60)
    assert time.monotonic() - start < 30  # process start and imports included; the check itself takes ms
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Ray cluster at 127.0.0.1:")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_address_without_the_ray_engine_is_refused(tmp_path: Path) -> None:
    config = write_job(tmp_path, 10, 10)
    result = mtpipe("run", "--address", "127.0.0.1:6379", str(config), timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "error: --address is for the ray engine"


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import EngineConfig
    from pipeline.engines import open_engine
    from pipeline.errors import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    with pytest.raises(ConfigError, match="the ray engine needs Ray") as caught, open_engine(EngineConfig(name="ray")):
        pass
    assert caught.value.hint == "install the extra: pip install 'mtpipe[ray]'"


@pytest.mark.slow
def test_the_cluster_must_have_what_the_actors_import(cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import EngineConfig
    from pipeline.engines import raydata
    from pipeline.errors import ConfigError

    monkeypatch.setattr(raydata, "REQUIRED_MODULES", (*raydata.REQUIRED_MODULES, "mtpipe_no_such_module"))
    with pytest.raises(ConfigError, match="the Ray cluster's workers cannot import mtpipe_no_such_module$") as caught, \
            raydata.RayEngine(EngineConfig(name="ray", address=cluster.address)):
        pass
    assert "on every node" in caught.value.hint


@pytest.mark.slow
def test_an_actor_the_cluster_cannot_place_is_refused_at_once(cluster: LocalCluster) -> None:
    from pipeline.config import EngineConfig
    from pipeline.engines import raydata
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"an actor asks for 1 GPU\(s\), but the Ray cluster has 0"), \
            raydata.RayEngine(EngineConfig(name="ray", address=cluster.address, gpus_per_actor=1)):
        pass
    with pytest.raises(ConfigError, match=r"an actor asks for 3 CPU\(s\), but the Ray cluster has 2"), \
            raydata.RayEngine(EngineConfig(name="ray", address=cluster.address, cpus_per_actor=3)):
        pass


@pytest.mark.slow
def test_a_resumed_job_sends_only_what_is_left(tmp_path: Path, local_run: Path, cluster: LocalCluster) -> None:
    # Kill the driver mid-job; the rerun sends the cluster only the groups not journaled, and
    # ends with the uninterrupted output. (The cache is off: it alone would skip everything.)
    config = write_job(tmp_path, 320, 20, engine="ray")
    journal = tmp_path / "runs" / "job" / "flores.en-pt-BR.greedy.partial"
    command = [sys.executable, "-m", "pipeline", "run", "--no-cache", "--address", cluster.address, str(config)]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                           start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and job.poll() is None:
            if journal.exists() and journal.read_text(encoding="utf-8").count("\n") >= 3:
                break
            time.sleep(0.05)
        assert job.poll() is None, "the job ended before it could be killed"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    # Segments in whole groups: those followed by their group's end line.
    done = pending = 0
    for line in journal.read_text(encoding="utf-8").splitlines()[1:]:
        if line.startswith('{"end"'):
            done, pending = done + pending, 0
        elif line.endswith("}"):
            pending += 1
    assert done % 20 == 0
    result = mtpipe("run", "--no-cache", "--address", cluster.address, str(config))
    assert result.returncode == 0, result.stderr
    sent = re.search(r"ray: (\d+) group\(s\) of segments", result.stderr)
    assert sent, result.stderr
    assert int(sent.group(1)) == (320 - done) // 20 < 16
    assert outputs(tmp_path) == outputs(local_run)
    assert counts(tmp_path) == (320 - done, 0, done)
    assert figures(tmp_path)["segments_per_s"] > 0


@pytest.mark.slow
def test_translate_on_the_cluster_prints_only_the_translations(tmp_path: Path, cluster: LocalCluster) -> None:
    source = tmp_path / "in.en.txt"
    lines = (FLORES / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:40]
    source.write_text("\n".join(lines[:20] + [""] + lines[20:]) + "\n", encoding="utf-8")
    local = mtpipe("-q", "translate", "--src", "en", "--tgt", "pt-BR", "--no-cache", str(source))
    remote = mtpipe("-q", "translate", "--src", "en", "--tgt", "pt-BR", "--no-cache", "--engine", "ray",
                    "--address", cluster.address, str(source))
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert len(remote.stdout.splitlines()) == 41 and remote.stdout.splitlines()[20] == ""


@pytest.mark.parametrize(
    ("ray_table", "resources", "system", "expected"),
    [
        pytest.param({}, {"CPU": 8.0}, {}, {"size": 8, "threads": 1, "workers": 1}, id="an-actor-per-cpu"),
        pytest.param({"cpus_per_actor": 2}, {"CPU": 8.0}, {}, {"size": 4, "threads": 1, "workers": 2},
                     id="two-cpus-two-workers"),
        pytest.param({"cpus_per_actor": 4}, {"CPU": 8.0}, {"threads": 2}, {"size": 2, "threads": 2, "workers": 2},
                     id="threads-from-the-system"),
        pytest.param({"gpus_per_actor": 0.5}, {"CPU": 8.0, "GPU": 2.0}, {}, {"size": 4, "threads": 1, "workers": 1},
                     id="half-a-gpu-each"),
        pytest.param({"actors": 3}, {"CPU": 8.0}, {}, {"size": 3, "threads": 1, "workers": 1}, id="fixed-size"),
    ],
)
def test_the_pool_is_sized_from_the_config_and_the_cluster(
    ray_table: dict, resources: dict, system: dict, expected: dict
) -> None:
    from pipeline.config import EngineConfig, SystemConfig
    from pipeline.engines.raydata import RayEngine

    engine = RayEngine(EngineConfig(name="ray", **ray_table))
    engine._resources = resources
    pool = engine.pool(SystemConfig(name="s", model="m", **system))
    assert {key: pool[key] for key in expected} == expected
    assert pool["num_cpus"] == ray_table.get("cpus_per_actor", 1.0)


def test_an_actors_error_is_reported_by_its_own_line() -> None:
    # Ray reports an actor that failed to start as ActorDiedError, the actor's traceback as text.
    from pipeline.engines.raydata import _root_message

    class ActorDied(Exception):
        pass

    died = ActorDied("The actor died")
    died.error_msg = ("The actor died because of an error raised in its creation task\n"
                      "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                      "pipeline.errors.ModelError: model 'foo' not found on the hub or on disk\n")
    assert _root_message(died) == "model 'foo' not found on the hub or on disk"
    died.error_msg = "...\nModuleNotFoundError: No module named 'torch'\n"
    assert _root_message(died) == "ModuleNotFoundError: No module named 'torch'"
