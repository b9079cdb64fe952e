"""Run the riskbench CLI and report its peak resident memory: ``python tests/peak_rss.py OUT
ARGS...`` writes the peak in bytes to OUT and exits with the command's status.

The peak is VmHWM of /proc/self/status, the high-water mark of this process's own address
space. ru_maxrss would not do: Linux carries the pre-exec high-water mark over an execve, so
a child forked (or vforked) from a large pytest process reports the parent's size.
"""

import sys
from pathlib import Path


def peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    out, args = sys.argv[1], sys.argv[2:]
    from riskbench.cli import main

    try:
        main(args, prog_name="riskbench")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    Path(out).write_text(str(peak()))
    sys.exit(code)
