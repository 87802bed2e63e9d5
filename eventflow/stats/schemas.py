"""The dashboard's and the attendance export's shapes, with the definition of every figure.

Definitions used everywhere (dashboard, attendance export, jobs):
- a session covers [entered_at, exited_at], or while open [entered_at, last heartbeat];
- a viewer is a user with at least one session; their overlapping sessions are merged;
- unique viewers: distinct viewers with a session in the period (a 5-minute bucket, or the webinar);
- concurrent viewers: the most viewers watching at one instant in the period (peak);
- watch time: the length of the union of a viewer's sessions, in whole seconds;
- rejoins: times a viewer came back after a gap (merged spans - 1);
- attended: a viewer whose watch time is at least EVENTFLOW_ATTENDED_SHARE (default 0.5) of the
  webinar's scheduled length; no-show: a registrant with no session;
- live now: viewers whose last ping is younger than the presence timeout.
Session figures come from the rollup jobs and lag the raw sessions by up to a minute.
"""

import re

from marshmallow import Schema, fields, validate

SECTIONS = ("chat", "qa", "forms", "giveaways", "files", "registrants", "access", "survey", "sessions")
# A comma-separated list of section names, spaces around them and empty entries allowed. Plain
# spaces only, so that the documented pattern means the same in any regex dialect.
_NAME = f"(?:{'|'.join(SECTIONS)}) *"
SECTIONS_PATTERN = f"^ *(?:{_NAME})?(?:, *(?:{_NAME})?)*$"
SECTIONS_LIST = re.compile(SECTIONS_PATTERN)


def _count(description):
    return fields.Integer(required=True, metadata={"description": description})


class StatsArgsSchema(Schema):
    sections = fields.String(
        load_default=None,
        metadata={
            "description": f"Comma-separated, any of {', '.join(SECTIONS)}; none means all. Unknown: 400.",
            "pattern": SECTIONS_PATTERN,
        },
    )


class ChatSchema(Schema):
    messages = _count("Chat messages sent, hidden ones included")
    senders = _count("Distinct users who sent a message")
    hidden = _count("Messages hidden by an admin")
    from_admins = _count("Messages sent by admins")


class QaSchema(Schema):
    asked = _count("Questions asked")
    answered = _count("Questions answered")
    pending = _count("Questions waiting for an answer")
    hidden = _count("Questions hidden by an admin")
    askers = _count("Distinct users who asked")


class FormFiguresSchema(Schema):
    form_id = fields.UUID(required=True)
    title = fields.String(required=True)
    submissions = _count("Submissions of this form (one per user at most)")


class FormsSchema(Schema):
    submissions = _count("Submissions of all forms")
    respondents = _count("Distinct users who submitted any form")
    forms = fields.List(fields.Nested(FormFiguresSchema), required=True)


class DrawFiguresSchema(Schema):
    draw_id = fields.UUID(required=True)
    title = fields.String(required=True)
    prize = fields.String(required=True)
    winner_count = _count("Winners the draw is for")
    drawn_at = fields.DateTime(allow_none=True, metadata={"description": "When it was drawn; null if not yet"})
    winners = _count("Winners drawn")


class GiveawaysSchema(Schema):
    draws = _count("Draws set up")
    drawn = _count("Draws already drawn")
    winners = _count("Winners of all draws")
    items = fields.List(fields.Nested(DrawFiguresSchema), required=True)


class FileFiguresSchema(Schema):
    file_id = fields.UUID(required=True)
    file_name = fields.String(required=True)
    downloads = _count("Downloads of this file")
    downloaders = _count("Distinct users who downloaded it")


class FilesSchema(Schema):
    files = _count("Files offered")
    downloads = _count("Downloads of all files")
    downloaders = _count("Distinct users who downloaded any file")
    items = fields.List(fields.Nested(FileFiguresSchema), required=True)


class TimelineDaySchema(Schema):
    day = fields.Date(required=True, metadata={"description": "Calendar day in EVENTFLOW_STATS_TIMEZONE"})
    registrations = _count("Registrations made that day")


