"""The ``ray`` engine: translation on a Ray cluster, through Ray Data.

The groups of segments a task sends (each chunk's cache misses, see
:func:`pipeline.cache.translate_chunks`) become the rows of a Ray Dataset, one
group per row. ``map_batches`` runs them on an actor pool: each actor builds
the system's translator once and translates one group per call, exactly as the
local engine translates that group, so the outputs are byte-identical. Rows
come back in input order (``preserve_order``) and stream to the driver, which
journals and writes them as it does locally: resume and the cache work as with
the local engine, and segments already done are never sent to the cluster.

Without an address, a local Ray instance is started for the engine's lifetime
(``ray.init(address="local")``: never an existing cluster by accident) and
stopped after it. With one, the driver connects to that cluster and leaves it
running. Ray is an optional extra: ``pip install 'mtpipe[ray]'``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.backends import backend_for
from pipeline.config import EngineConfig, SystemConfig
from pipeline.engines.local import make_translator
from pipeline.errors import ConfigError, ModelError, PipelineError

__all__ = ["RayEngine", "RayTranslator", "REQUIRED_MODULES"]

log = logging.getLogger(__name__)

INSTALL_HINT = "install the extra: pip install 'mtpipe[ray]'"
# Ray's connection settings (read when Ray is imported; a user's own values win).
_CONNECT_SETTINGS = {"RAY_py_gcs_connect_timeout_s": "10", "RAY_gcs_rpc_server_connect_timeout_s": "5"}
_LOCAL_OBJECT_STORE = 1 << 30
_ACTOR_WAIT_SECONDS = 600  # for the actor pool to start (model downloads included)
# A group whose call kills its actor (out of memory...) is tried this many more times,
# then the task fails; dead actors themselves are restarted without limit.
_GROUP_RETRIES = 3
# What an actor imports to translate; checked on the cluster before any data is sent.
REQUIRED_MODULES = ("pipeline", "torch", "transformers", "sentencepiece", "sacrebleu")
_CONNECT_TIMEOUT = 5.0  # seconds to reach the given address before giving up


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the extra brings Ray Data's own dependencies)
    except ImportError as err:
        raise ConfigError(f"the ray engine needs Ray, which is not installed ({err})", hint=INSTALL_HINT) from err
    return ray


class RayEngine:
    """Translate on a Ray cluster: an actor pool per task, sized by the ``[ray]`` config."""

    name = "ray"

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig(name="ray")
        self._ray: Any = None
        self._resources: dict[str, float] = {}
        self._stdout: Any = None

    def __enter__(self) -> RayEngine:
        address = self.config.address
        if address and address != "auto":
            _check_reachable(address)
            _use_token_if_available()  # before Ray reads its settings
        # Ray's defaults retry an address that answers but is no Ray head for ~14 minutes.
        for name, seconds in _CONNECT_SETTINGS.items():
            os.environ.setdefault(name, seconds)
        if not log.isEnabledFor(logging.DEBUG):
            # The driver's C++ core logs notices on stderr (a restartable actor's arguments
            # live in the object store, reconnection attempts...); failures reach us as
            # exceptions, and -v shows the notices.
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        ray = _import_ray()
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR,
                                   "configure_logging": True, "include_dashboard": False}
        if not address:
            from pipeline.translate import usable_cores

            # A fresh instance on this machine, with its cores; "local" never joins a running
            # cluster. Groups of text need little of the object store (default: 30% of RAM).
            options.update(address="local", num_cpus=usable_cores(), object_store_memory=_LOCAL_OBJECT_STORE)
        else:
            options["address"] = address
        started = time.perf_counter()
        # Ray writes some of its own messages (a worker died, a task is retried) to the
        # driver's stdout: while Ray runs, stdout is stderr, so results stay clean.
        self._stdout, sys.stdout = sys.stdout, sys.stderr
        try:
            with _quiet_native_stderr(not log.isEnabledFor(logging.DEBUG)):
                ray.init(**options)
        except Exception as err:  # ConnectionError, RuntimeError, ValueError, grpc errors
            sys.stdout, self._stdout = self._stdout, None
            where = f"at {address}" if address else "on this machine"
            if "auth" in f"{err!r} {err.__cause__!r}".lower():
                raise ConfigError(f"the Ray cluster {where} refused this machine's authentication token",
                                  hint="put the cluster's token in ~/.ray/auth_token or RAY_AUTH_TOKEN "
                                       "(`ray get-auth-token` on the head prints it)") from err
            raise ConfigError(f"cannot start or reach a Ray cluster {where}: {_one_line(err)}",
                              hint="check the address (host:port of the head node, or auto)") from err
        log.info("ray: %s in %.1f s", f"connected to {address}" if address else "local instance started",
                 time.perf_counter() - started)
        self._ray = ray
        if not log.isEnabledFor(logging.DEBUG):
            # Ray Data logs its executions and settings on stderr; -v shows them.
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            logging.getLogger("ray").setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():  # Ray Data's own deprecated settings, read on first use
                warnings.simplefilter("ignore", DeprecationWarning)
                context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            # An actor the cluster can never place (no GPU...) would otherwise be waited for forever.
            context.wait_for_min_actors_s = _ACTOR_WAIT_SECONDS
            self._resources = dict(ray.cluster_resources())
            self._check_resources()
            self._check_cluster()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ray is not None:
            self._ray.shutdown()  # a local instance stops; a cluster is only let go of
            self._ray = None
        if self._stdout is not None:
            sys.stdout, self._stdout = self._stdout, None

    def translator(self, system: SystemConfig) -> RayTranslator:
        if self._ray is None:
            raise RuntimeError("the ray engine is used outside its `with` block")
        return RayTranslator(system, self)

    def pool(self, system: SystemConfig) -> dict[str, Any]:
        """The actor pool for ``system``: its size and each actor's resources and translator options."""
        config = self.config
        cpus, gpus = config.cpus_per_actor, config.gpus_per_actor
        if config.actors is not None:
            size = config.actors
        elif gpus > 0:
            size = max(1, int(self._resources.get("GPU", 0) // gpus))
        else:
            size = max(1, int(self._resources.get("CPU", 1) // cpus))
        # On CPU, one torch thread per worker thread and one worker per CPU the actor holds
        # (the local default); on its GPU, one worker.
        threads = system.threads or 1
        workers = system.workers or (1 if gpus > 0 else max(1, int(cpus) // threads))
        return {"size": size, "num_cpus": cpus, "num_gpus": gpus, "threads": threads, "workers": workers}

    def _check_resources(self) -> None:
        config, have = self.config, self._resources
        for key, wanted in (("CPU", config.cpus_per_actor), ("GPU", config.gpus_per_actor)):
            if wanted > have.get(key, 0):
                raise ConfigError(
                    f"an actor asks for {wanted:g} {key}(s), but the Ray cluster has {have.get(key, 0):g}",
                    hint=f"lower [ray] {key.lower()}s_per_actor, or add nodes with {key}s to the cluster",
                )

    def _check_cluster(self) -> None:
        # The cluster's Python must have what an actor imports: ask one task there, at once.
        ray = self._ray
        probe = ray.remote(num_cpus=0)(_probe_modules)
        try:
            missing = ray.get(probe.remote(list(REQUIRED_MODULES)), timeout=120)
        except Exception as err:
            raise ConfigError(f"the Ray cluster cannot run a task: {_one_line(err)}") from err
        if missing:
            raise ConfigError(
                f"the Ray cluster's workers cannot import {', '.join(missing)}",
                hint="install mtpipe with its dependencies in the Python the cluster runs (pip install 'mtpipe[ray]') "
                     "on every node",
            )


class RayTranslator:
    """A system's translator whose groups run on the engine's actor pool.

    Its name, model identity, settings and direction checks are those of the
    local translator it wraps (no weights are read on the driver), so the cache
    and the resume journal cannot tell the engines apart.
    """

    def __init__(self, system: SystemConfig, engine: RayEngine) -> None:
        self._system = system
        self._engine = engine
        self._local = make_translator(system)

    def __getattr__(self, name: str) -> Any:
        # name, info, settings, check_direction, supported_languages, ...
        return getattr(self._local, name)

    def translate(self, segments: Sequence[str], src_lang: str, tgt_lang: str) -> list[str]:
        """Translate segments as one group (sorted and batched together, as locally)."""
        return next(iter(self.translate_groups([list(segments)], src_lang, tgt_lang)))

    def translate_groups(self, groups: Iterable[list[str]], src_lang: str, tgt_lang: str) -> Iterator[list[str]]:
        """Each group's translations, in order, as they come back from the cluster.

        Raises:
            ModelError: an actor could not build the translator, or a group failed for good.
        """
        self._local.check_direction(src_lang, tgt_lang)
        groups = list(groups)  # the cache is read for every chunk before the cluster starts
        rows = [{"group": k, "texts": json.dumps(texts, ensure_ascii=False)} for k, texts in enumerate(groups) if texts]
        if not rows:
            yield from ([] for _ in groups)
            return
        ray = self._engine._ray
        pool = self._engine.pool(self._system)
        size = min(pool["size"], len(rows))
        with warnings.catch_warnings():
            # Ray 2.60 calls passing max_restarts/max_task_retries to map_batches deprecated
            # (removal planned for 2.64, hence the extra's upper bound), with no other way to set them.
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                _GroupTranslator,
                fn_constructor_kwargs={"system": asdict(self._system), "threads": pool["threads"],
                                       "workers": pool["workers"], "src_lang": src_lang, "tgt_lang": tgt_lang},
                batch_size=1,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=size),
                num_cpus=pool["num_cpus"],
                num_gpus=pool["num_gpus"] or None,
                # A dead actor is restarted and its group run again: nothing is lost.
                max_restarts=-1,
                max_task_retries=_GROUP_RETRIES,
            )
        log.info("ray: %d group(s) of segments for %s on %d actor(s)", len(rows), self._system.name, size)
        results = iter(dataset.iter_rows())
        done = 0
        try:
            for k, texts in enumerate(groups):
                if not texts:
                    yield []
                    continue
                row = next(results)
                if row["group"] != k:
                    raise ModelError(f"the Ray engine returned group {row['group']} where {k} was due")
                done += 1
                yield json.loads(row["translations"])
        except StopIteration:
            raise ModelError(f"the Ray engine returned {done} of {len(rows)} groups") from None
        except PipelineError:
            raise
        except Exception as err:
            raise ModelError(f"system {self._system.name!r} failed on the Ray cluster: {_root_message(err)}") from err


class _GroupTranslator:
    """A Ray Data actor: builds the translator once, then translates one group per call."""

    def __init__(self, system: dict[str, Any], threads: int, workers: int, src_lang: str, tgt_lang: str) -> None:
        system = {**system, "tgt_langs": tuple(system.get("tgt_langs", ()))}
        options: dict[str, Any] = {"threads": threads}
        if backend_for(system["model"], system.get("backend")).takes_workers:
            options["workers"] = workers
        self.translator = make_translator(SystemConfig(**system), **options)
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.translator.check_direction(src_lang, tgt_lang)

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        groups = batch.column("group").to_pylist()
        texts = batch.column("texts").to_pylist()
        out = []
        for payload in texts:
            # As translate_chunks does locally: the group is translated (sorted, batched) as one.
            translated = self.translator.translate(json.loads(payload), self.src_lang, self.tgt_lang)
            out.append(json.dumps(translated, ensure_ascii=False))
        return {"group": groups, "translations": out}


def _probe_modules(names: list[str]) -> list[str]:
    # Runs on the cluster: the modules its Python does not have (found, not imported: torch takes seconds).
    import importlib.util

    return [name for name in names if importlib.util.find_spec(name) is None]


@contextlib.contextmanager
def _quiet_native_stderr(quiet: bool) -> Iterator[None]:
    # Ray's C++ core announces its log level on stderr as it starts, whatever that level
    # is: while ray.init() runs, file descriptor 2 goes to a scratch file (the processes
    # a local instance starts then keep it too; Ray logs them to its session folder).
    # Python's sys.stderr is not touched; failures still arrive as exceptions.
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as scratch:
            os.dup2(scratch.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _use_token_if_available() -> None:
    # Ray 2.5x enables token authentication on `ray start --head` whenever a token
    # exists (~/.ray/auth_token, which any local ray.init() creates), but a driver
    # given an explicit address sends it only in token mode: without this, such a
    # cluster refuses us after 20 s of retries. A cluster without authentication
    # accepts a driver in token mode, so the token is used whenever there is one.
    if "RAY_AUTH_MODE" in os.environ:
        return
    if any(os.environ.get(name) for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")) or (
        Path.home() / ".ray" / "auth_token"
    ).is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
        if "ray" in sys.modules:  # Ray read its settings when imported: have it read them again
            try:
                from ray._raylet import Config

                Config.initialize("")
            except (ImportError, AttributeError):
                log.warning("ray: could not switch an already imported Ray to token authentication")


def _check_reachable(address: str) -> None:
    # ray.init() retries an unreachable address for a long while: fail at once instead.
    host, _, port = address.rpartition(":")
    host = host.removeprefix("ray://").strip("[]")
    if not host or not port.isdigit():
        raise ConfigError(f"bad Ray address {address!r}: expected host:port (or auto)")
    try:
        with socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT):
            pass
    except OSError as err:
        raise ConfigError(f"no Ray cluster at {address}: {err.strerror or err}",
                          hint="start one with `ray start --head`, or leave out the address for a local instance"
                          ) from err


_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception)): (.+)$")


def _root_message(err: BaseException) -> str:
    # Ray wraps an actor's exception (RayTaskError, ActorDiedError...): find what happened.
    cause: BaseException | None = err
    seen = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, PipelineError):
            return str(cause)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    # An actor that failed to start is reported as ActorDiedError, its traceback as text.
    text = re.sub(r"\x1b\[[0-9;]*m", "", getattr(err, "error_msg", None) or str(err))
    found = [m for line in text.splitlines() if (m := _ERROR_LINE.match(line.strip()))]
    if found:
        kind, message = found[-1].groups()
        return message if kind in _pipeline_error_names() else f"{kind}: {message}"
    return _one_line(err)


def _pipeline_error_names(kind: type = PipelineError) -> set[str]:
    # Our own errors speak for themselves: their message is shown without the class name.
    return {kind.__name__}.union(*(_pipeline_error_names(sub) for sub in kind.__subclasses__()))


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reporting from a CLI run
