"""The one atomic file write every ffseg module uses (bottom layer: imports nothing of ffseg).

A write goes to a temporary file beside the target (``.<name>.<random>.tmp``), is flushed and
fsynced, renamed over the target with ``os.replace`` and the folder is fsynced, so a process
killed at any moment leaves either the old file or the new one, never a torn one. Files get the
mode a plain ``open()`` would give (``0o666`` less the umask), not ``mkstemp``'s ``0o600``.
Failures raise :class:`FileWriteError` naming the path, the cause and the fix.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "FileWriteError",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "remove_stale_temp_files",
]

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
    folder: str | os.PathLike[str], older_than_s: float = STALE_AFTER_S
) -> int:
    """Delete temp files left in ``folder`` by killed writes (older than ``older_than_s``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    now = time.time()
    for tmp in folder.glob(f".*{TEMP_SUFFIX}"):
        try:
            if tmp.is_file() and now - tmp.stat().st_mtime > older_than_s:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed
