"""HTTP hygiene every response gets: security headers, and the client address taken from
X-Forwarded-For only behind as many proxies as ops configured (EVENTFLOW_TRUSTED_PROXIES)."""

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
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", DEFAULT_CACHE_CONTROL)
        return response
