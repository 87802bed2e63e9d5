"""The pages' own Content-Security-Policy. The JSON API keeps http.py's `default-src 'none'`; a
page needs a little more, and only from its own origin: its scripts and stylesheets as files (no
inline script or style anywhere), fetches to the API, and data: images (the docs UI draws its
icons as data: SVGs in its stylesheet)."""

import functools

from flask import make_response

PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def with_page_policy(view):
    """Decorator: the view's response carries the pages' policy (http.py only fills in headers a
    response does not have)."""

    @functools.wraps(view)
    def page(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response

    return page
