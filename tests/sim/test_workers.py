"""Pool workers are deaf to Ctrl-C from their first instruction: the main process answers it."""

import multiprocessing as mp
import os
import signal

from pebble import ProcessPool

from sim.workers import ctrl_c_held, leave_ctrl_c_to_the_parent

if os.environ.setdefault("DREAMPLAN_TEST_WORKERS_PARENT", str(os.getpid())) != str(os.getpid()):
    # imported by a starting worker, as it unpickles its initializer: a terminal's Ctrl-C arriving mid-import
    os.kill(os.getpid(), signal.SIGINT)


def _init_worker() -> None:
    leave_ctrl_c_to_the_parent()


def _sigint_state() -> tuple[int, bool]:
    return os.getpid(), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_a_ctrl_c_reaching_a_starting_worker_is_dropped_and_the_worker_lives():
    # as from a terminal: a test run started in the background (`cmd &`) would pass SIGINT ignored to the workers
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    pool = ProcessPool(max_workers=1, max_tasks=1, initializer=_init_worker, context=mp.get_context("spawn"))
    try:
        with ctrl_c_held():
            first = pool.schedule(_sigint_state)
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before  # the main process hears Ctrl-C again
        second = pool.schedule(_sigint_state)  # max_tasks=1: a replacement worker, started by the pool's own thread
        (pid1, blocked1), (pid2, blocked2) = first.result(timeout=30), second.result(timeout=30)
    finally:
        pool.stop()
        pool.join()
        signal.signal(signal.SIGINT, handler)
    assert pid1 != pid2
    assert not blocked1 and not blocked2  # unblocked again once SIGINT is ignored
