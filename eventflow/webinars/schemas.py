from marshmallow import Schema, fields, validate

STATUSES = ("draft", "scheduled", "live", "ended", "cancelled")


class WebinarSchema(Schema):
    id = fields.UUID(required=True)
    slug = fields.String(required=True)
    client_id = fields.UUID(required=True)
    agency_id = fields.UUID(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)


class WebinarDetailSchema(WebinarSchema):
    # Participants are not told whose webinar it is.
    client_id = fields.UUID(metadata={"description": "Admins only"})
    agency_id = fields.UUID(metadata={"description": "Admins only"})
    description = fields.String(required=True)


class WebinarListArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES), load_default=None)
    limit = fields.Integer(validate=validate.Range(1, 500), load_default=100)
    offset = fields.Integer(validate=validate.Range(0, 1_000_000), load_default=0)
