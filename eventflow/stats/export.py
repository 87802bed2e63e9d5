"""The attendance export, streamed: a server-side cursor read in batches, written as JSON or CSV
while it is read, so a 20,000-viewer webinar never sits in memory. The stream runs in its own
transaction (the request's has committed by the time the body is sent) with the admin's context.
"""

import csv
import io
import json
import re
from datetime import datetime
from uuid import UUID

from eventflow import db
from eventflow.stats import queries

BATCH_ROWS = 1000
COLUMNS = (
    "user_id",
    "display_name",
    "registered",
    "registered_at",
    "first_join_at",
    "last_leave_at",
    "watch_seconds",
    "sessions",
    "rejoins",
    "attended",
)
# CSV injection (OWASP): a spreadsheet runs a cell that starts with one of these as a formula ...
_FORMULA_STARTS = "=+-@\t\r"
# ... and a cell starts wherever the spreadsheet thinks one does: after a `;` in the many locales
# that split on it (`x;=1+1` is two cells there), after a tab or a pipe, after a quote or a line
# break to a parser that ignores quoting. Every cell is quoted, and a formula start at the
# beginning of a cell or after any of these gets a ' in front, which makes it text.
_SEPARATORS = ',;|\t\r\n"'
_FORMULA_START = re.compile(f"(^|[{re.escape(_SEPARATORS)}])(?=[{re.escape(_FORMULA_STARTS)}])")


# A client that stops reading the stream holds a pooled connection and an open transaction;
# past this, PostgreSQL ends them, so slow exports cannot starve the hot path of connections.
IDLE_SECONDS = 30


def rows(pool, context, webinar_id, share, idle_seconds=IDLE_SECONDS):
    """The export's rows, lazily; the query has already run when this returns, so an unavailable
    database answers 503 instead of cutting a stream short."""
    stream = _stream(pool, context, {"webinar_id": webinar_id, "share": share}, idle_seconds)
    next(stream)
    return stream


def _stream(pool, context, params, idle_seconds):
    with db.transaction(pool, context) as conn, conn.cursor(name="attendance_export") as cursor:
        conn.execute(queries.BOUND_IDLE_TRANSACTION, {"timeout": f"{int(idle_seconds * 1000)}ms"})
        cursor.itersize = BATCH_ROWS
        cursor.execute(queries.ATTENDANCE, params)
        yield None
        while batch := cursor.fetchmany(BATCH_ROWS):
            yield batch


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def as_json(batches, webinar_id, share):
    yield json.dumps({"webinar_id": str(webinar_id), "attended_share": share})[:-1] + ', "viewers": ['
    first = True
    for batch in batches:
        text = ",".join(json.dumps({k: _plain(row[k]) for k in COLUMNS}, ensure_ascii=False) for row in batch)
        yield text if first else "," + text
        first = False
    yield "]}"


def _cell(value):
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _FORMULA_START.sub(r"\1'", value)
    return value


def as_csv(batches):
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    for batch in batches:
        writer.writerows([_cell(row[k]) for k in COLUMNS] for row in batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
