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
from contextlib import contextmanager
from multiprocessing import resource_tracker

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


@contextmanager
def ctrl_c_held():
    """Start a pool inside this: its threads, and the workers they spawn, begin with SIGINT blocked (a blocked signal
    stays blocked across fork and exec). A worker is then deaf to Ctrl-C from its first instruction, through the
    imports that unpickling its initializer runs, until `leave_ctrl_c_to_the_parent`. Here a Ctrl-C waits until the
    block ends, then interrupts as usual."""
    # Starting multiprocessing's resource tracker unblocks SIGINT in the thread that starts it (CPython bpo-33613's
    # fix unblocks rather than restores), and the first spawned worker would start it: start it first.
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def leave_ctrl_c_to_the_parent() -> None:
    """Ctrl-C in a terminal reaches the whole process group. The main process answers it: it stops the pool and keeps
    what is finished. A worker that took it too could be mid-import (building its agents) and print a traceback.
    Ignoring SIGINT drops one already held (`ctrl_c_held`) before the worker stops blocking it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


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
