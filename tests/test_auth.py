"""Every kind of invalid token of contract §2 gets 401; tenant comes only from the token."""

import base64
import hashlib
import hmac
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


def _part(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _unsigned(claims):
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."


def _hmac_signed(header, claims, key=JWT_SECRET):
    """HMAC-SHA256 by hand, whatever the header claims (PyJWT refuses to forge these)."""
    signing_input = f"{_part(header)}.{_part(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n"


def _tamper(token, **changes):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_part(claims | changes)}.{signature}"


INVALID_TOKENS = {
    "malformed": lambda: "not.a.jwt",
    "garbage": lambda: "%%%",
    "wrong key": lambda: _encode(_valid_claims(), key="another-secret-of-sufficient-length-123"),
    "alg none": lambda: _unsigned(_valid_claims()),
    "HS512 instead of HS256": lambda: _encode(_valid_claims(), algorithm="HS512"),
    # algorithm confusion: the right secret under another algorithm's name, or a public key as secret
    "RS256 header on an HMAC signature": lambda: _hmac_signed({"alg": "RS256"}, _valid_claims()),
    "ES256 header on an HMAC signature": lambda: _hmac_signed({"alg": "ES256"}, _valid_claims()),
    "public key used as HMAC secret": lambda: _hmac_signed({"alg": "HS256"}, _valid_claims(), key=PUBLIC_KEY),
    "tampered claims": lambda: _tamper(_encode(_valid_claims()), role="agency_admin"),
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


def test_a_client_admin_token_naming_another_clients_webinar_is_404(client, make_tenant):
    mine, theirs = make_tenant(), make_tenant()
    for path in ("", "/stats/access"):
        response = client.get(f"/api/webinars/{theirs.webinar_id}{path}", headers=mine.client_admin())
        assert response.status_code == 404, path


def test_body_fields_cannot_set_tenant_or_role(client, owner, make_tenant):
    tenant, other = make_tenant(), make_tenant()
    user_id, headers = tenant.participant()
    forged = {"client_id": str(other.client_id), "role": "client_admin", "user_id": str(uuid.uuid4())}
    response = client.post(f"/api/webinars/{tenant.webinar_id}/register", headers=headers, json=forged)
    assert response.status_code == 422
    assert client.post(f"/api/webinars/{tenant.webinar_id}/register", headers=headers).status_code == 201
    row = owner.execute("select user_id from registrations where webinar_id = %s", (tenant.webinar_id,)).fetchone()
    assert row["user_id"] == user_id


def test_a_verified_token_is_reused_until_it_expires(app, client, make_tenant):
    tenant = make_tenant()
    claims = _valid_claims(exp=int(time.time()) + 2)
    token = _encode(claims)
    verified = app.extensions["eventflow.verified_tokens"]
    assert verified.get(token) is None
    assert client.get(f"/api/webinars/{tenant.webinar_id}", headers=bearer(token)).status_code == 200
    assert verified.get(token).user_id == uuid.UUID(claims["sub"])
    time.sleep(2.1)
    assert verified.get(token) is None
    assert client.get(f"/api/webinars/{tenant.webinar_id}", headers=bearer(token)).status_code == 401


# Issue 11, row 4: signed tokens whose claims have the wrong shape were 500s (a list or an object
# as `role` on every endpoint; NUL or a lone surrogate in `name` wherever it is stored), or were
# stored and served (CR/LF, ESC, bidi overrides in `name`). The name is one printable line, as
# message bodies are.
MALFORMED_CLAIMS = {
    "role a list": {"role": ["participant"]},
    "role an object": {"role": {"participant": True}},
    "role a number": {"role": 1},
    "sub a list": {"sub": [str(uuid.uuid4())]},
    "client_id an object": {"role": "client_admin", "client_id": {"id": str(uuid.uuid4())}},
    "webinar_id a list": {"webinar_id": [str(uuid.uuid4())]},
    "name with NUL": {"name": "Kim\x00"},
    "name with a lone surrogate": {"name": "Kim \ud800"},
    "name with CR/LF": {"name": "Kim\r\nSet-Cookie: x"},
    "name with ESC": {"name": "\x1b[31mKim"},
    "name with a C1 control": {"name": "Kim\x85"},
    "name with a bidi override": {"name": "Kim \u202egnp.exe"},
    "name with a bidi isolate": {"name": "Kim \u2066x\u2069"},
    "name ending in a file separator": {"name": "Kim\x1c"},
    "name with a line separator": {"name": "Kim\u2028Lee"},
    "name too long": {"name": "K" * 101},
}


def _secured_operations(client, webinar_id):
    document = client.get("/api/openapi.json").json
    values = {"webinar_id": webinar_id, "message_id": 1, "question_id": 1}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method != "parameters" and operation.get("security", document.get("security")):
                yield method.upper(), path.format(**values)


@pytest.mark.parametrize("kind", sorted(MALFORMED_CLAIMS))
def test_a_malformed_claim_is_401_json_on_every_endpoint(client, make_tenant, kind):
    tenant = make_tenant()
    token = _encode(_valid_claims(**MALFORMED_CLAIMS[kind]))
    operations = list(_secured_operations(client, tenant.webinar_id))
    assert len(operations) > 10
    for method, path in operations:
        response = client.open(path, method=method, headers=bearer(token), json={})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.is_json and response.json["code"] == 401


def test_a_name_is_trimmed_of_spaces_and_stored_as_given(client, owner, make_tenant):
    tenant = make_tenant()
    user_id = uuid.uuid4()
    token = _encode(_valid_claims(sub=str(user_id), name="\u3000 김민지 (Kim)\u00a0 "))
    assert client.post(f"/api/webinars/{tenant.webinar_id}/register", headers=bearer(token)).status_code == 201
    row = owner.execute("select display_name from registrations where user_id = %s", (user_id,)).fetchone()
    assert row["display_name"] == "김민지 (Kim)"
