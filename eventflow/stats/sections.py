"""One reader per dashboard section: (conn, webinar_id, settings) -> the section's figures."""

from eventflow.stats import queries

BUCKET_SECONDS = 300


def _one(conn, sql, params):
    return conn.execute(sql, params).fetchone()


def _all(conn, sql, params):
    return conn.execute(sql, params).fetchall()


def chat(conn, webinar_id, settings):
    return _one(conn, queries.CHAT, {"webinar_id": webinar_id})


def qa(conn, webinar_id, settings):
    return _one(conn, queries.QA, {"webinar_id": webinar_id})


def forms(conn, webinar_id, settings):
    params = {"webinar_id": webinar_id}
    items = _all(conn, queries.FORMS, params)
    return {
        "submissions": sum(item["submissions"] for item in items),
        "respondents": _one(conn, queries.FORM_RESPONDENTS, params)["respondents"],
        "forms": items,
    }


def giveaways(conn, webinar_id, settings):
    items = _all(conn, queries.GIVEAWAYS, {"webinar_id": webinar_id})
    return {
        "draws": len(items),
        "drawn": sum(1 for item in items if item["drawn_at"] is not None),
        "winners": sum(item["winners"] for item in items),
        "items": items,
    }


def files(conn, webinar_id, settings):
    params = {"webinar_id": webinar_id}
    items = _all(conn, queries.FILES, params)
    return {
        "files": len(items),
        "downloads": sum(item["downloads"] for item in items),
        "downloaders": _one(conn, queries.FILE_DOWNLOADERS, params)["downloaders"],
        "items": items,
    }


def registrants(conn, webinar_id, settings):
    figures = _one(conn, queries.REGISTRANTS, {"webinar_id": webinar_id, "share": settings.attended_share})
    timeline = _all(conn, queries.REGISTRATION_TIMELINE, {"webinar_id": webinar_id, "tz": settings.stats_timezone})
    return {**figures, "timeline": timeline}


def access(conn, webinar_id, settings):
    live = _one(conn, queries.LIVE_NOW, {"webinar_id": webinar_id, "timeout": settings.presence_timeout_seconds})
    series = _all(conn, queries.ACCESS_SERIES, {"webinar_id": webinar_id})
    peak = max(series, key=lambda b: b["concurrent_viewers"], default=None)  # the first of equals
    return {
        "live_now": live["live_now"],
        "peak_concurrent": peak["concurrent_viewers"] if peak else 0,
        "peak_at": peak["time_bucket"] if peak else None,
        "bucket_seconds": BUCKET_SECONDS,
        "series": series,
        "rolled_up_at": max((b["updated_at"] for b in series), default=None),
    }


def survey(conn, webinar_id, settings):
    items = _all(conn, queries.SURVEY, {"webinar_id": webinar_id})
    return {"entries": sum(item["entries"] for item in items), "campaigns": items}


def sessions(conn, webinar_id, settings):
    return _one(conn, queries.SESSIONS, {"webinar_id": webinar_id})


READERS = {
    "chat": chat,
    "qa": qa,
    "forms": forms,
    "giveaways": giveaways,
    "files": files,
    "registrants": registrants,
    "access": access,
    "survey": survey,
    "sessions": sessions,
}
