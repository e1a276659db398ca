"""Where a study lives and how workers share it.

Storage: by default a SQLite file ``<study>/study.db``; any Optuna storage URL (a PostgreSQL or
MySQL server for many machines); or a journal file (``journal:PATH`` or a path ending in
``.log`` / ``.journal``) for many processes on a shared disk. Several workers started with the
same study name and storage draw trials from it until the study holds ``n_trials`` (finished,
running or queued), so no trial is run twice.

A killed worker is detected by its missing heartbeat (Optuna's for database storages; for a
journal, ffseg touches ``<study>/heartbeats/<trial>`` files) and its trial is queued again with
the same values; running the same command again continues the study.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ffseg._io import check_no_symlinks
from ffseg.tune.objective import DISK_ATTR, ERROR_ATTR, RETRY_ATTR

#: User attribute of a trial created after the study was full (never run, not counted).
SURPLUS_ATTR = "surplus"

__all__ = [
    "FileHeartbeat",
    "Progress",
    "StorageError",
    "SurplusTrialError",
    "create_pruner",
    "is_surplus",
    "log_to_file",
    "open_storage",
    "open_study",
    "remaining_trials",
    "run_worker",
    "surplus_guard",
]

log = logging.getLogger(__name__)

PRUNERS = ("median", "hyperband", "none")
#: ``median`` prunes only once this many trials have completed...
PRUNE_AFTER_TRIALS = 5
#: ...and this many trials have reported a score at the same iteration.
PRUNE_MIN_REPORTS = 3
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def _is_journal(storage: str) -> bool:
    return storage.startswith("journal:") or (
        "://" not in storage and storage.endswith(JOURNAL_SUFFIXES)
    )


class StorageError(ValueError):
    """A study storage that cannot be opened; the message names it and the fix."""


STORAGE_FIX = (
    "give a database URL (sqlite:///PATH.db, postgresql://USER@HOST/DB) or a journal file "
    "(journal:PATH or a path ending in .log), or leave --storage out for OUT/STUDY/study.db"
)


def repair_journal(path: Path) -> int:
    """Drop a torn last record of the journal file ``path`` (a write cut short, e.g. by a full
    disk), with a warning naming the file; returns the bytes dropped. A bad record before the
    last is a :class:`StorageError` naming the line."""
    import json

    from optuna.storages.journal import JournalFileSymlinkLock

    if not path.is_file() or path.stat().st_size == 0:
        return 0
    lock = JournalFileSymlinkLock(str(path))  # what Optuna's writers take: no append meanwhile
    while not lock.acquire():
        time.sleep(0.01)
    try:
        data = path.read_bytes()
        lines = data.split(b"\n")
        torn = lines.pop()  # b"" when the file ends with a newline
        if torn == b"" and lines:
            try:
                json.loads(lines[-1])
            except ValueError:
                torn = lines.pop() + b"\n"
        for number, line in enumerate(lines, 1):
            try:
                json.loads(line)
            except ValueError:
                raise StorageError(
                    f"journal storage {str(path)!r}: line {number} is not a journal record; "
                    "restore the file from a backup or start a new study (another --storage)"
                ) from None
        if not torn:
            return 0
        with open(path, "r+b") as fh:
            fh.truncate(len(data) - len(torn))
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        lock.release()
    log.warning(
        "journal storage %s: dropped a torn last record (%d bytes, a write cut short); the "
        "study continues from the record before it",
        path,
        len(torn),
    )
    return len(torn)


def _retry_callback(max_retry: int) -> Any:
    from optuna import storages

    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    return (cls or storages.RetryFailedTrialCallback)(max_retry=max_retry)


def open_storage(
    storage: str | None, study_dir: Path, *, heartbeat_s: int = 60, max_retry: int = 3
) -> Any:
    """The Optuna storage for ``storage`` (``None``: ``<study_dir>/study.db``); a journal's
    torn last record is dropped (:func:`repair_journal`). Raises :class:`StorageError` naming
    the storage and the fix."""
    try:
        return _open_storage(storage, study_dir, heartbeat_s, max_retry)
    except StorageError:
        raise
    except Exception as exc:
        shown = storage or str(study_dir / "study.db")
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StorageError(
            f"cannot open the study storage {shown!r} ({type(exc).__name__}: {cause}); "
            f"{STORAGE_FIX}"
        ) from exc


def _open_storage(storage: str | None, study_dir: Path, heartbeat_s: int, max_retry: int) -> Any:
    from optuna import storages

    if storage is not None and _is_journal(storage):
        path = Path(storage.removeprefix("journal:")).expanduser()
        if path.is_dir():
            raise StorageError(f"journal storage {storage!r} is a folder; {STORAGE_FIX}")
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_journal(path)
        journal = getattr(storages, "journal", None)  # optuna >= 4; JournalFileStorage before
        backend = journal.JournalFileBackend if journal else storages.JournalFileStorage
        return storages.JournalStorage(backend(str(path)))
    if storage is not None and "://" not in storage:
        raise StorageError(
            f"--storage {storage!r} is neither a database URL nor a journal file; use "
            f"journal:{storage} for a journal file or sqlite:///{storage} for SQLite "
            "(or leave --storage out)"
        )
    if storage is None:
        study_dir.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{(study_dir / 'study.db').resolve()}"
    engine_kwargs = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else None
    callback_arg = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in inspect.signature(storages.RDBStorage).parameters
        else "failed_trial_callback"
    )
    return storages.RDBStorage(
        storage,
        engine_kwargs=engine_kwargs,
        heartbeat_interval=heartbeat_s,
        grace_period=max(2 * heartbeat_s, heartbeat_s + 1),
        **{callback_arg: _retry_callback(max_retry)},
    )


def create_pruner(pruner: str | Any, n_trials: int) -> Any:
    """``median`` / ``hyperband`` / ``none``, or an Optuna pruner object as is."""
    import optuna

    if not isinstance(pruner, str):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=PRUNE_AFTER_TRIALS, n_min_trials=PRUNE_MIN_REPORTS
        )
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"pruner {pruner!r} is unknown; use one of {', '.join(PRUNERS)}")


def open_study(
    name: str,
    storage: Any,
    directions: Sequence[str],
    *,
    pruner: Any,
    seed: int | None,
    n_trials: int,
) -> Any:
    """Create the study or load it (same name and storage: the workers share it)."""
    import optuna

    if len(directions) > 1:
        population = min(50, max(4, n_trials // 2))
        sampler: Any = optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, n_trials // 2))
    return optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )


def _retry_history(trial: Any) -> list[int]:
    """The trials ``trial`` retries, oldest first (Optuna's retry callback or ffseg's)."""
    return list(
        trial.system_attrs.get("retry_history") or trial.user_attrs.get("retry_history", [])
    )


def _requeue(study: Any, trial: Any) -> None:
    """Queue ``trial``'s values again as a retry of it."""
    history = [*_retry_history(trial), trial.number]
    study.enqueue_trial(
        trial.params,
        user_attrs={RETRY_ATTR: history[0], "retry_history": history},
        skip_if_exists=False,
    )


