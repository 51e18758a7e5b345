"""The exchange log: every LLM request and its outcome, in SQLite, doubling as the cache.

One row per distinct request (its key is a hash of the request's canonical JSON)
holds the latest outcome: the response JSON, model, token usage, cost, latency
and any error. A separate table logs every attempt, retries included. Only rows
with status ``ok`` count as cached, so a re-run retries exactly the failures.
Each outcome is committed as soon as it arrives (WAL mode): killing the process
loses only the calls in flight. The schema changes only through the numbered
:data:`MIGRATIONS`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
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
        );
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            started TEXT NOT NULL,
            latency_s REAL,
            outcome TEXT NOT NULL,
            http_status INTEGER,
            error TEXT
        );
        CREATE INDEX attempts_key ON attempts(key);
    """),
]
"""Schema versions in order; a database is brought up to the last one on open."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Exchange:
    """The stored outcome of one request."""

    key: str
    """Hash of the request's canonical JSON."""
    status: str
    """'ok' or 'error'."""
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
    """The SQLite file holding every exchange; safe to use from several threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in MIGRATIONS:
            if number > version:
                with self._lock:
                    self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; "
                                           "COMMIT;")

    @property
    def version(self) -> int:
        """The schema version of the open database."""
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def get(self, key: str) -> Exchange | None:
        """Return the successful exchange stored under ``key``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT response, prompt_tokens, completion_tokens, cost, latency_s "
                "FROM exchanges WHERE key = ? AND status = 'ok'", (key,)).fetchone()
        if row is None:
            return None
        return Exchange(key, "ok", json.loads(row[0]), None, row[1], row[2], row[3], row[4],
                        cached=True)

    def cached_keys(self, keys: list[str]) -> set[str]:
        """Return which of ``keys`` have a successful exchange stored."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(k for (k,) in self._db.execute(
                    f"SELECT key FROM exchanges WHERE status = 'ok' AND key IN ({marks})",
                    chunk))
        return found

    def put(self, key: str, endpoint: str, request: dict[str, Any], outcome: Exchange,
            attempts: int, source: str = "live") -> None:
        """Store (or replace) the outcome of a request and commit at once."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO exchanges VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, endpoint, request.get("model"), json.dumps(request, ensure_ascii=False),
                 None if outcome.response is None else json.dumps(outcome.response,
                                                                  ensure_ascii=False),
                 outcome.status, outcome.error, outcome.prompt_tokens,
                 outcome.completion_tokens, outcome.cost, outcome.latency_s, attempts, source,
                 _now()))

    def log_attempt(self, key: str, started: str, latency_s: float, outcome: str,
                    http_status: int | None = None, error: str | None = None) -> None:
        """Record one attempt (successful or not) at a request."""
        with self._lock:
            self._db.execute("INSERT INTO attempts (key, started, latency_s, outcome, "
                             "http_status, error) VALUES (?,?,?,?,?,?)",
                             (key, started, latency_s, outcome, http_status, error))

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
