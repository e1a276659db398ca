"""Exclusive run folders: created atomically, locked while a process trains in them.

:func:`claim_run_dir` creates ``<output_dir>/<name>`` with ``mkdir`` (no ``exist_ok``), trying
``<name>-2``, ``<name>-3``... until one is new, so two runs started at once never share a
folder. :class:`RunLock` holds ``fcntl.flock`` on ``<run>/.lock`` (holding the PID) while the run
trains; ``--resume`` of a locked run is refused, naming the PID. The lock file is removed when
the run ends (normally, on an error, on SIGINT/SIGTERM); the OS releases the lock however the
process ends. The lock never follows a symbolic link (:func:`ffseg._io.open_no_follow`).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ffseg._io import FileWriteError, open_no_follow

__all__ = ["LOCK", "RunLock", "RunLockedError", "claim_run_dir", "discard_unstarted"]

LOCK = ".lock"
MAX_SUFFIX = 10_000

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class RunLockedError(RuntimeError):
    """Another live process trains in the run folder."""


def claim_run_dir(output_dir: str | Path, name: str) -> Path:
    """Create and return a new run folder ``output_dir/name`` (or ``name-2``, ``name-3``...)."""
    base = Path(output_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(
            exc.errno or 0,
            f"cannot create the output folder {str(base)!r}: {exc.strerror or exc}; choose a "
            "writable train.output_dir (--output-dir)",
        ) from exc
    for k in range(1, MAX_SUFFIX):
        folder = base / (name if k == 1 else f"{name}-{k}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise FileWriteError(
                exc.errno or 0,
                f"cannot create the run folder {str(folder)!r}: {exc.strerror or exc}; choose a "
                "writable train.output_dir (--output-dir)",
            ) from exc
    raise FileWriteError(errno.EEXIST, f"{str(base)!r} holds too many runs named {name!r}")


def discard_unstarted(run_dir: Path, marker: str) -> Callable[..., bool]:
    """An ``ExitStack.push`` callback: on an error, remove the new ``run_dir`` unless it holds
    ``marker`` (the first checkpoint), so failed starts leave no half-made run folders."""

    def _exit(kind: type[BaseException] | None, *_: object) -> bool:
        if kind is not None and not (run_dir / marker).exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # never follows links inside
        return False

    return _exit


class RunLock:
    """``flock`` on ``<run_dir>/.lock`` for as long as the context is open (a no-op when
    ``enabled`` is False, e.g. on ranks other than 0)."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.path = Path(run_dir) / LOCK
        self.enabled = enabled and fcntl is not None
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        if not self.enabled:
            return self
        while True:
            fd = open_no_follow(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    raise RunLockedError(
                        f"run {str(self.path.parent)!r} is in use by a running training process "
                        f"(PID {holder}); wait for it to finish or stop it (Ctrl-C saves a "
                        "checkpoint), then resume."
                    ) from None
                raise
            if self._is_current(fd):
                break
            os.close(fd)  # the holder removed this file as it ended: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.fd is not None:
            if self._is_current(self.fd):
                self.path.unlink(missing_ok=True)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def _is_current(self, fd: int) -> bool:
        """Whether ``fd`` is still the file at :attr:`path` (not removed or replaced)."""
        try:
            now = os.lstat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)
