"""What the OpenAPI document says of errors, in one place for every blueprint."""

ERROR_DESCRIPTIONS = {
    400: "A request the endpoint cannot understand",
    401: "Missing or invalid token",
    403: "The caller's role may not use this endpoint",
    404: "No such webinar (or row) in the caller's scope",
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