def is_surplus(trial: Any) -> bool:
    """True for a trial created after the study was full (see :func:`run_worker`); never run."""
    return bool(trial.user_attrs.get(SURPLUS_ATTR))


def _counted(trials: Sequence[Any], before: int | None = None) -> int:
    """Trials (numbered below ``before``, if given) that fill the study: finished, running and
    queued ones; failed ones only when no trial retries them; surplus ones never."""
    from optuna.trial import TrialState

    retried = set()
    for t in trials:
        retried.update(_retry_history(t))
    return sum(
        not is_surplus(t) and (t.state != TrialState.FAIL or t.number not in retried)
        for t in trials
        if before is None or t.number < before
    )


def remaining_trials(study: Any, n_trials: int) -> int:
    """How many trials still have to start (see :func:`_counted`)."""
    return max(0, n_trials - _counted(study.get_trials(deepcopy=False)))


def surplus_guard(
    study: Any, objective: Callable[[Any], Any], n_trials: int
) -> Callable[[Any], Any]:
    """``objective`` that first refuses (:class:`SurplusTrialError`) a trial beyond
    ``n_trials``."""

    def guarded(trial: Any) -> Any:
        _check_not_surplus(study, trial, n_trials)
        return objective(trial)

    return guarded


class SurplusTrialError(RuntimeError):
    """A trial created after the study already held ``n_trials`` (another worker started the
    last one at the same moment); it is recorded as failed, marked surplus and not run."""


