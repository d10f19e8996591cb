"""Each worker's usage counts, kept in memory and written to the store in batches.

Per request, counting is one dictionary increment under a lock (microseconds: the API is
benchmarked at about a millisecond per request). The counts reach the store:

* every ``GEOCOMMUNE_USAGE_FLUSH`` seconds, from a daemon timer thread started in the
  worker at its first count — a thread, rather than a flush piggy-backed on the request
  path, so that no request pays for a database write and an idle worker's last counts
  are not left waiting for its next request;
* at each request when the interval is 0 (write-through: exact at once, slower);
* before ``/stats`` answers (the answering worker's own counts);
* when the worker exits: ``flush_at_process_exit`` (called by ``server/wsgi.py`` in each
  granian worker) and ``atexit`` (any other process) call ``flush_all``. A worker killed
  outright (SIGKILL, or after the server's graceful stop delay) loses at most one interval
  of counts.

A write that fails (database away, file locked too long) loses nothing: the batch goes
back into the buffer and is offered again at the next flush; the failure is logged once,
and once more when writing works again. The requests themselves never see it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Callable

from layers.store.usage import UsageKey, UsageStore

LOGGER = logging.getLogger("geocommune.usage")

_BUFFERS: "weakref.WeakSet[UsageBuffer]" = weakref.WeakSet()


class UsageBuffer:
    def __init__(self, open_usage: Callable[[], UsageStore], interval: float) -> None:
        self._open_usage = open_usage
        self.interval = max(0.0, float(interval))
        self._usage: UsageStore | None = None
        self._reset()
        _BUFFERS.add(self)

    def _reset(self) -> None:
        """A fresh state for this process (also after a fork: the parent's counts, locks
        and timer thread are the parent's)."""
        self._pid = os.getpid()
        self._counts: dict[UsageKey, int] = {}
        self._lock = threading.Lock()  # guards _counts (held for an increment or a swap)
        self._flush_lock = threading.Lock()  # one batch written at a time
        self._timer: threading.Thread | None = None
        self._stopped = threading.Event()
        self._failing = False
        self._usage = None  # opened in the process that writes (lazily)

    def _check_process(self) -> None:
        if self._pid != os.getpid():
            self._reset()

    @property
    def usage(self) -> UsageStore:
        if self._usage is None:
            self._usage = self._open_usage()
        return self._usage

    # -- the request path -------------------------------------------------------------------
    def add(self, key: UsageKey, n: int = 1) -> None:
        self._check_process()
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n
        if self.interval <= 0:
            self.flush()
        elif self._timer is None:
            self._start_timer()

    def pending(self) -> dict[UsageKey, int]:
        """The counts not written yet (a copy)."""
        self._check_process()
        with self._lock:
            return dict(self._counts)

    # -- writing ------------------------------------------------------------------------------
    def _start_timer(self) -> None:
        with self._lock:
            if self._timer is not None:
                return
            timer = threading.Thread(target=self._run_timer, name="geocommune-usage", daemon=True)
            self._timer = timer
        timer.start()

    def _run_timer(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 — the timer must outlive any bug in one flush
                LOGGER.exception("fréquentation : écriture des compteurs impossible")

    def flush(self) -> bool:
        """Write the pending counts; ``False`` if they could not be (they are kept)."""
        self._check_process()
        with self._flush_lock:
            with self._lock:
                batch, self._counts = self._counts, {}
            if not batch:
                return True
            try:
                self.usage.add(batch)
            except Exception as exc:  # noqa: BLE001 — any failure: keep the counts, say it once
                with self._lock:
                    for key, n in batch.items():
                        self._counts[key] = self._counts.get(key, 0) + n
                if not self._failing:
                    self._failing = True
                    LOGGER.warning("fréquentation : compteurs gardés en mémoire, écriture impossible (%s)", exc)
                return False
            if self._failing:
                self._failing = False
                LOGGER.warning("fréquentation : écriture des compteurs rétablie")
            return True

    def stop(self) -> None:
        """Stop the timer (tests; a worker's exit needs only ``flush``)."""
        self._stopped.set()


def flush_all() -> None:
    """Write every buffer of this process (at its exit, see ``flush_at_process_exit``)."""
    for buffer in list(_BUFFERS):
        if buffer._pid != os.getpid():
            continue  # inherited through fork: the parent's counts, not ours to write
        if not buffer.flush():
            lost = sum(buffer.pending().values())
            LOGGER.warning("fréquentation : %d requête(s) non comptée(s) à l'arrêt (stockage injoignable)", lost)


def flush_at_process_exit() -> None:
    """Write this process's last counts when it ends, in a process started by
    ``multiprocessing`` too (granian's workers): such a process leaves through ``os._exit``
    once its target returns, which skips ``atexit`` but runs multiprocessing's own exit
    finalizers. Call it in the process itself (a fork does not inherit the finalizers)."""
    from multiprocessing import util

    util.Finalize(None, flush_all, exitpriority=10)


atexit.register(flush_all)
