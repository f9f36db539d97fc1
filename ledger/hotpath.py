"""Hot statements: compiled by SQLAlchemy once per dialect, run on the SQLite driver's cursor.

A reserve + capture pair is nine statements and two commits. On SQLite the database work for one
statement costs 3 to 10 µs, and SQLAlchemy's per-execution machinery (execution context, result
object, row wrapping) 15 to 35 µs more: most of the pair's time. For the ledger's hot statements
only, this module keeps everything SQLAlchemy is for — the SQL (compiled from the Core
statements in ``ledger/``), the type conversions (each bind's and column's own processors), the
connection, its transaction and the exception types — and skips that per-execution layer: the
compiled SQL runs on the connection's DBAPI cursor.

Everything else, and every statement on PostgreSQL (where a statement's cost is the network
round trip, not Python), goes through ``Connection.execute`` as usual. The test suite runs on both
backends, so both paths are exercised by every test.
"""

from __future__ import annotations

import operator
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

Processor = Callable[[Any], Any]
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]

# Off by default: looking up the engine's cursor-event listeners on every statement costs about 5 %
# of a reserve + capture. Switch on to let SQL logging, tracing or the benchmark's statement capture
# see the hot statements on SQLite (PostgreSQL's always go through SQLAlchemy's events).
_trace_cursor_events = False


def trace_cursor_events(enabled: bool) -> None:
    """Fire ``before/after_cursor_execute`` for hot statements on SQLite too."""
    global _trace_cursor_events
    _trace_cursor_events = enabled


# The same ``now`` is bound several times in one transaction; converting it once is enough. One
# (value, processor, result) tuple, replaced whole, so threads never see a torn entry.
_last_conversion: tuple[Any, Any, Any] = (None, None, None)


class _SqlitePlan:
    """One statement compiled for SQLite: its SQL, parameter order, constants and processors."""

    def __init__(self, statement: Any, dialect: Dialect, column_keys: Sequence[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        binds = compiled.binds
        self.sql: str = compiled.string
        self.names: list[str] = list(compiled.positiontup or ())
        # Literals in the statement (``status = 'pending'``) are binds with a fixed value.
        self.constants = {n: binds[n].value for n in self.names if not binds[n].required}
        # The parameters in SQL order, as a tuple even for one (``itemgetter`` is C-fast).
        self.pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            operator.itemgetter(*self.names)
            if len(self.names) > 1
            else lambda given: tuple(given[n] for n in self.names)
        )
        self.bind_processors: list[tuple[int, Processor]] = [
            (i, processor)
            for i, name in enumerate(self.names)
            if (processor := binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            is not None
        ]
        columns = list(
            statement.selected_columns
            if isinstance(statement, sa.Select)
            else getattr(statement, "exported_columns", ())
        )
        self.row: Any = namedtuple("HotRow", [c.key for c in columns], rename=True)  # type: ignore[misc]
        self.result_processors: list[tuple[int, Processor]] = [
            (i, processor)
            for i, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        ]

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        values = list(self.pick({**self.constants, **given} if self.constants else given))
        global _last_conversion
        for index, processor in self.bind_processors:
            value = values[index]
            last_value, last_processor, last_result = _last_conversion
            if value is last_value and processor is last_processor and value is not None:
                values[index] = last_result
            else:
                values[index] = result = processor(value)
                _last_conversion = (value, processor, result)
        return tuple(values)

    def make_row(self, raw: Sequence[Any]) -> Any:
        if self.result_processors:
            values = list(raw)
            for index, processor in self.result_processors:
                values[index] = processor(values[index])
            raw = values
        return self.row._make(raw)


class HotStatement:
    """A Core statement on the ledger's hot path. Rows come back as named tuples on SQLite and as
    SQLAlchemy rows elsewhere; both allow ``row.name``, ``row[i]`` and slicing."""

    def __init__(self, statement: Any, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._plan: _SqlitePlan | None = None

    def _sqlite_plan(self, dialect: Dialect) -> _SqlitePlan:
        if self._plan is None:
            self._plan = _SqlitePlan(self.statement, dialect, self.column_keys)
        return self._plan

    def _run(self, conn: Connection, params: Params) -> Any:
        plan = self._sqlite_plan(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        dbapi_error = plan.dbapi_error
        # ``dict`` first in the tuple: an isinstance check against the Mapping ABC is slow.
        driver_params: Any
        if isinstance(params, (dict, Mapping)):
            driver_params, many = plan.parameters(params), False
        elif len(params) == 1:  # one row: a plain execute, as SQLAlchemy does
            driver_params, many = plan.parameters(params[0]), False
        else:
            driver_params, many = [plan.parameters(p) for p in params], True
        if _trace_cursor_events:
            conn.dispatch.before_cursor_execute(conn, cursor, plan.sql, driver_params, None, many)
        try:
            if many:
                cursor.executemany(plan.sql, driver_params)
            else:
                cursor.execute(plan.sql, driver_params)
        except dbapi_error as error:
            cursor.close()
            # The same exception SQLAlchemy would raise (IntegrityError, OperationalError...).
            raise sa.exc.DBAPIError.instance(
                plan.sql, params, error, dbapi_error, dialect=conn.dialect
            ) from error
        if _trace_cursor_events:
            conn.dispatch.after_cursor_execute(conn, cursor, plan.sql, driver_params, None, many)
        return cursor

    def execute(self, conn: Connection, params: Params) -> None:
        """Run a write, with one parameter set or many (executemany)."""
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, params)
            return
        self._run(conn, params).close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, params).first()
        cursor = self._run(conn, params)
        raw = cursor.fetchone()
        cursor.close()
        return None if raw is None else self._sqlite_plan(conn.dialect).make_row(raw)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        if conn.dialect.name != "sqlite":
            return list(conn.execute(self.statement, params))
        cursor = self._run(conn, params)
        plan = self._sqlite_plan(conn.dialect)
        rows = [plan.make_row(raw) for raw in cursor.fetchall()]
        cursor.close()
        return rows

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        if row is None:
            raise sa.exc.NoResultFound("the statement returned no row")
        return row[0]

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        if conn.dialect.name != "sqlite":
            return int(conn.execute(self.statement, params).rowcount)
        cursor = self._run(conn, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count
