from marshmallow import Schema, fields, validate

from eventflow.fields import Printable

USER_AGENT_MAX = 500


class RegisterBodySchema(Schema):
    campaign_link_id = fields.UUID(
        load_default=None, metadata={"description": "The tracked campaign link the viewer arrived through"}
    )


class RegistrationSchema(Schema):
    registered = fields.Boolean(required=True, metadata={"description": "Always true after the call"})
    created = fields.Boolean(required=True, metadata={"description": "True when this call registered the caller"})


class SessionBodySchema(Schema):
    session_id = fields.UUID(load_default=None, metadata={"description": "The session returned by access/track"})


class TrackBodySchema(SessionBodySchema):
    user_agent = fields.String(load_default="", validate=[validate.Length(max=USER_AGENT_MAX), Printable()])


class TrackSchema(Schema):
    session_id = fields.UUID(required=True, metadata={"description": "Send it with every ping, track and poll"})
    opened = fields.Boolean(
        required=True, metadata={"description": "True when a new session was opened (entry, or the old one closed)"}
    )
    registered = fields.Boolean(required=True, metadata={"description": "True when this call registered the caller"})


class PingSchema(Schema):
    live = fields.Boolean(required=True)
    session_refreshed = fields.Boolean(
        required=True, metadata={"description": "False without a session_id, or when that session is not open"}
    )


class ExitSchema(Schema):
    sessions_closed = fields.Integer(required=True)
    left_live = fields.Boolean(required=True)


class StatsAccessArgsSchema(Schema):
    session_id = fields.UUID(
        load_default=None, metadata={"description": "The caller's session, to learn whether it was superseded"}
    )
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000), metadata={"description": "Admins"})
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 5000), metadata={"description": "Admins"})


class ViewerSchema(Schema):
    user_id = fields.UUID(
        metadata={"description": "Admins: every viewer's. Participants: only on their own entry (`me`)"}
    )
    display_name = fields.String(required=True)
    since = fields.DateTime(required=True, metadata={"description": "When the viewer's current presence began"})
    me = fields.Boolean(metadata={"description": "Participants: true on the caller's own entry, absent on others"})


class StatsAccessSchema(Schema):
    live_count = fields.Integer(
        required=True,
        metadata={"description": "Viewers whose last ping or track is younger than the presence timeout (150 s)"},
    )
    generated_at = fields.DateTime(required=True, metadata={"description": "When the snapshot was built"})
    viewers = fields.List(
        fields.Nested(ViewerSchema),
        required=True,
        metadata={
            "description": "Participants: the caller first (with `me` and their user_id), then the earliest "
            "arrivals without user_id (bounded). Admins: a page of all live viewers with user_id, earliest "
            "arrival first."
        },
    )
    offset = fields.Integer(metadata={"description": "Admins: the page's first position"})
    next_offset = fields.Integer(allow_none=True, metadata={"description": "Admins: the next page, or null"})
    superseded = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "Participants with session_id: true when the same viewer entered from another "
            "device since; null when unknown"
        },
    )
