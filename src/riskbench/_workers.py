"""Worker processes that die with their parent.

A ``ProcessPoolExecutor`` worker outlives a parent killed by SIGKILL: it finishes the tasks
already queued to it (minutes of scoring) before it notices. :func:`worker_pool` gives pools
whose workers

1. ask the kernel to SIGKILL them when the parent dies (``PR_SET_PDEATHSIG`` on Linux);
2. watch their parent from a thread as well (every 0.2 s: reparented, or the parent gone),
   which covers other systems and a parent that died before the request above;
3. ignore SIGINT and SIGTERM: a terminal's ^C (or a service manager's SIGTERM) reaches the
   whole process group, and the parent decides (it kills them, see 4);
4. are killed by the parent when the ``with`` block ends by an error, ^C or SIGTERM, instead
   of being waited for (their results would be thrown away anyway).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

__all__ = ["worker_pool"]

_PR_SET_PDEATHSIG = 1
_POLL = 0.2  # seconds between two looks at the parent


def _parent_gone(parent: int, ppid: int) -> bool:
    if os.getppid() != ppid:  # reparented: the process that started us has exited
        return True
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else: the pid was reused
        return True
    return False


def _watch(parent: int, ppid: int) -> None:
    while not _parent_gone(parent, ppid):
        time.sleep(_POLL)
    os._exit(1)


def _init_worker(parent: int) -> None:
    """Initializer of every worker: tie its life to the parent's (see the module notes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watcher thread still works
            pass
    ppid = os.getppid()  # the parent, or a forkserver that exits with it
    if ppid == 1 or _parent_gone(parent, ppid):
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, ppid), daemon=True,
                     name="riskbench-parent-watch").start()


def _kill(pool: ProcessPoolExecutor) -> None:
    # _processes is private, but the only handle on the workers; stable since Python 3.2
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError):  # already gone or closed
            pass
    for process in processes:
        process.join(timeout=1.0)


@contextmanager
def worker_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A process pool of ``jobs`` workers that die with the parent (see the module notes).

    On leaving the block normally, the pool is shut down and waited for; on any exception
    (``KeyboardInterrupt`` and the CLI's SIGTERM included) its workers are killed at once.
    """
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                               initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        _kill(pool)
        raise
    pool.shutdown(wait=True)
