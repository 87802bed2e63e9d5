"""HTTP hygiene every response gets: security headers, the client address taken from
X-Forwarded-For only behind as many proxies as ops configured (EVENTFLOW_TRUSTED_PROXIES), paths
matched as sent (no redirects), and connections closed after a body that is not read whole."""

from werkzeug.middleware.proxy_fix import ProxyFix

# A JSON API: nothing here is ever a page to frame, sniff or run scripts in.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-site",
}
# Answers are per caller; only endpoints that say otherwise (stats/access) may be revalidated.
DEFAULT_CACHE_CONTROL = "no-store"
# Far above any legitimate body this API takes (Flask's MAX_CONTENT_LENGTH; the front's too).
MAX_BODY_BYTES = 64 * 1024


def close_after_unread_body(worker, req):
    """gunicorn's pre_request hook (gunicorn.conf.py). A body over the limit is refused (413)
    without being read, and a chunked body may be refused (413) or broken (400) halfway; the
    bytes left on the connection are not a next request. gunicorn decides keep-alive before the
    app answers and ignores a Connection header the app sets, so the decision is made here: such
    a request's answer says `Connection: close`, and the connection is closed after it."""
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and int(value) > MAX_BODY_BYTES):
            req.must_close = True


def match_paths_as_sent(url_map):
    """Werkzeug would answer `//api/...` or a missing trailing slash with a 308 whose Location is
    built from the Host header and whose body is HTML (routing redirects bypass the JSON error
    handlers). A path matches as sent or is a 404. Before any route is added: rules take the
    map's setting when they are added."""
    url_map.merge_slashes = False
    url_map.strict_slashes = False


def init_app(app, settings):
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=0,
            x_port=0,
            x_prefix=0,
        )

    @app.after_request
    def add_security_headers(response):
        secure(response.headers)
        return response


def secure(headers):
    """The security headers, and the default Cache-Control, where the answer has none of its own
    (a response's Headers or a plain dict: the fast lane's)."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    headers.setdefault("Cache-Control", DEFAULT_CACHE_CONTROL)
