"""Limits on what an input may expand to, checked while streaming, before memory is committed.

Every file riskbench reads goes through :func:`open_input` (or :func:`read_input`), every zip
member through :func:`read_member` after :func:`check_archive`, every Parquet file through
:func:`check_parquet`. They enforce, per file and per zip member:

1. ``max_bytes``: the uncompressed size (a plain file's size, a gzip file's inflated content,
   a zip member's, and all members of one archive together);
2. ``max_ratio``: uncompressed over compressed bytes, once the uncompressed size passes
   ``ratio_floor`` (small files compress well and are harmless; a bomb is caught after
   inflating ``ratio_floor`` bytes, whatever size it claims);
3. ``max_line``: the longest line of line-oriented files (CSV, TSV, JSON Lines), so one
   newline-free gigabyte never reaches a parser;
4. regular files only: FIFOs, sockets and devices are refused before they are opened for
   reading (a FIFO would block forever, ``/dev/zero`` never ends).

A zip member's sizes are checked from the central directory before anything is inflated, and
counted again while inflating (zipfile stops at the declared size and checks the CRC, so a
member cannot yield more than its header says). Exceeding a limit raises
:class:`~riskbench.errors.LimitError` naming the file, the member, the limit and how to raise
it: ``--max-input-bytes`` / ``--max-expansion`` / ``--max-line-bytes`` on the command line,
``riskbench.input_limits(...)`` in Python.

The defaults are far above what real logs need (measured by ``scripts/survey_inputs.py`` on the
sample logs of tests/data and the project's shared data: the largest file inflates to 16.6 MB,
the highest ratio is 17.9, the longest line 18,858 bytes).
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from riskbench.errors import InputError, LimitError, option_hint

__all__ = ["Limits", "input_limits", "current_limits", "parse_size", "format_size",
           "check_regular", "open_input", "read_input", "open_archive", "check_archive",
           "read_member", "check_columns", "too_many_columns", "may_hold_surrogates",
           "replace_surrogates",
           "check_parquet", "Budget"]

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
          "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")
_BLOCK = 1 << 20  # bytes scanned per newline search (see _Guard._lines)
_OPTION = {"max_bytes": ("--max-input-bytes", "max_bytes"),
           "max_ratio": ("--max-expansion", "max_ratio"),
           "max_line": ("--max-line-bytes", "max_line"),
           "max_columns": ("--max-columns", "max_columns")}


@dataclass(frozen=True)
class Limits:
    """What one input may expand to.

    Attributes
    ----------
    max_bytes : int
        Largest uncompressed size of a file, of a zip member, and of all members of one archive
        (default 2 GiB).
    max_ratio : float
        Largest compression ratio (uncompressed / compressed bytes), checked once the
        uncompressed size passes ``ratio_floor`` (default 100).
    max_line : int
        Longest line, in bytes, of CSV, TSV and JSON Lines files (default 64 MiB).
    ratio_floor : int
        Uncompressed size below which the ratio is not checked (default 16 MiB).
    max_columns : int
        Most columns of a CSV/TSV/Parquet table or fields of a JSON Lines record (default
        100,000): a table costs about 2 KiB of memory per column, so a 10 MB header of a
        million names would take 2 GiB.

    Examples
    --------
    >>> import riskbench
    >>> riskbench.Limits().max_bytes == 2 << 30
    True
    >>> with riskbench.input_limits(max_bytes="8G", max_ratio=500) as limits:
    ...     print(limits.max_bytes, limits.max_ratio)
    8589934592 500
    """

    max_bytes: int = 2 << 30
    max_ratio: float = 100.0
    max_line: int = 64 << 20
    ratio_floor: int = 16 << 20
    max_columns: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_line", "ratio_floor", "max_columns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"input limit {name} must be a whole number of bytes >= 1; "
                                 f"got {value!r}")
        ratio = self.max_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio >= 1:
            raise InputError(f"input limit max_ratio must be a number >= 1; got {ratio!r}")


DEFAULT_LIMITS = Limits()
_CURRENT: ContextVar[Limits] = ContextVar("riskbench_input_limits", default=DEFAULT_LIMITS)


def current_limits() -> Limits:
    """The limits in force (the defaults unless inside :func:`input_limits`)."""
    return _CURRENT.get()


@contextmanager
def input_limits(*, max_bytes: int | str | None = None, max_ratio: float | None = None,
                 max_line: int | str | None = None,
                 max_columns: int | None = None) -> Iterator[Limits]:
    """Raise (or lower) the input limits for the reads inside the ``with`` block.

    Parameters
    ----------
    max_bytes : int or str, optional
        Largest uncompressed size of a file, a zip member, or one archive's members together;
        bytes or a string such as ``"512M"``, ``"8GiB"`` (binary units).
    max_ratio : float, optional
        Largest compression ratio, checked past ``Limits.ratio_floor`` inflated bytes.
    max_line : int or str, optional
        Longest line of a CSV, TSV or JSON Lines file.
    max_columns : int, optional
        Most columns of a table (CSV/TSV header, JSON Lines record, Parquet schema).

    ``None`` keeps the limit in force; see :class:`Limits` for the defaults. The limits are
    a context variable: they apply to this thread (and task) only, and nest.

    Yields
    ------
    Limits
        The limits in force inside the block.

    Examples
    --------
    >>> with riskbench.input_limits(max_bytes="8G", max_ratio=500):   # doctest: +SKIP
    ...     table = riskbench.read_scores("huge.csv.gz")
    """
    limits = current_limits()
    changes: dict[str, object] = {}
    if max_bytes is not None:
        changes["max_bytes"] = parse_size(max_bytes, "max_bytes")
    if max_line is not None:
        changes["max_line"] = parse_size(max_line, "max_line")
    if max_ratio is not None:
        changes["max_ratio"] = max_ratio
    if max_columns is not None:
        changes["max_columns"] = max_columns
    token = _CURRENT.set(replace(limits, **changes))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def parse_size(value: int | str, what: str = "size") -> int:
    """Bytes from an int or a string like ``"64M"``, ``"2GiB"``, ``"1.5g"`` (binary units)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(2).lower() not in _UNITS:
        raise InputError(f"{what} must be a number of bytes, optionally with a unit K, M, G or "
                         f"T (binary: 1K = 1024), e.g. 512M or 4G; got {value!r}")
    return max(1, int(float(match.group(1)) * _UNITS[match.group(2).lower()]))


