"""Per-text measurements at scale: each distinct text measured once, on every core.

The heuristic annotator and the offline scenario rules are functions of one text.
A preference dataset repeats texts (a baseline answering every question, a prompt
answered by four models), and at a million pairs its texts do not fit in memory.
:class:`TextMeasures` takes the texts a batch at a time and keeps, per distinct
text, only a 128-bit hash and the values (a small integer row): memory grows
with the number of distinct texts by tens of bytes each, never by their length.

New texts are measured in-process while they are few; once more than
``parallel_from`` have been seen, the rest go to a pool of worker processes (one
per available core by default), batches in flight while the next ones are read.
The function is called once per distinct text, in a worker or here, so a change
to it (say, how words are counted) flows through unchanged. Results do not depend
on the number of workers. Workers start as fresh processes (fork server, or
spawn), so a script that annotates many texts keeps its top-level code under
``if __name__ == "__main__":``, as Python's multiprocessing requires.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

PARALLEL_FROM = 20_000
"""Distinct texts measured in-process before a worker pool is started."""
CHUNK = 4_096
"""Texts per task sent to a worker."""
_KEYS = ("prefdissect:key1", "prefdissect:key2")  # two SipHash keys: a 128-bit hash


def available_cores() -> int:
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def text_keys(texts: Sequence[str]) -> list[int]:
    """Return a 128-bit hash of each text (two keyed 64-bit SipHashes), as Python ints."""
    values = np.asarray(texts, dtype=object)
    high, low = (pd.util.hash_array(values, hash_key=key, categorize=False)
                 for key in _KEYS)
    return [(int(h) << 64) | int(lo) for h, lo in zip(high.tolist(), low.tolist())]


def _apply(function: Callable[[str], Sequence], texts: list[str], width: int,
           dtype: str) -> np.ndarray:
    """Measure texts (in a worker process): one row of values per text."""
    out = np.empty((len(texts), width), dtype=dtype)
    for i, text in enumerate(texts):
        out[i] = function(text)
    # texts arrive here once each, so a cache of the function (measure keeps one) only
    # holds memory: up to tens of thousands of long responses per process
    getattr(function, "cache_clear", lambda: None)()
    return out


def _context():
    """Return the start method for workers: a clean process, never a copy of this one.

    A fork would copy this process (its memory, and any thread pool mid-lock). As
    with every such start method, a script that reaches the pool must keep its
    top-level work under ``if __name__ == "__main__":`` (notebooks need nothing).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("forkserver")


class TextMeasures:
    """Values of a function of one text, each distinct text measured once.

    Parameters
    ----------
    function
        A module-level function (workers import it by name) taking one text and
        returning ``width`` numbers.
    width
        Number of values per text.
    dtype
        NumPy type of the values.
    workers
        Worker processes (None: one per available core; 1: never start a pool).
    parallel_from
        Distinct texts measured in-process before a pool is started (default
        :data:`PARALLEL_FROM`).
    """

    def __init__(self, function: Callable[[str], Sequence], width: int, dtype: str = "int64",
                 workers: int | None = None, parallel_from: int | None = None):
        self.function, self.width, self.dtype = function, width, dtype
        self.workers = available_cores() if workers is None else max(1, int(workers))
        self.parallel_from = PARALLEL_FROM if parallel_from is None else parallel_from
        self._index: dict[int, int] = {}
        self._values = np.empty((1024, width), dtype=dtype)
        self._pool: ProcessPoolExecutor | None = None
        self.measured = 0
        """Distinct texts measured so far."""

    def __len__(self) -> int:
        return len(self._index)

    def _store(self, keys: list[int], values: np.ndarray) -> None:
        start = len(self._index)
        need = start + len(keys)
        if need > len(self._values):
            grown = np.empty((max(need, 2 * len(self._values)), self.width), self.dtype)
            grown[:start] = self._values[:start]
            self._values = grown
        self._values[start:need] = values
        self._index.update(zip(keys, range(start, need)))
        self.measured += len(keys)

    def _lookup(self, keys: list[int]) -> np.ndarray:
        index = self._index
        rows = np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))
        return self._values[rows]

    def _submit(self, texts: list[str]) -> list[Future] | np.ndarray:
        """Measure texts here, or hand them to the pool once there are many."""
        if self.workers > 1 and self._pool is None and \
                self.measured + len(texts) > self.parallel_from:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=_context())
        if self._pool is None:
            return _apply(self.function, texts, self.width, self.dtype)
        return [self._pool.submit(_apply, self.function, texts[i:i + CHUNK], self.width,
                                  self.dtype) for i in range(0, len(texts), CHUNK)]

    def measure_batches(self, batches: Iterable[tuple[Any, Sequence[str]]]
                        ) -> Iterator[tuple[Any, np.ndarray]]:
        """Yield ``(payload, values)`` for each ``(payload, texts)``, in order.

        ``values`` has one row per text of the batch. Up to ``2 * workers``
        batches are in flight at a time, so memory holds only those batches' texts.
        """
        pending: deque = deque()
        waiting: set[int] = set()  # keys handed out, values not stored yet
        try:
            for payload, texts in batches:
                keys = text_keys(texts)
                new: dict[int, str] = {}
                for key, text in zip(keys, texts):
                    if key not in self._index and key not in waiting and key not in new:
                        new[key] = text
                waiting.update(new)
                pending.append((payload, keys, list(new), self._submit(list(new.values()))))
                while len(pending) > (2 * self.workers if self._pool else 0):
                    yield self._finish(pending.popleft(), waiting)
            while pending:
                yield self._finish(pending.popleft(), waiting)
        finally:
            self.close()

    def _finish(self, item, waiting: set[int]) -> tuple[Any, np.ndarray]:
        payload, keys, new, work = item
        if isinstance(work, list):
            parts = [future.result() for future in work]
            work = np.concatenate(parts) if parts else np.empty((0, self.width), self.dtype)
        self._store(new, work)
        waiting.difference_update(new)
        return payload, self._lookup(keys)

    def close(self) -> None:
        """Stop the worker pool, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
