"""The attendance export: one row per registrant or viewer, JSON and CSV agreeing, streamed in
batches, consistent with the dashboard, and only for the webinar's own admins."""

import csv
import io
import json
import time
import uuid

import psycopg
import pytest

from eventflow import db
from eventflow.stats import export
from eventflow.stats.export import COLUMNS
from tests import brute_force, test_stats

# The dashboard's fixtures, shared: the same webinar must give the same figures in both places.
busy_webinar = test_stats.busy_webinar
rolled_up = test_stats.rolled_up


def _url(tenant, query=""):
    return f"/api/webinars/{tenant.webinar_id}/attendance{query}"


def _csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _as_csv_text(row):
    """A JSON row as the CSV writes it."""
    return {
        k: "" if v is None else ("true" if v is True else "false" if v is False else str(v)) for k, v in row.items()
    }


def test_json_rows_are_the_registrants_and_viewers(client, busy_webinar):
    tenant, sessions = busy_webinar
    response = client.get(_url(tenant), headers=tenant.client_admin())
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.json
    assert body["webinar_id"] == str(tenant.webinar_id) and body["attended_share"] == 0.5
    rows = body["viewers"]
    assert len(rows) == 6  # five registrants, one viewer who never registered
    assert all(list(row) == list(COLUMNS) for row in rows)
    expected = brute_force.attendance(sessions)
    for row in rows:
        figures = expected.get(uuid.UUID(row["user_id"]))
        if figures is None:
            assert (row["watch_seconds"], row["sessions"], row["first_join_at"], row["attended"]) == (0, 0, None, False)
        else:
            assert (row["watch_seconds"], row["sessions"], row["rejoins"]) == (figures[2], figures[3], figures[4])
    assert [row["registered"] for row in rows].count(False) == 1
    assert sum(row["attended"] for row in rows) == 1


def test_csv_and_json_agree(client, busy_webinar):
    tenant, _ = busy_webinar
    as_json = client.get(_url(tenant), headers=tenant.client_admin()).json["viewers"]
    by_accept = client.get(_url(tenant), headers={**tenant.client_admin(), "Accept": "text/csv"})
    by_query = client.get(_url(tenant, "?format=csv"), headers=tenant.agency_admin())
    assert by_accept.mimetype == "text/csv" and "attachment" in by_accept.headers["Content-Disposition"]
    assert _csv_rows(by_accept) == _csv_rows(by_query) == [_as_csv_text(row) for row in as_json]


def test_attendance_and_dashboard_agree(client, busy_webinar):
    tenant, _ = busy_webinar
    rows = client.get(_url(tenant), headers=tenant.client_admin()).json["viewers"]
    stats = client.get(f"/api/webinars/{tenant.webinar_id}/stats", headers=tenant.client_admin()).json
    registered = [row for row in rows if row["registered"]]
    assert stats["registrants"]["total"] == len(registered)
    assert stats["registrants"]["attended"] == sum(row["attended"] for row in registered)
    assert stats["registrants"]["no_shows"] == sum(row["sessions"] == 0 for row in registered)
    assert stats["sessions"]["unique_viewers"] == sum(row["sessions"] > 0 for row in rows)
    assert stats["sessions"]["sessions"] == sum(row["sessions"] for row in rows)
    assert stats["sessions"]["total_watch_seconds"] == sum(row["watch_seconds"] for row in rows)


def test_a_large_export_streams_in_batches(client, make_tenant, owner):
    tenant = make_tenant()
    owner.execute(
        """insert into registrations (webinar_id, user_id, client_id, agency_id, display_name)
           select %s, gen_random_uuid(), %s, %s, '=cmd|' || n from generate_series(1, 2500) n""",
        (tenant.webinar_id, tenant.client_id, tenant.agency_id),
    )
    response = client.get(_url(tenant), headers=tenant.client_admin())
    assert response.is_streamed
    rows = json.loads(response.get_data())["viewers"]
    assert len(rows) == 2500
    exported = _csv_rows(client.get(_url(tenant, "?format=csv"), headers=tenant.client_admin()))
    assert len(exported) == 2500
    # A name a spreadsheet would run as a formula is defused in the CSV.
    assert all(row["display_name"].startswith("'=cmd|") for row in exported)


