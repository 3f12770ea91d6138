"""A fixed pool of long-lived worker threads that own per-thread connections.

The log keeps one connection per thread (:class:`qprov.tlog.Log` is not
thread-safe, and a SQLite connection may only be closed by the thread that
opened it). anyio's worker threads come and go, which would leak those
connections; these threads live as long as the application, and each runs
the ``on_exit`` callbacks itself before it stops.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["WorkerPool"]

logger = logging.getLogger("qprov.gateway")
T = TypeVar("T")
_STOP = object()


class WorkerPool:
    """``size`` threads taking work from one queue; :meth:`run` awaits a call's result."""

    def __init__(self, name: str, size: int, *, on_exit: Sequence[Callable[[], None]] = ()) -> None:
        self.name = name
        self.size = size
        self._on_exit = tuple(on_exit)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopped = False

    def _start(self) -> None:
        with self._lock:
            if self._threads or self._stopped:
                return
            for i in range(self.size):
                thread = threading.Thread(
                    target=self._work, name=f"qprov-{self.name}-{i}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                fn, future, loop = item
                if future.cancelled():
                    continue
                try:
                    result = fn()
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                    loop.call_soon_threadsafe(_set_exception, future, exc)
                else:
                    loop.call_soon_threadsafe(_set_result, future, result)
        finally:
            for callback in self._on_exit:
                try:
                    callback()
                except Exception:  # cleanup must reach every callback
                    logger.exception("worker %s: cleanup failed", threading.current_thread().name)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a pool thread; waits for a free thread (bounded concurrency)."""
        if self._stopped:
            raise RuntimeError(f"worker pool {self.name} is stopped")
        self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return await future

    def stop(self, timeout: float = 30.0) -> None:
        """Let queued work finish, then stop every thread (each runs ``on_exit``)."""
        with self._lock:
            self._stopped = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
