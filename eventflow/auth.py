"""Access tokens (contract §2): HS256 JWTs verified into a Principal, and issued for the CLI."""

import time
import uuid
from dataclasses import dataclass

import jwt
from flask import current_app, g, request
from flask_smorest import abort

from eventflow.fields import TRIMMED, text_problem

PARTICIPANT = "participant"
CLIENT_ADMIN = "client_admin"
AGENCY_ADMIN = "agency_admin"
ADMINS = frozenset({CLIENT_ADMIN, AGENCY_ADMIN})
PARTICIPANTS = frozenset({PARTICIPANT})
EVERYONE = frozenset({PARTICIPANT, CLIENT_ADMIN, AGENCY_ADMIN})

# Which tenant claim each role must carry, and which it must not.
_TENANT_CLAIMS = {
    PARTICIPANT: (),
    CLIENT_ADMIN: ("client_id",),
    AGENCY_ADMIN: ("agency_id",),
}
# A participant token may name the one webinar it is for (optional: without it, the token
# enters every announced webinar, as before).
WEBINAR_CLAIM = "webinar_id"
MAX_NAME_LENGTH = 100


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    client_id: uuid.UUID | None = None
    agency_id: uuid.UUID | None = None
    name: str = ""
    expires_at: float = 0.0  # the token's exp, epoch seconds
    webinar_id: uuid.UUID | None = None  # participants: the one webinar the token is for, if it says


def _uuid_claim(claims, name):
    value = claims.get(name)
    if not isinstance(value, str):
        raise InvalidToken(f"claim {name!r} is missing")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidToken(f"claim {name!r} is not a UUID") from None


def verify(token, secret, audience):
    """Return the Principal a token names, or raise InvalidToken."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    role = claims.get("role")
    # A list or an object is no role either (and would not even hash as a key).
    if not isinstance(role, str) or role not in _TENANT_CLAIMS:
        raise InvalidToken("unknown role")
    required = _TENANT_CLAIMS[role]
    for claim in ("client_id", "agency_id"):
        if claim not in required and claim in claims:
            raise InvalidToken(f"a {role} token carries no {claim}")
    if WEBINAR_CLAIM in claims and role != PARTICIPANT:
        raise InvalidToken(f"a {role} token carries no {WEBINAR_CLAIM}")
    return Principal(
        user_id=_uuid_claim(claims, "sub"),
        role=role,
        client_id=_uuid_claim(claims, "client_id") if "client_id" in required else None,
        agency_id=_uuid_claim(claims, "agency_id") if "agency_id" in required else None,
        name=_display_name(claims),
        expires_at=float(claims["exp"]),
        webinar_id=_uuid_claim(claims, WEBINAR_CLAIM) if WEBINAR_CLAIM in claims else None,
    )


def _display_name(claims):
    """The `name` claim, validated as a message body is (one printable line), then trimmed."""
    name = claims.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise InvalidToken(f"claim 'name' must be a string of at most {MAX_NAME_LENGTH} characters")
    problem = text_problem(name)
    if problem:
        raise InvalidToken(f"claim 'name' {problem}")
    return name.strip(TRIMMED)


def issue(secret, audience, *, role, sub, client_id=None, agency_id=None, webinar_id=None, name=None, ttl=3600):
    now = int(time.time())
    claims = {"sub": str(sub), "role": role, "aud": audience, "iat": now, "exp": now + int(ttl)}
    if client_id:
        claims["client_id"] = str(client_id)
    if agency_id:
        claims["agency_id"] = str(agency_id)
    if webinar_id:
        claims[WEBINAR_CLAIM] = str(webinar_id)
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


class VerifiedTokens:
    """Tokens this process has already verified, kept until they expire.

    A viewer polls every 5 s with the same token; checking its signature and claims each time
    costs more than the rest of a cached stats/access answer. Only tokens that passed `verify`
    are kept, and never past their exp. When full, the oldest entries make room."""

    def __init__(self, secret, audience, max_entries=100_000):
        self._secret, self._audience = secret, audience
        self._principals: dict[str, Principal] = {}
        self._max_entries = max_entries

    def principal_of(self, token):
        """The Principal the token names, verified now or earlier; raises InvalidToken."""
        principal = self.get(token)
        if principal is None:
            principal = verify(token, self._secret, self._audience)
            self._put(token, principal)
        return principal

    def get(self, token):
        principal = self._principals.get(token)
        if principal is not None and principal.expires_at <= time.time():
            self._principals.pop(token, None)
            return None
        return principal

    def _put(self, token, principal):
        while len(self._principals) >= self._max_entries:
            try:
                del self._principals[next(iter(self._principals))]
            except (KeyError, RuntimeError, StopIteration):  # another thread evicted it first
                break
        self._principals[token] = principal


def init_app(app, settings):
    app.extensions["eventflow.verified_tokens"] = VerifiedTokens(settings.jwt_secret, settings.jwt_audience)


def bearer_token(authorization):
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def current_principal():
    """The verified caller of this request; 401 without a valid bearer token."""
    if "principal" not in g:
        token = bearer_token(request.headers.get("Authorization", ""))
        if token is None:
            abort(401, message="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            g.principal = current_app.extensions["eventflow.verified_tokens"].principal_of(token)
        except InvalidToken as exc:
            abort(401, message=f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"})
    return g.principal


def require_token():
    """A blueprint's before_request: every endpoint of it needs a valid token, and says so
    (401) before it looks at the query or body."""
    current_principal()
