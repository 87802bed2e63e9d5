"""What the OpenAPI document says of errors and of the access rules, in one place for every
blueprint; and what a marshmallow schema cannot say of itself."""

from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

PARTICIPANT_ACCESS_RULES = (
    "Participants see a webinar once it is announced: a draft or cancelled webinar answers 404 to "
    "them, as if it did not exist, and a participant token with a `webinar_id` claim enters only that "
    "webinar. An ended webinar can still be read, but takes no participant writes other than "
    "access/exit (409). Participants are never told a webinar's client_id or agency_id."
)

ERROR_DESCRIPTIONS = {
    400: "A request the endpoint cannot understand",
    401: "Missing or invalid token",
    403: "The caller's role may not use this endpoint",
    404: "No such webinar (or row) in the caller's scope; to participants, also a draft or cancelled webinar",
    409: "The webinar has ended: a participant may still read it and exit, nothing else",
    422: "Invalid query or body",
    429: "Too many requests; see Retry-After",
    503: "The database is unavailable; see Retry-After",
}


def document_errors(blp, *codes):
    """Decorator: list these error statuses, with their standard descriptions, on an operation."""

    def decorate(view):
        for code in codes:
            view = blp.alt_response(code, description=ERROR_DESCRIPTIONS[code])(view)
        return view

    return decorate


class SchemaConstraints(BasePlugin):
    """Adds a schema's `Meta.json_schema` (JSON Schema keywords marshmallow has no field for,
    such as minProperties) to its OpenAPI component, so the document states what its
    validators enforce."""

    def schema_helper(self, name, definition, schema=None, **kwargs):
        meta = getattr(resolve_schema_cls(schema), "Meta", None) if schema is not None else None
        return dict(getattr(meta, "json_schema", {}))