class RegistrantsSchema(Schema):
    total = _count("Registrations")
    viewed = _count("Registrants with at least one session")
    attended = _count("Registrants who attended (see the definition above)")
    no_shows = _count("Registrants with no session")
    via_campaign_links = _count("Registrations that came through a campaign link")
    timeline = fields.List(fields.Nested(TimelineDaySchema), required=True)


class BucketSchema(Schema):
    time_bucket = fields.DateTime(required=True, metadata={"description": "Start of the 5-minute bucket"})
    concurrent_viewers = _count("Peak viewers watching at one instant in the bucket")
    unique_viewers = _count("Distinct viewers with a session in the bucket")


class AccessSchema(Schema):
    live_now = _count("Viewers whose last ping is younger than the presence timeout")
    peak_concurrent = _count("The highest concurrent_viewers of any bucket")
    peak_at = fields.DateTime(allow_none=True, metadata={"description": "The first bucket with that peak"})
    bucket_seconds = _count("Length of a bucket: 300")
    series = fields.List(
        fields.Nested(BucketSchema),
        required=True,
        metadata={"description": "webinar_access_logs, oldest first; a bucket nobody watched has no entry"},
    )
    rolled_up_at = fields.DateTime(allow_none=True, metadata={"description": "When the series last changed"})


class SurveyFiguresSchema(Schema):
    campaign_id = fields.UUID(required=True)
    title = fields.String(required=True)
    opens_at = fields.DateTime(allow_none=True)
    closes_at = fields.DateTime(allow_none=True)
    entries = _count("Entries (one per user at most)")


class SurveySchema(Schema):
    entries = _count("Entries of all survey campaigns")
    campaigns = fields.List(fields.Nested(SurveyFiguresSchema), required=True)


class SessionsSchema(Schema):
    sessions = _count("Sessions opened")
    unique_viewers = _count("Distinct viewers with at least one session")
    total_watch_seconds = _count("Watch time of all viewers")
    average_watch_seconds = fields.Float(required=True, metadata={"description": "Mean watch time per viewer"})
    median_watch_seconds = fields.Float(required=True, metadata={"description": "Median watch time per viewer"})
    rejoins = _count("Rejoins of all viewers")
    viewers_who_rejoined = _count("Viewers with at least one rejoin")
    rolled_up_at = fields.DateTime(allow_none=True, metadata={"description": "When a viewer's figures last changed"})


class StatsSchema(Schema):
    webinar_id = fields.UUID(required=True)
    chat = fields.Nested(ChatSchema)
    qa = fields.Nested(QaSchema)
    forms = fields.Nested(FormsSchema)
    giveaways = fields.Nested(GiveawaysSchema)
    files = fields.Nested(FilesSchema)
    registrants = fields.Nested(RegistrantsSchema)
    access = fields.Nested(AccessSchema)
    survey = fields.Nested(SurveySchema)
    sessions = fields.Nested(SessionsSchema)


class AttendanceArgsSchema(Schema):
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(("csv", "json")),
        metadata={"description": "csv or json; otherwise the Accept header decides (json first)"},
    )


class AttendanceRowSchema(Schema):
    user_id = fields.UUID(required=True)
    display_name = fields.String(required=True)
    registered = fields.Boolean(required=True, metadata={"description": "false for a viewer who never registered"})
    registered_at = fields.DateTime(allow_none=True)
    first_join_at = fields.DateTime(allow_none=True, metadata={"description": "Start of the first session"})
    last_leave_at = fields.DateTime(allow_none=True, metadata={"description": "End of the last session"})
    watch_seconds = _count("Watch time, overlapping sessions merged")
    sessions = _count("Sessions opened")
    rejoins = _count("Times the viewer came back after a gap")
    attended = fields.Boolean(required=True, metadata={"description": "Watch time >= the attended share of the length"})


class AttendanceSchema(Schema):
    webinar_id = fields.UUID(required=True)
    attended_share = fields.Float(required=True)
    viewers = fields.List(fields.Nested(AttendanceRowSchema), required=True)