def format_size(n: float) -> str:
    """``n`` bytes in binary units with 3 significant digits: ``3.00 GiB``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def _raise_hint(key: str, needed: float) -> str:
    flag, keyword = _OPTION[key]
    if key in ("max_ratio", "max_columns"):  # a round number well above what was seen
        value = str(10 ** math.ceil(math.log10(max(needed, 10) * 4)))
    else:
        value = f"{max(1, math.ceil(needed / (1 << 30)))}G" if needed >= 1 << 30 else \
            f"{max(1, math.ceil(needed / (1 << 20)))}M"
    python = f"{value if key in ('max_ratio', 'max_columns') else repr(value)}"
    return ("if the file is genuine, raise the limit, e.g. "
            + option_hint(f"with riskbench.input_limits({keyword}={python})", f"{flag} {value}"))


def _where(label: str, member: str | None) -> str:
    return f"{label}: member {member!r}" if member else label


def _too_big(what: str, size: float, limits: Limits, after: str = "") -> LimitError:
    """``what`` (a subject and verb, e.g. "big.eval: member 'x' declares") ``size``
    ``after``, above max_bytes, with the hint to raise it."""
    return LimitError(f"{what} {format_size(size)}{after}, above the input limit of "
                      f"{format_size(limits.max_bytes)} (max_bytes); "
                      + _raise_hint("max_bytes", size * 1.1))


def _over_bytes(label: str, member: str | None, size: float, limits: Limits,
                claimed: bool = False, plain: bool = False) -> LimitError:
    how = "is" if plain else "declares" if claimed else "inflates to more than"
    return _too_big(f"{_where(label, member)} {how}", size, limits)


def _over_ratio(label: str, member: str | None, produced: float, consumed: float,
                limits: Limits) -> LimitError:
    ratio = produced / max(consumed, 1)
    return LimitError(f"{_where(label, member)} expands {ratio:,.0f} times "
                      f"({format_size(produced)} from {format_size(consumed)} so far), above "
                      "the limit of "
                      f"{limits.max_ratio:g} times (max_ratio); it looks like a decompression "
                      "bomb; " + _raise_hint("max_ratio", ratio))


# ----------------------------------------------------------------------------- regular files

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _kind(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None)


def check_regular(path: str | Path, *, folders: bool = True) -> None:
    """Refuse FIFOs, sockets and devices up front (a FIFO blocks a reader forever).

    Missing paths pass (the caller says "no such file" in its own words); folders pass when
    ``folders``.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    kind = _kind(mode)
    if kind is not None:
        raise InputError(f"{path}: is {kind}, not a regular file; riskbench reads files and "
                         "folders only: save the data to a file first")
    if not folders and stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder; give a file")


