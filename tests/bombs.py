"""Generated hostile inputs: decompression bombs, deep nesting, long lines.

The bombs are built without inflating them: a deflate stream of ``n`` identical 1 MiB blocks,
each ended by a full flush (which forgets the window), so every block after the first
compresses to the same bytes and ``n`` MiB of content costs ``n`` copies of about 1 KiB.
Their CRC-32 is computed only with ``crc=True`` (seconds per GiB): riskbench must refuse a
bomb long before its end, where the CRC would be checked.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MiB = 1 << 20


def _deflate(block: bytes, n: int, crc: bool = False) -> tuple[bytes, int]:
    """Raw deflate of ``block * n`` (and its CRC-32, or 0), in O(len(block)) compression."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    middle = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    assert again == middle  # the flush forgot the history: blocks repeat exactly
    last = c.compress(block) + c.flush(zlib.Z_FINISH)
    stream = first + middle * max(0, n - 2) + (last if n > 1 else b"")
    if n == 1:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        stream = c.compress(block) + c.flush()
    value = 0
    for _ in range(n if crc else 0):
        value = zlib.crc32(block, value)
    return stream, value


def _block(pattern: bytes, size: int = MiB) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


def gzip_bomb(path: Path, *, mib: int, pattern: bytes = b"a", head: bytes = b"",
              crc: bool = False) -> Path:
    """A .gz file inflating to ``head`` + ``mib`` MiB of ``pattern`` repeated."""
    block = _block(pattern, MiB - MiB % len(pattern))
    stream, value = _deflate(block, mib, crc)
    if head:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        stream = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH) + stream
        value = 0
    size = len(head) + len(block) * mib
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream
                     + struct.pack("<II", value, size & 0xFFFFFFFF))
    return path


def zip_bomb(path: Path, members: dict[str, bytes], *, bomb: str | list[str], mib: int,
             pattern: bytes = b" ", prefix: bytes = b"", declared: int | None = None) -> Path:
    """A zip archive: ordinary ``members`` (deflated) plus a member ``bomb`` (or one per name
    of a list) inflating to ``prefix`` + ``mib`` MiB of ``pattern``. ``declared`` makes its
    header claim another uncompressed size (a lying header). Sizes stay below 4 GiB (no
    zip64 needed)."""
    entries = []
    body = bytearray()
    bombs = [bomb] if isinstance(bomb, str) else list(bomb)
    for name, data in [*members.items(), *((b, None) for b in bombs)]:
        if data is None:
            block = _block(pattern)
            stream, crc = _deflate(block, mib)
            if prefix:  # a prefix block in front: deflate it separately, then the repeats
                c = zlib.compressobj(9, zlib.DEFLATED, -15)
                stream = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH) + stream
            size = len(prefix) + len(block) * mib
        else:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            stream = c.compress(data) + c.flush()
            crc, size = zlib.crc32(data), len(data)
        if data is None and declared is not None:
            size = declared
        raw_name = name.encode()
        offset = len(body)
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream),
                            size, len(raw_name), 0) + raw_name + stream
        entries.append((raw_name, crc, len(stream), size, offset))
    central = bytearray()
    for raw_name, crc, csize, size, offset in entries:
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc,
                               csize, size, len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(body), 0)
    path.write_bytes(bytes(body) + bytes(central) + end)
    return path


def deep_json(depth: int, inner: str = "1") -> str:
    """``depth`` nested arrays around ``inner``."""
    return "[" * depth + inner + "]" * depth