def _check_not_surplus(study: Any, trial: Any, n_trials: int) -> None:
    """Trial numbers are given out atomically by the storage: the trials numbered before this
    one decide, the same way in every worker, whether it is one too many."""
    if _counted(study.get_trials(deepcopy=False), before=trial.number) >= n_trials:
        trial.set_user_attr(SURPLUS_ATTR, True)
        raise SurplusTrialError(
            f"trial {trial.number} not run: the study already holds {n_trials} trials "
            "(another worker started the last one at the same moment)"
        )


class FileHeartbeat:
    """Heartbeats for storages without Optuna's (journal files): one touched file per trial."""

    def __init__(self, folder: Path, interval_s: float, max_retry: int) -> None:
        self.folder = folder
        self.interval_s = interval_s
        self.grace_s = max(2 * interval_s, interval_s + 1)
        self.max_retry = max_retry

    def _path(self, number: int) -> Path:
        return self.folder / f"trial_{number:04d}"

    @contextmanager
    def beating(self, number: int) -> Any:
        """Touch the trial's file every ``interval_s`` while the block runs."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.interval_s):
                self._path(number).touch()

        self._path(number).touch()

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self._path(number).unlink(missing_ok=True)

    def fail_stale(self, study: Any) -> None:
        """Fail running trials whose heartbeat stopped and queue them again."""
        from optuna.trial import TrialState

        now = time.time()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            path = self._path(t.number)
            started = t.datetime_start.timestamp() if t.datetime_start else now
            last = path.stat().st_mtime if path.exists() else started
            if now - last <= self.grace_s:
                continue
            try:
                study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            except Exception:  # another worker failed it first
                continue
            if len(_retry_history(t)) >= self.max_retry:
                continue
            log.warning("trial %d lost its worker; queued again", t.number)
            _requeue(study, t)


class Progress:
    """Console progress after each trial: its value, the best so far and the ETA."""

    def __init__(
        self,
        n_trials: int,
        objectives: Sequence[str],
        emit: Callable[[str], None],
        log_file: Path | None = None,
    ):
        self.n_trials = n_trials
        self.log_file = log_file
        self.objectives = list(objectives)
        self.emit = emit
        self.started = time.perf_counter()
        self.done_here = 0

    def __call__(self, study: Any, trial: Any) -> None:
        from optuna.trial import TrialState

        if is_surplus(trial):
            return
        self.done_here += 1
        left = remaining_trials(study, self.n_trials)
        rate = (time.perf_counter() - self.started) / self.done_here
        eta = _duration(rate * left)
        state = trial.state.name.lower()
        values = ""
        if trial.state == TrialState.COMPLETE:
            values = " ".join(f"{k}={v:.4g}" for k, v in zip(self.objectives, trial.values))
        elif trial.state == TrialState.PRUNED and trial.intermediate_values:
            step = max(trial.intermediate_values)
            values = f"at iteration {step} ({trial.intermediate_values[step]:.4g})"
        elif trial.state == TrialState.FAIL:
            where = f"; traceback in {self.log_file}" if self.log_file else ""
            values = f"({trial.user_attrs.get(ERROR_ATTR, 'see the log')}{where})"
        best = _best(study, self.objectives)
        disk = trial.user_attrs.get(DISK_ATTR)
        kept = f" | {disk / 1e6:.1f} MB kept" if disk is not None else ""
        self.emit(
            f"trial {trial.number} {state} {values} | best: {best}{kept} | "
            f"{self.n_trials - left}/{self.n_trials} started, ETA {eta}"
        )


@contextmanager
def log_to_file(path: Path) -> Any:
    """While open, Optuna's log lines (a failed trial's traceback among them) go to ``path``
    only, not to the console."""
    import optuna

    logger = logging.getLogger("optuna")
    path.parent.mkdir(parents=True, exist_ok=True)
    check_no_symlinks(path.parent, path.name)  # appends never follow a link
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    propagate = logger.propagate
    optuna.logging.disable_default_handler()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.propagate = propagate
        optuna.logging.enable_default_handler()


def _best(study: Any, objectives: Sequence[str]) -> str:
    try:
        if len(objectives) == 1:
            b = study.best_trial
            return f"{objectives[0]}={b.value:.4g} (trial {b.number})"
        return f"Pareto set of {len(study.best_trials)} trial(s)"
    except ValueError:
        return "none yet"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def run_worker(
    study: Any,
    objective: Callable[[Any], Any],
    n_trials: int,
    *,
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
    file_heartbeat: FileHeartbeat | None = None,
) -> int:
    """Run trials of ``study`` until it holds ``n_trials``; returns how many this worker ran.

    A failing trial (e.g. a diverging loss) is recorded as failed and the worker goes on; an
    interrupt (Ctrl-C) stops the worker after queueing the trial again. Two workers that both
    see one trial left may both create one: the later-numbered is marked surplus and not run,
    so the study ends with exactly ``n_trials``. With nothing left to start, a worker on a
    storage with heartbeats waits for the running trials, so that one whose worker was killed
    is retried as soon as its heartbeat goes stale.
    """
    ran = 0
    guarded = wrapped = surplus_guard(study, objective, n_trials)
    if file_heartbeat is not None:
        beat = file_heartbeat

        def wrapped(trial: Any) -> Any:
            with beat.beating(trial.number):
                return guarded(trial)

    import optuna
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    poll_s = _heartbeat_poll_s(study, file_heartbeat)
    waiting = False
    while True:
        if file_heartbeat is not None:
            file_heartbeat.fail_stale(study)
        with warnings.catch_warnings():  # marked experimental, stable since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)  # a no-op without Optuna heartbeats
        queued = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if remaining_trials(study, n_trials) <= 0 and not queued:  # queued: retries to run
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not running or poll_s is None:
                return ran
            if not waiting:  # a running trial may belong to a killed worker: retry it here
                log.info("waiting for %d running trial(s) of other or killed workers", len(running))
                waiting = True
            time.sleep(poll_s)
            continue
        try:
            study.optimize(wrapped, n_trials=1, catch=(Exception,), callbacks=list(callbacks))
        except KeyboardInterrupt:
            _requeue_last(study)
            raise
        ran += 1


def _heartbeat_poll_s(study: Any, file_heartbeat: FileHeartbeat | None) -> float | None:
    """How often a worker with nothing left to start checks the running trials for a lost
    worker; ``None`` where the storage keeps no heartbeats (a lost worker is never detected)."""
    if file_heartbeat is not None:
        return min(file_heartbeat.interval_s, 5.0)
    interval = getattr(study._storage, "get_heartbeat_interval", lambda: None)()
    return None if interval is None else min(float(interval), 5.0)


def _requeue_last(study: Any) -> None:
    """Queue the trial an interrupt stopped again, so re-running the command retries it."""
    from optuna.trial import TrialState

    failed = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if not is_surplus(t)
    ]
    if failed:
        _requeue(study, failed[-1])
