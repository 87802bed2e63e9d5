"""What the event stream and its tickets take and give."""

from marshmallow import Schema, fields, validate

from eventflow.stream.events import CURSOR


class EventArgsSchema(Schema):
    after = fields.String(
        load_default=None,
        validate=validate.Regexp(CURSOR, error="not a stream cursor"),
        metadata={"description": "an event's id to resume after (as Last-Event-ID); omit to start from the oldest"},
    )
    ticket = fields.String(
        load_default=None,
        validate=validate.Length(1, 64),
        metadata={"description": "a ticket from events/tickets, instead of an Authorization header (browsers)"},
    )
    session_id = fields.UUID(
        load_default=None, metadata={"description": "participants: the session of access/track, for `superseded`"}
    )


class TicketSchema(Schema):
    ticket = fields.String(required=True, metadata={"description": "pass it as ?ticket= once, within expires_in"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