def _open_regular(path: Path, label: str) -> BinaryIO:
    """Open for reading without ever blocking on a FIFO: O_NONBLOCK, then fstat."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC",
                                                                                 0))
    except IsADirectoryError:
        raise InputError(f"{label}: is a folder; give a file") from None
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror or exc}); check the path and "
                         "permissions") from None
    try:
        mode = os.fstat(fd).st_mode
        kind = _kind(mode)
        if kind is not None or stat.S_ISDIR(mode):
            raise InputError(f"{label}: is {kind or 'a folder'}, not a regular file; riskbench "
                             "reads files and folders only: save the data to a file first")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


# ----------------------------------------------------------------------------- the guard

class Budget:
    """Bytes inflated so far from one archive (all members together)."""

    def __init__(self, label: str, limits: Limits) -> None:
        self.label = label
        self.limits = limits
        self.total = 0

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.limits.max_bytes:
            raise LimitError(f"{self.label}: its members inflate to more than "
                             f"{format_size(self.limits.max_bytes)} together, above the input "
                             "limit (max_bytes); " + _raise_hint("max_bytes",
                                                                 self.total * 1.1))


class _Guard(io.RawIOBase):
    """A read-only stream over ``source`` that counts what it yields and enforces the limits.

    ``consumed`` gives the compressed bytes read so far (``None`` for an uncompressed source,
    whose ratio is 1). With ``lines``, the run of bytes since the last newline is tracked: it
    is exact because each search covers at most ``max_line`` bytes, so a line inside one
    search block is shorter than the limit and only runs across blocks need adding up.
    """

    def __init__(self, source: BinaryIO, *, label: str, member: str | None, limits: Limits,
                 consumed: Callable[[], int] | None, lines: bool,
                 budget: Budget | None = None, owned: tuple = (), is_gzip: bool = False) -> None:
        super().__init__()
        self._gzip = is_gzip
        self._source = source
        self._label = label
        self._member = member
        self._limits = limits
        self._consumed = consumed
        self._lines = lines
        self._budget = budget
        self._owned = owned
        self._produced = 0
        self._run = 0  # bytes since the last newline
        self._line_no = 1
        self._block = min(_BLOCK, limits.max_line)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._source.read(len(view))
        except (zlib.error, gzip.BadGzipFile) as exc:  # (a cut file: EOFError, for callers)
            if not self._gzip:  # zip members: the archive reader words its own message
                raise
            raise InputError(f"{self._label}: cannot be inflated as gzip ({exc}); the file is "
                             "truncated or corrupted: write it again") from None
        n = len(data)
        if not n:
            return 0
        view[:n] = data
        self._account(data)
        return n

    def _account(self, data: bytes) -> None:
        limits = self._limits
        self._produced += len(data)
        if self._budget is not None:
            self._budget.add(len(data))
        if self._produced > limits.max_bytes:
            raise _over_bytes(self._label, self._member, self._produced, limits)
        if self._consumed is not None and self._produced > limits.ratio_floor:
            consumed = self._consumed()
            if self._produced > limits.max_ratio * max(consumed, 1):
                raise _over_ratio(self._label, self._member, self._produced, consumed, limits)
        if self._lines:
            for start in range(0, len(data), self._block):
                block = data[start:start + self._block]
                first = block.find(b"\n")
                if first < 0:
                    self._run += len(block)
                else:
                    self._check_line(self._run + first)
                    self._line_no += block.count(b"\n")
                    self._run = len(block) - block.rfind(b"\n") - 1
                if self._run > limits.max_line:
                    self._check_line(self._run)

    def _check_line(self, length: int) -> None:
        if length > self._limits.max_line:
            raise LimitError(
                f"{_where(self._label, self._member)}: line {self._line_no} is longer than "
                f"{format_size(self._limits.max_line)} (the max_line limit; no line break in "
                f"{format_size(length)}); a CSV or JSON Lines file has one record per line; "
                + _raise_hint("max_line", length * 2))

    def close(self) -> None:
        if not self.closed:
            try:
                for handle in (self._source, *self._owned):
                    handle.close()
            finally:
                super().close()


def open_input(path: str | Path, *, lines: bool = False, label: str | None = None,
               gz: bool | None = None) -> io.BufferedReader:
    """Open a file for reading under the limits in force; ``.gz`` files are inflated.

    Parameters
    ----------
    path : str or Path
        A regular file (FIFOs, sockets, devices are refused without blocking).
    lines : bool
        Enforce ``max_line`` (CSV, TSV, JSON Lines).
    label : str, optional
        How messages name the file (default: the path).
    gz : bool, optional
        Inflate with gzip (default: when the name ends with ``.gz``).

    Returns
    -------
    io.BufferedReader
        Binary stream of the (inflated) content; it raises
        :class:`~riskbench.errors.LimitError` when a limit is passed.
    """
    path = Path(path)
    label = str(path) if label is None else label
    limits = current_limits()
    raw = _open_regular(path, label)
    try:
        size = os.fstat(raw.fileno()).st_size
        if gz is None:
            gz = path.name.lower().endswith(".gz")
        if gz:
            buffered = io.BufferedReader(raw, buffer_size=1 << 16)
            inflated = gzip.GzipFile(fileobj=buffered, mode="rb")
            guard = _Guard(inflated, label=label, member=None, limits=limits,
                           consumed=raw.tell, lines=lines, owned=(buffered, raw), is_gzip=True)
        else:
            if size > limits.max_bytes:
                raise _over_bytes(label, None, size, limits, plain=True)
            guard = _Guard(raw, label=label, member=None, limits=limits, consumed=None,
                           lines=lines)
        return io.BufferedReader(guard, buffer_size=1 << 20)
    except BaseException:
        raw.close()
        raise


def read_input(path: str | Path, *, lines: bool = False, label: str | None = None,
               gz: bool | None = None) -> bytes:
    """The whole (inflated) content of a file, under the limits in force."""
    with open_input(path, lines=lines, label=label, gz=gz) as fh:
        return fh.read()


def too_many_columns(label: str, count: int, what: str = "has") -> LimitError:
    limits = current_limits()
    return LimitError(f"{label}: {what} {count:,} columns, above the limit of "
                      f"{limits.max_columns:,} (max_columns); a score table needs a few; "
                      + _raise_hint("max_columns", count))


def check_columns(path: str | Path, *, sep: str = ",", label: str | None = None) -> None:
    """Refuse a CSV/TSV whose header has more than ``max_columns`` fields, before a parser
    builds them (separators inside quotes count too: the check errs on the safe side)."""
    label = str(path) if label is None else label
    limits = current_limits()
    with open_input(path, lines=True, label=label) as fh:
        header = fh.readline(limits.max_line + 1)
    count = header.count(sep.encode()) + 1
    if count > limits.max_columns:
        raise too_many_columns(label, count, "its header has")


# ----------------------------------------------------------------------------- zip archives

@contextmanager
def open_archive(path: str | Path, *,
                 label: str | None = None) -> Iterator[tuple[zipfile.ZipFile, Budget]]:
    """A zip archive opened from a regular file, its member table checked by
    :func:`check_archive`; yields ``(archive, budget)`` for :func:`read_member`."""
    label = str(path) if label is None else label
    raw = _open_regular(Path(path), label)
    with io.BufferedReader(raw, buffer_size=1 << 16) as fh, zipfile.ZipFile(fh) as archive:
        yield archive, check_archive(archive, label)


def check_archive(archive: zipfile.ZipFile, label: str) -> Budget:
    """Check every member's declared sizes before anything is inflated.

    Returns the :class:`Budget` that :func:`read_member` counts the inflated bytes against.
    """
    limits = current_limits()
    total = packed = 0
    for info in archive.infolist():
        total += info.file_size
        packed += info.compress_size
        if info.file_size > limits.max_bytes:
            raise _over_bytes(label, info.filename, info.file_size, limits, claimed=True)
        if info.file_size > limits.ratio_floor and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _over_ratio(label, info.filename, info.file_size, info.compress_size, limits)
    if total > limits.max_bytes:
        raise _too_big(f"{label}: its {len(archive.infolist())} members declare", total,
                       limits, after=" together")
    if total > limits.ratio_floor and total > limits.max_ratio * max(packed, 1):
        # many members, each under the floor, can still add up to a bomb
        raise LimitError(f"{label}: its {len(archive.infolist())} members expand "
                         f"{total / max(packed, 1):,.0f} times together ({format_size(total)} "
                         f"from {format_size(packed)}), above the limit of "
                         f"{limits.max_ratio:g} times (max_ratio); it looks like a "
                         "decompression bomb; " + _raise_hint("max_ratio", total / max(packed, 1)))
    return Budget(label, limits)


def read_member(archive: zipfile.ZipFile, name: str, *, label: str,
                budget: Budget | None = None) -> bytes:
    """A member's bytes, counted while inflating (and against the archive's ``budget``)."""
    limits = current_limits()
    info = archive.getinfo(name)
    with archive.open(info) as member:
        guard = _Guard(member, label=label, member=name, limits=limits,
                       consumed=(lambda: info.compress_size), lines=False, budget=budget)
        with io.BufferedReader(guard, buffer_size=1 << 20) as fh:
            return fh.read()


# ----------------------------------------------------------------------------- parquet

def check_parquet(path: str | Path, *, label: str | None = None) -> None:
    """Refuse a Parquet file whose decoded columns would pass the limits.

    The decoded size is bounded below by 8 bytes per value (rows x columns from the footer),
    which dictionary and run-length encoding can make far larger than the file.
    """
    import pyarrow.parquet as pq

    label = str(path) if label is None else label
    limits = current_limits()
    with _open_regular(Path(path), label) as fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            meta = pq.ParquetFile(fh).metadata
        except Exception:  # noqa: BLE001 - not Parquet: the reader says so in its own words
            return
    if meta.num_columns > limits.max_columns:
        raise too_many_columns(label, meta.num_columns)
    decoded = meta.num_rows * max(1, meta.num_columns) * 8
    if decoded > limits.max_bytes:
        raise _too_big(f"{label}: {meta.num_rows:,} rows x {meta.num_columns} columns decode "
                       "to at least", decoded, limits)
    if decoded > limits.ratio_floor and decoded > limits.max_ratio * max(size, 1):
        raise _over_ratio(label, None, decoded, size, limits)


# ----------------------------------------------------------------------------- invalid text

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def may_hold_surrogates(text: str) -> bool:
    """Whether JSON text has a ``\\udXXX`` escape, the only way a lone UTF-16 surrogate (a
    code point that is not Unicode text and that no file can be written with) gets in."""
    return "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None


def replace_surrogates(document: object) -> tuple[object, int]:
    """``document`` (parsed JSON) with lone surrogates in its strings and keys replaced by
    U+FFFD, in place where it can be, and the number of strings changed.

    json.loads joins escaped surrogate pairs (an emoji written ``\\ud83d\\ude00``) into one
    character, so every surrogate left in a parsed string is a lone one.
    """
    changed = 0

    def clean(value: str) -> str:
        nonlocal changed
        if _SURROGATE.search(value) is None:
            return value
        changed += 1
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    if isinstance(document, str):
        return clean(document), changed
    stack = [document]
    while stack:  # iterative: a document may nest up to the parser's limit
        node = stack.pop()
        if isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str):
                    node[i] = clean(value)
                elif isinstance(value, list | dict):
                    stack.append(value)
        elif isinstance(node, dict):
            for key in list(node):
                value = node[key]
                if isinstance(value, str):
                    node[key] = clean(value)
                elif isinstance(value, list | dict):
                    stack.append(value)
                if isinstance(key, str) and _SURROGATE.search(key) is not None:
                    node[clean(key)] = node.pop(key)
    return document, changed
