"""The one atomic file write every ffseg module uses (bottom layer: imports nothing of ffseg).

A write goes to a temporary file beside the target (``.<name>.<random>.tmp``), is flushed and
fsynced, renamed over the target with ``os.replace`` and the folder is fsynced, so a process
killed at any moment leaves either the old file or the new one, never a torn one. Files get the
mode a plain ``open()`` would give (``0o666`` less the umask), not ``mkstemp``'s ``0o600``.
Failures raise :class:`FileWriteError` naming the path, the cause and the fix.

No write follows a symbolic link ffseg did not create: ``os.replace`` replaces a link at the
target (its target is untouched), :func:`open_no_follow` opens with ``O_NOFOLLOW`` (a link is
removed and a fresh file made), and :func:`check_no_symlinks` refuses a folder inside a run
folder that is a link. Temp files are removed when a write fails or is interrupted (also by
SIGTERM inside :func:`sigterm_raises`) and by :func:`remove_stale_temp_files` at the next start.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "FileWriteError",
    "Terminated",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_no_symlinks",
    "open_no_follow",
    "remove_stale_temp_files",
    "sigterm_raises",
]

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
STALE_AFTER_S = 60.0  # a temp file this old cannot belong to a live write of ours


class FileWriteError(OSError):
    """A file could not be written; the message names the path, the cause and the fix."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _explain(path: Path, exc: OSError) -> FileWriteError:
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        cause, fix = "no space left on the device", "free disk space or write elsewhere"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        cause, fix = "the folder is read-only or not writable", "choose a writable output folder"
    elif code in (errno.ENOTDIR, errno.EEXIST) or (
        path.parent.exists() and not path.parent.is_dir()
    ):
        cause, fix = "a path component is a file, not a folder", "choose another output path"
    elif code == errno.EISDIR or path.is_dir():
        cause, fix = "the target is a folder", "give a file name, not a folder"
    else:
        cause, fix = f"{type(exc).__name__}: {exc.strerror or exc}", "check the path and the disk"
    err = FileWriteError(code or 0, f"cannot write {str(path)!r}: {cause}; {fix}")
    err.filename = str(path)
    return err


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, then move ``tmp_path`` onto ``path`` atomically.

    ``write`` receives the temporary file's path (it exists, empty) and fills it by any means
    (``torch.save``, ``safetensors``, ``PIL.Image.save(format=...)``, ...). Returns ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise _explain(path, IsADirectoryError(errno.EISDIR, "is a directory"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _explain(path, exc) from exc
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise _explain(path, exc) from exc
        if isinstance(exc, RuntimeError) and "No space left" in str(exc):  # torch.save's wording
            raise _explain(path, OSError(errno.ENOSPC, "No space left on device")) from exc
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: str | os.PathLike[str], data: Any, indent: int = 2) -> Path:
    """Write ``data`` as JSON (NaN/inf become ``null``, paths strings) atomically."""
    text = json.dumps(_json_clean(data), indent=indent, default=str, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def remove_stale_temp_files(
    folder: str | os.PathLike[str], older_than_s: float = STALE_AFTER_S, recursive: bool = False
) -> int:
    """Delete temp files left in ``folder`` (and its sub-folders if ``recursive``; links are
    not followed) by killed writes (older than ``older_than_s``)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return 0
    removed = 0
    now = time.time()
    pattern = f"**/.*{TEMP_SUFFIX}" if recursive else f".*{TEMP_SUFFIX}"
    for tmp in folder.glob(pattern):
        try:
            info = tmp.lstat()
            if recursive and any(p.is_symlink() for p in tmp.relative_to(folder).parents[:-1]):
                continue
            if now - info.st_mtime > older_than_s:
                tmp.unlink()  # a link is removed, never its target
                removed += 1
        except OSError:
            continue
    return removed


def check_no_symlinks(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Return ``root/path`` after checking that no part of it below ``root`` is a symbolic
    link (ffseg never creates links in its folders); raises :class:`FileWriteError` otherwise."""
    root, full = Path(root), Path(root) / path
    current = root
    for part in full.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise FileWriteError(
                errno.ELOOP,
                f"cannot write {str(current)!r}: it is a symbolic link ffseg did not create "
                f"(to {os.readlink(current)!r}); remove the link or choose another folder",
            )
    return full


def open_no_follow(path: str | os.PathLike[str], mode: int = 0o666) -> int:
    """Open ``path`` read-write, creating it, without following a link: a symbolic link in its
    place is removed (never its target, with a warning) and a fresh file created. Returns the
    file descriptor."""
    path = Path(path)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags, mode)
    except OSError as exc:
        if not path.is_symlink():
            raise _explain(path, exc) from exc
    log.warning(
        "%s was a symbolic link ffseg did not create: replaced (its target untouched)", path
    )
    try:
        path.unlink()
        return os.open(path, flags | os.O_EXCL, mode)
    except OSError as exc:
        raise _explain(path, exc) from exc


class Terminated(SystemExit):
    """SIGTERM arrived inside :func:`sigterm_raises` (exit status 143)."""


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While open (main thread only), SIGTERM raises :class:`Terminated` (a ``SystemExit``
    with status 143) so ``finally`` blocks and :func:`atomic_write` remove their temp files."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
