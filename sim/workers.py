"""Worker processes that die with the process that started them, and a pool shut down without stray tracebacks.

A pool's workers outlive a parent that is SIGKILLed (or OOM-killed): they keep writing shards or episodes into a
folder that an immediate re-run of the same command is writing too. Called first in a worker's initializer,
`die_with_parent` has the kernel SIGKILL the worker as soon as its parent dies (Linux; elsewhere it does nothing).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PEBBLE_WORKER = "pebble_pool_worker"  # the name pebble gives its worker processes (pebble.pool.process.WORKERS_NAME)


def die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before prctl: nobody will signal us
        os.kill(os.getpid(), signal.SIGKILL)


def leave_ctrl_c_to_the_parent() -> None:
    """Ctrl-C in a terminal reaches the whole process group. The main process answers it: it stops the pool and keeps
    what is finished. A worker that took it too could be mid-import (building its agents) and print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_pool(pool) -> None:
    """Stop a pebble ProcessPool (its tasks done, or given up), its workers first. pebble's own join() removes the
    pool's semaphores before it stops the workers: a worker still starting then (one that replaced a dead worker)
    fails on them and prints a traceback, after a job that went well. (Every pebble worker of this process is
    stopped: one pool at a time.)"""
    pool.stop()
    time.sleep(0.3)  # pebble's manager loop notices within its 0.1 s tick; a worker it starts until then is seen below
    for worker in multiprocessing.active_children():
        if worker.name == PEBBLE_WORKER:
            worker.terminate()
    pool.join()
