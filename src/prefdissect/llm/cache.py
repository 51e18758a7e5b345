"""The exchange log: every LLM request and its outcome, in SQLite, doubling as the cache.

One row per distinct request (its key is a hash of the request's canonical JSON)
holds the latest outcome: the response JSON, model, token usage, cost, latency
and any error. A separate table logs every attempt, retries included. Only rows
with status ``ok`` whose response holds an answer count as cached (the answer is
re-checked on every read, see :mod:`.answers`), so a re-run retries exactly the
failures. An ``ok`` row is never replaced: a later error, or another process's
answer to the same request, leaves it as it is.

A well-formed answer can still be useless to the step that asked (no JSON where
JSON was asked for, no verdict, no grade, cut off at ``max_tokens``). That step
calls :meth:`ExchangeLog.reject`: the row's status becomes ``rejected`` (no
longer a cache hit, so the next run asks again, up to a bound the client
keeps), and the answer is copied to the ``rejections`` table for audit. A
rejection marked ``final`` is one that asking the same request again cannot
cure (an answer cut off at its token cap); the client does not send it again.

Each outcome is committed as soon as it arrives (WAL mode): killing the process
loses only the calls in flight. Several processes may share one log: writes wait
for each other (a busy timeout), the schema is brought up to date inside one
``BEGIN IMMEDIATE`` transaction, and :meth:`ExchangeLog.claim` lets one process
ask a request while the others wait for its answer instead of paying for it
again. The schema changes only through the numbered :data:`MIGRATIONS`.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .answers import USABLE_SQL, unusable

BUSY_TIMEOUT = 60.0
"""Seconds a write waits for another process's write before giving up."""

MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (1, ("""
        CREATE TABLE exchanges (
            key TEXT PRIMARY KEY,
            endpoint TEXT NOT NULL,
            model TEXT,
            request TEXT NOT NULL,
            response TEXT,
            status TEXT NOT NULL,
            error TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            cost REAL,
            latency_s REAL,
            attempts INTEGER,
            source TEXT,
            updated TEXT NOT NULL
        )""", """
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            started TEXT NOT NULL,
            latency_s REAL,
            outcome TEXT NOT NULL,
            http_status INTEGER,
            error TEXT
        )""",
        "CREATE INDEX attempts_key ON attempts(key)")),
    # 2: answers without an answer text (an empty 'choices', a message without content)
    # were stored as 'ok' by version 1 and never asked again; mark them as errors so
    # that they are, and add the claims that let processes share one log.
    (2, (f"""
        UPDATE exchanges SET status = 'error',
            error = 'unusable answer stored by an earlier version (no answer text); '
                    || 'it is asked again'
        WHERE status = 'ok' AND NOT {USABLE_SQL}""", """
        CREATE TABLE claims (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            until REAL NOT NULL
        )""")),
    # 3: answers the step that asked could not use, kept for audit; the exchanges row of
    # such a request is marked 'rejected' (not 'ok', so not a cache hit).
    (3, ("""
        CREATE TABLE rejections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            response TEXT,
            reason TEXT NOT NULL,
            final INTEGER NOT NULL,
            rejected TEXT NOT NULL
        )""", "CREATE INDEX rejections_key ON rejections(key)")),
]
"""Schema versions in order, each a list of SQL statements; a database is brought up
to the last one on open."""
LATEST = MIGRATIONS[-1][0]
HOST = socket.gethostname()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Exchange:
    """The stored outcome of one request."""

    key: str
    """Hash of the request's canonical JSON."""
    status: str
    """'ok' or 'error' ('rejected' in the log: answered, but unusable to its step)."""
    response: dict[str, Any] | None
    """The response JSON, when ok."""
    error: str | None
    """What went wrong, when not ok."""
    prompt_tokens: int | None = None
    """Prompt tokens the server reported."""
    completion_tokens: int | None = None
    """Completion tokens the server reported."""
    cost: float | None = None
    """Cost from the price table, if the model has a price."""
    latency_s: float | None = None
    """Seconds the successful attempt took."""
    cached: bool = False
    """True when served from the log instead of the network."""


