"""Every kind of invalid token of contract §2 gets 401; tenant comes only from the token."""

import base64
import json
import time
import uuid

import jwt
import pytest

from tests.conftest import JWT_SECRET, bearer


def _encode(claims, key=JWT_SECRET, algorithm="HS256"):
    return jwt.encode(claims, key, algorithm=algorithm)


def _valid_claims(**overrides):
    claims = {"sub": str(uuid.uuid4()), "role": "participant", "aud": "eventflow", "exp": int(time.time()) + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


INVALID_TOKENS = {
    "malformed": lambda: "not.a.jwt",
    "garbage": lambda: "%%%",
    "wrong key": lambda: _encode(_valid_claims(), key="another-secret-of-sufficient-length-123"),
    "alg none": lambda: _unsigned(_valid_claims()),
    "HS512 instead of HS256": lambda: _encode(_valid_claims(), algorithm="HS512"),
    "expired": lambda: _encode(_valid_claims(exp=int(time.time()) - 10)),
    "no exp": lambda: _encode(_valid_claims(exp=None)),
    "not yet valid": lambda: _encode(_valid_claims(nbf=int(time.time()) + 600)),
    "wrong audience": lambda: _encode(_valid_claims(aud="another-service")),
    "no audience": lambda: _encode(_valid_claims(aud=None)),
    "no sub": lambda: _encode(_valid_claims(sub=None)),
    "sub not a uuid": lambda: _encode(_valid_claims(sub="alice")),
    "unknown role": lambda: _encode(_valid_claims(role="superadmin")),
    "no role": lambda: _encode(_valid_claims(role=None)),
    "participant with client claim": lambda: _encode(_valid_claims(client_id=str(uuid.uuid4()))),
    "client admin without client_id": lambda: _encode(_valid_claims(role="client_admin")),
    "client admin with bad client_id": lambda: _encode(_valid_claims(role="client_admin", client_id="x")),
    "agency admin without agency_id": lambda: _encode(_valid_claims(role="agency_admin")),
    "agency admin with client claim": lambda: _encode(
        _valid_claims(role="agency_admin", agency_id=str(uuid.uuid4()), client_id=str(uuid.uuid4()))
    ),
    "name not a string": lambda: _encode(_valid_claims(name=["x"])),
}


@pytest.mark.parametrize("kind", sorted(INVALID_TOKENS))
def test_invalid_token_is_401(client, make_tenant, kind):
    tenant = make_tenant()
    response = client.get(f"/api/webinars/{tenant.webinar_id}", headers=bearer(INVALID_TOKENS[kind]()))
    assert response.status_code == 401, response.json
    assert response.is_json and response.json["code"] == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_or_other_scheme_is_401(client, make_tenant, header):
    tenant = make_tenant()
    headers = {} if header is None else {"Authorization": header}
    response = client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers)
    assert response.status_code == 401


def test_valid_token_is_accepted(client, make_tenant):
    tenant = make_tenant()
    _, headers = tenant.participant()
    assert client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers).status_code == 200


def test_tenant_in_headers_query_or_body_is_ignored(client, make_tenant):
    mine, theirs = make_tenant(), make_tenant()
    headers = {**mine.client_admin(), "X-Client-Id": str(theirs.client_id), "X-Role": "agency_admin"}
    response = client.get(f"/api/webinars?client_id={theirs.client_id}", headers=headers)
    assert response.status_code == 200
    assert {row["id"] for row in response.json} == {str(mine.webinar_id)}
