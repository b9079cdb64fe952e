"""Atomic file output: a file riskbench writes is complete or absent, never half-written.

1. The content goes to a temporary file in the destination's folder (same file system, so
   the final rename is atomic), which is flushed and fsync'ed;
2. it gets the permissions of the file it replaces (or 0666 minus the umask for a new file),
   not the private 0600 of a temporary file;
3. it is renamed onto the destination and the folder is fsync'ed, so the rename survives a
   power cut;
4. on any error or signal (KeyboardInterrupt, the CLI's SIGTERM) the temporary file is
   removed and the destination is left as it was.

A destination that is one of the command's inputs (the same file, through any link, or a file
inside an input folder) is refused before anything is computed.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from riskbench.errors import InputError, OutputError

__all__ = ["atomic_path", "check_output", "write_text"]


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse an output path that would replace one of ``inputs`` (files or folders), or that
    is not a regular file (a device, a FIFO: ``-o /dev/stdout`` would replace the device
    node by a file).

    Returns the path to write: a symlink's target, so that the link stays a link. The check
    follows links (a hard link or symlink to an input is that input) and refuses any file
    inside an input folder, existing or not.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links: /dev/stdout is the pipe or terminal
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{path}: is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputError(f"{path}: is not a regular file (a device, FIFO or socket); riskbench "
                          "writes its outputs atomically as files: give a file name (--json "
                          "prints the JSON to standard output)")
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    for source in inputs:
        if source is None:
            continue
        source = Path(source)
        if _same(path, source):
            raise OutputError(f"{path}: is one of the command's inputs ({source}); writing it "
                              "would destroy the input: choose another output file")
        if source.is_dir():
            try:
                path.resolve().relative_to(source.resolve())
            except ValueError:
                continue
            # refused whether or not it exists yet: once written, the next read of the folder
            # takes the output for an input, and a rerun would replace it
            raise OutputError(f"{path}: is a file inside the input folder {source}; an output "
                              "there would be read as an input next time: choose a file "
                              "outside that folder")
    return path


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # e.g. EINVAL on file systems without folder fsync
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)  # keep the replaced file's permissions
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_error(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot be written ({exc.strerror or exc}); nothing was "
                       "written: free some space, or choose a folder you can write to")


@contextmanager
def atomic_path(path: str | Path, *,
                inputs: Iterable[str | Path | None] = ()) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    Write to the yielded path inside the ``with`` block. On any error the temporary file is
    removed and ``path`` is left as it was. The final file keeps the permissions of the file
    it replaces (a new one gets 0666 minus the umask). ``inputs``: paths the output must not
    replace (see :func:`check_output`). Disk full, read-only folders and missing permissions
    raise :class:`~riskbench.errors.OutputError`.
    """
    path = check_output(path, inputs)
    if not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist; create it first "
                         "(mkdir -p), or write the file into a folder that exists")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                                   dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:  # the writer closed it; flush its pages to the disk
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, content: str, *,
               inputs: Iterable[str | Path | None] = ()) -> Path:
    """Write ``content`` (UTF-8) to ``path`` atomically; see :func:`atomic_path`."""
    with atomic_path(path, inputs=inputs) as tmp:
        tmp.write_text(content, encoding="utf-8")
    return Path(path)