@pytest.mark.parametrize("query", ["", "?format=csv"])
def test_who_may_export(client, busy_webinar, make_tenant, query):
    tenant, _ = busy_webinar
    _, participant = tenant.participant()
    assert client.get(_url(tenant, query), headers=participant).status_code == 403
    assert client.get(_url(tenant, query), headers=make_tenant().client_admin()).status_code == 404
    assert client.get(_url(tenant, query), headers=make_tenant().agency_admin()).status_code == 404


def test_an_unknown_format_is_refused(client, busy_webinar):
    tenant, _ = busy_webinar
    assert client.get(_url(tenant, "?format=xlsx"), headers=tenant.client_admin()).status_code == 422


def test_both_representations_are_documented(client):
    """The CSV answer is in the OpenAPI document too (the API fuzzer checks content types)."""
    paths = client.get("/api/openapi.json").json["paths"]
    content = paths["/api/webinars/{webinar_id}/attendance"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}


def test_an_export_whose_client_stops_reading_gives_its_connection_back(app, make_tenant):
    tenant = make_tenant()
    context = db.RequestContext(role="client_admin", client_id=tenant.client_id)
    with app.app_context():
        pool = db.get_pool()
        stream = export.rows(pool, context, tenant.webinar_id, 0.5, idle_seconds=0.5)
        time.sleep(1.0)  # the client reads nothing for longer than the bound
        # PostgreSQL ended the idle transaction (it says so, or the connection is just gone)
        with pytest.raises((psycopg.errors.IdleInTransactionSessionTimeout, psycopg.OperationalError)):
            list(stream)
        with db.transaction(pool, db.NO_CONTEXT) as conn:
            assert conn.execute("select 1 as one").fetchone()["one"] == 1


FORMULA_NAMES = ["x;=1+1", "x,=1+1", "x\t=1+1", "x|=1+1", '=HYPERLINK("http://evil")', "x;+1", "a;-2;@SUM(A1)", 'x";=1']


def _cells_as_a_spreadsheet_sees_them(text, separator, honour_quotes):
    """Every cell of `text` split on `separator`, as a spreadsheet in that locale (or a parser
    that ignores quoting) would, with quotes and surrounding spaces removed."""
    lines = text.splitlines()
    if honour_quotes:
        rows = csv.reader(lines, delimiter=separator)
    else:
        rows = (line.split(separator) for line in lines)
    return [cell.strip().strip('"').strip() for row in rows for cell in row]


def test_csv_cells_are_never_formulas_in_comma_or_semicolon_locales(client, make_tenant, owner):
    """Issue 11, row 8: a display name `x;=1+1` was written unquoted, and a spreadsheet that
    splits on `;` ran `=1+1`."""
    tenant = make_tenant()
    for name in FORMULA_NAMES:
        owner.execute(
            """insert into registrations (webinar_id, client_id, agency_id, user_id, display_name)
               values (%s, %s, %s, gen_random_uuid(), %s)""",
            (tenant.webinar_id, tenant.client_id, tenant.agency_id, name),
        )
    text = client.get(_url(tenant, "?format=csv"), headers=tenant.client_admin()).get_data(as_text=True)
    for separator in (",", ";", "\t", "|"):
        for honour_quotes in (True, False):
            cells = _cells_as_a_spreadsheet_sees_them(text, separator, honour_quotes)
            formulas = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
            assert not formulas, (separator, honour_quotes, formulas)
    assert all(line.startswith('"') and line.endswith('"') for line in text.splitlines()), "every cell quoted"
    names = sorted(row["display_name"] for row in csv.DictReader(io.StringIO(text)))
    assert names == sorted(export._cell(name) for name in FORMULA_NAMES)
    assert "x;'=1+1" in names  # the name is kept, defused