class ExchangeLog:
    """The SQLite file holding every exchange; safe from several threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=BUSY_TIMEOUT)
        try:
            self._wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise UsageError(f"{self.path} is not a usable exchange log ({exc}); move it "
                             "away to start a new one") from None

    def _wal(self) -> None:
        """Switch to WAL mode; SQLite answers 'locked' here without waiting, so retry."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02 + 0.05 * random.random())

    def _migrate(self) -> None:
        if self.version >= LATEST:
            if self.version > LATEST:
                raise UsageError(f"{self.path} was written by a newer prefdissect (log "
                                 f"version {self.version}, this one knows {LATEST}); upgrade")
            return
        with self._lock:
            # BEGIN IMMEDIATE takes the write lock first, so two processes opening a new
            # log cannot both see version 0 and both create the tables.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                for number, statements in MIGRATIONS:
                    if number > version:
                        for statement in statements:
                            self._db.execute(statement)
                        self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @property
    def version(self) -> int:
        """The schema version of the open database."""
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def get(self, key: str) -> Exchange | None:
        """Return the successful exchange stored under ``key``, if it holds an answer."""
        with self._lock:
            row = self._db.execute(
                "SELECT response, prompt_tokens, completion_tokens, cost, latency_s "
                f"FROM exchanges WHERE key = ? AND status = 'ok' AND {USABLE_SQL}",
                (key,)).fetchone()
        if row is None:
            return None
        return Exchange(key, "ok", json.loads(row[0]), None, row[1], row[2], row[3], row[4],
                        cached=True)

    def cached_keys(self, keys: list[str]) -> set[str]:
        """Return which of ``keys`` have a successful exchange (with an answer) stored."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(k for (k,) in self._db.execute(
                    f"SELECT key FROM exchanges WHERE status = 'ok' AND {USABLE_SQL} "
                    f"AND key IN ({marks})", chunk))
        return found

    def put(self, key: str, endpoint: str, request: dict[str, Any], outcome: Exchange,
            attempts: int, source: str = "live") -> bool:
        """Store the outcome of a request and commit at once; never replace an ``ok``.

        An ``ok`` outcome whose response holds no answer is stored as an error.
        Returns whether the row was written (False: an ``ok`` was already there).
        """
        status, error = outcome.status, outcome.error
        if status == "ok":
            problem = unusable(endpoint, outcome.response)
            if problem:
                status, error = "error", f"unusable answer: {problem}"
        try:  # the log's JSON checks refuse NaN and infinities: never store them as text
            response = (None if outcome.response is None
                        else json.dumps(outcome.response, ensure_ascii=False, allow_nan=False))
        except ValueError:
            status, error, response = "error", "unusable answer: a number that is not finite", None
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO exchanges VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET endpoint = excluded.endpoint, "
                "model = excluded.model, request = excluded.request, "
                "response = excluded.response, status = excluded.status, "
                "error = excluded.error, prompt_tokens = excluded.prompt_tokens, "
                "completion_tokens = excluded.completion_tokens, cost = excluded.cost, "
                "latency_s = excluded.latency_s, attempts = excluded.attempts, "
                "source = excluded.source, updated = excluded.updated "
                "WHERE exchanges.status != 'ok'",
                (key, endpoint, request.get("model"), json.dumps(request, ensure_ascii=False),
                 response, status, error, outcome.prompt_tokens,
                 outcome.completion_tokens, outcome.cost, outcome.latency_s, attempts, source,
                 _now()))
            return cursor.rowcount > 0

    def reject(self, key: str, reason: str, final: bool = False) -> int:
        """Mark the ``ok`` answer stored under ``key`` as unusable; return its rejections.

        The answer is copied to the ``rejections`` table with ``reason``, and the
        row's status becomes ``rejected``, so it is no longer a cache hit and a
        later run asks again (a ``final`` rejection says that asking the same request
        again cannot help). A row that is not ``ok`` is left as it is.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                moved = self._db.execute(
                    "INSERT INTO rejections (key, response, reason, final, rejected) "
                    "SELECT key, response, ?, ?, ? FROM exchanges "
                    "WHERE key = ? AND status = 'ok'",
                    (reason, int(final), _now(), key)).rowcount
                if moved:
                    self._db.execute("UPDATE exchanges SET status = 'rejected', error = ?, "
                                     "updated = ? WHERE key = ?", (reason, _now(), key))
                count = self._db.execute("SELECT count(*) FROM rejections WHERE key = ?",
                                         (key,)).fetchone()[0]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return count

    def rejections(self, keys: list[str]) -> dict[str, tuple[int, bool, str]]:
        """Per key still marked ``rejected``: (times rejected, any final, last reason)."""
        found: dict[str, tuple[int, bool, str]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, count, final, reason in self._db.execute(
                        "SELECT r.key, count(*), max(r.final), "
                        "(SELECT reason FROM rejections WHERE key = r.key ORDER BY id DESC "
                        "LIMIT 1) FROM rejections r JOIN exchanges e ON e.key = r.key "
                        f"WHERE e.status = 'rejected' AND r.key IN ({marks}) GROUP BY r.key",
                        chunk):
                    found[key] = (count, bool(final), reason)
        return found

    def log_attempt(self, key: str, started: str, latency_s: float, outcome: str,
                    http_status: int | None = None, error: str | None = None) -> None:
        """Record one attempt (successful or not) at a request."""
        with self._lock:
            self._db.execute("INSERT INTO attempts (key, started, latency_s, outcome, "
                             "http_status, error) VALUES (?,?,?,?,?,?)",
                             (key, started, latency_s, outcome, http_status, error))

    # -- sharing one log between processes -----------------------------------------------
    def claim(self, key: str, owner: str, lease: float) -> bool:
        """Take (or renew) the right to ask ``key`` for ``lease`` seconds.

        Returns False while another owner holds a live claim: that process is asking
        the same request, and its answer will appear in the log. A claim lapses when
        its lease runs out or its process (on this host) has ended, so a killed run
        never blocks the next one.
        """
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT owner, host, pid, until FROM claims "
                                       "WHERE key = ?", (key,)).fetchone()
                if row is not None and row[0] != owner and row[3] > now and _alive(*row[1:3]):
                    self._db.execute("COMMIT")
                    return False
                self._db.execute("INSERT OR REPLACE INTO claims VALUES (?,?,?,?,?)",
                                 (key, owner, HOST, os.getpid(), now + lease))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return True

    def release(self, key: str, owner: str) -> None:
        """Give up a claim taken with :meth:`claim`."""
        with self._lock:
            self._db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def totals(self, keys: list[str] | None = None) -> dict[str, Any]:
        """Sum usage and cost over ``keys`` (or over every exchange)."""
        sql = "SELECT status, prompt_tokens, completion_tokens, cost FROM exchanges"
        with self._lock:
            if keys is None:
                rows = self._db.execute(sql).fetchall()
            else:
                rows = []
                for start in range(0, len(keys), 500):
                    chunk = keys[start:start + 500]
                    rows += self._db.execute(
                        f"{sql} WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        costs = [r[3] for r in rows if r[3] is not None]
        return {"exchanges": len(rows), "ok": sum(r[0] == "ok" for r in rows),
                "prompt_tokens": sum(r[1] or 0 for r in rows),
                "completion_tokens": sum(r[2] or 0 for r in rows),
                "cost": sum(costs) if costs else None}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _alive(host: str, pid: int) -> bool:
    """Whether the process that took a claim may still be running."""
    if host != HOST:
        return True  # another machine: trust the lease
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
