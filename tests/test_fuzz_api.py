"""API fuzzing with schemathesis against the app's own OpenAPI document, once per role.

Every operation of `/api/openapi.json` gets generated requests, valid (positive) and invalid
(negative), as a participant, a client admin, an agency admin and with no token, under every
check schemathesis has (CHECKS). The path's webinar is mostly a real one (the tenant's live one,
whose message and question ids are real too, its draft and its ended one, or another tenant's)
and sometimes a random id, so requests reach the handlers and their SQL, not only the 404 of an
unknown webinar.

Every check is enabled, but those that need schemathesis' own runner find no case of theirs in
this per-request harness: its coverage phase (`unsupported_method`, `missing_required_header`;
its pytest plugin does not run under pytest 9) and stateful sequences (`use_after_free`,
`ensure_resource_availability`, `object_level_authorization`; cross-tenant access is proven by
tests/test_row_level_security.py and the 404s of other tenants' webinars here).

Deliberate exceptions: the register operation may refuse a valid-looking campaign_link_id (422:
it must be a link of this webinar, which the document cannot say; POSITIVE_REFUSED), and
`max_response_time` is not checked (no timed assertions in tests: bench/ measures).

What must hold for every response:
- no server error (5xx), and every status is one the operation documents;
- valid input is accepted, or refused only for who is asking, the webinar's state or the pace
  (ACCEPTED);
- JSON bodies, content types and headers match the document (schemathesis' conformance checks);
- invalid input is refused with a 4xx, never accepted;
- every error is the JSON error object {code, status, message}: no HTML, no stack trace, no SQL;
- without a token, or with a forged or garbage one, a secured operation answers 401 to any valid
  request (invalid input may be refused first, with a 4xx).

Schemathesis never generates lone surrogates (they cannot be sent as UTF-8) and rarely NUL, which
PostgreSQL cannot store either, so `test_hostile_strings` sends both to every string the
document lists, with a C1 control, a bidi override and a trailing unit separator.

Each request carries a token of its own (a fresh user), and each anonymous one its own client
address, so the rate limits (per user and webinar, per address without a token), which stay as
they are, do not turn the run into 429s. Hypothesis is derandomized and bounded (MAX_EXAMPLES per
operation and mode): a run is repeatable and takes well under a minute.
"""

import itertools
import urllib.parse
import uuid

import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    object_level_authorization,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from eventflow import auth

MAX_EXAMPLES = 30
ROLES = ("participant", "client_admin", "agency_admin", "anonymous")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
    use_after_free,
    ensure_resource_availability,
    object_level_authorization,
]
# What may answer a request the document calls valid: success, or a refusal that is about the
# caller (401, 403), the state of the world (404 another tenant's or a draft webinar, 409 an
# ended one) or its pace (429). Never a 5xx (schemathesis' own default would allow one).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]
# Deliberate: valid by the document, refused by the server, because the document cannot say why.
# A campaign_link_id must name a link of this webinar (422, documented on the operation).
POSITIVE_REFUSED = [{"include-path-regex": "/register$", "statuses": ["422"]}]
# The tokens are ours (one per request and role), not generated from the security scheme.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"with-security-parameters": False},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        "operations": [
            {
                "include-path-regex": refused["include-path-regex"],
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *refused["statuses"]]}},
            }
            for refused in POSITIVE_REFUSED
        ],
    }
)
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
)
# What an error body may never contain, unless the request said it (a message may quote input).
LEAKS = ("traceback", 'file "', "psycopg", "sqlstate", "<html", "<!doctype", "select ", "insert into", " where ")
FORGED_SECRET = "not-the-secret-" + "x" * 64
HOSTILE_STRINGS = (
    "nul \x00 inside",
    "lone surrogate \ud800",
    "\x00",
    "C1 \x85 control",
    "bidi \u202e override",
    "trailing \x1f",
)

# Anonymous callers are rate-limited by address: each anonymous request comes from its own.
_addresses = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)


@pytest.fixture
def fuzz_world(make_tenant, client, owner):
    """A live webinar with a viewer in session, a message and an answered question; a draft and
    an ended webinar of the same client (participants must find the draft missing and the ended
    one closed to their writes); and a second tenant's webinar, which the first tenant's admins
    must find missing."""
    tenant, other = make_tenant(), make_tenant()
    _, viewer = tenant.participant()
    base = f"/api/webinars/{tenant.webinar_id}"
    assert client.post(f"{base}/access/track", json={}, headers=viewer).status_code == 201
    message = client.post(f"{base}/messages", json={"body": "hello"}, headers=viewer)
    question = client.post(f"{base}/questions", json={"body": "why?"}, headers=viewer)
    assert message.status_code == 201 and question.status_code == 201
    # answered and public, so that every participant sees it (and may upvote it)
    answer = {"answer": "because"}
    answered = client.patch(f"{base}/questions/{question.json['id']}", json=answer, headers=tenant.client_admin())
    assert answered.status_code == 200
    in_other_states = [
        owner.execute(
            """insert into webinars (client_id, agency_id, slug, title, status, starts_at, ends_at)
               select client_id, agency_id, %s, title, %s, starts_at, ends_at from webinars where id = %s
               returning id""",
            (f"{status}-{uuid.uuid4().hex[:12]}", status, tenant.webinar_id),
        ).fetchone()["id"]
        for status in ("draft", "ended")
    ]
    return {
        "tenant": tenant,
        "webinar_ids": [tenant.webinar_id, *in_other_states, other.webinar_id],
        "message_id": message.json["id"],
        "question_id": question.json["id"],
    }


def _headers_for(role, tenant):
    if role == "participant":
        return tenant.participant(name="Fuzz viewer")[1]
    if role == "client_admin":
        return tenant.client_admin()
    if role == "agency_admin":
        return tenant.agency_admin()
    return {}


def _is_secured(operation):
    return bool(operation.definition.raw.get("security", operation.schema.raw_schema.get("security", [])))


def _seeded_path_parameters(path_names, world):
    """Real values for the path parameters: one set per webinar of the world."""
    if not path_names:
        return []
    seeded = []
    for webinar_id in world["webinar_ids"]:
        values = {"webinar_id": str(webinar_id), "message_id": world["message_id"], "question_id": world["question_id"]}
        seeded.append({name: value for name, value in values.items() if name in path_names})
    return seeded


def _strategy(operation, mode, world):
    path_names = {parameter.name for parameter in operation.path_parameters}
    seeded = _seeded_path_parameters(path_names, world)
    strategies = [operation.as_strategy(mode, path_parameters=values) for values in seeded]
    return st.one_of([*strategies, operation.as_strategy(mode)])


def _call(case, headers):
    return case.call(headers=headers, environ_base={"REMOTE_ADDR": next(_addresses)})


def _assert_json_error(response):
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"{response.status_code} error is {content_type!r}"
    body = response.json()
    assert isinstance(body, dict) and body.get("code") == response.status_code, body
    assert isinstance(body.get("status"), str) and isinstance(body.get("message"), str), body
    text = response.content.decode("utf-8", "replace").lower()
    sent = (urllib.parse.unquote_plus(response.request.url) + str(response.request.body or "")).lower()
    leaks = [leak for leak in LEAKS if leak in text and leak not in sent]
    assert not leaks, f"{leaks} in {text}"


def _forged_token():
    claims = {"sub": str(uuid.uuid4()), "role": auth.PARTICIPANT, "aud": "eventflow", "exp": 2**31}
    return jwt.encode(claims, FORGED_SECRET, algorithm="HS256")


def _assert_refused_without_valid_token(case, response):
    for attempt in (None, f"Bearer {_forged_token()}", "Bearer garbage"):
        answer = response if attempt is None else _call(case, {"Authorization": attempt})
        what = f"{case.operation.label} with {attempt or 'no token'}"
        if case.meta.generation.mode.is_negative:
            assert 400 <= answer.status_code < 500, f"{what}: {answer.status_code}"
        else:
            assert answer.status_code == 401, f"{what}: {answer.status_code} {answer.content[:300]!r}"
            assert "www-authenticate" in {name.lower() for name in answer.headers}, what
        _assert_json_error(answer)


def _exercise(case, role, world):
    headers = _headers_for(role, world["tenant"])
    response = _call(case, headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    _assert_json_error(response)
    if role == "anonymous" and _is_secured(case.operation):
        _assert_refused_without_valid_token(case, response)


def _settle(failures):
    assert not failures, "\n\n".join(f"== {label}\n{exc}" for label, exc in failures.items())


@pytest.mark.parametrize("role", ROLES)
def test_fuzz_api(api_schema, fuzz_world, role):
    failures = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @HYPOTHESIS
            @given(case=_strategy(operation, mode, fuzz_world))
            def fuzz(case):
                _exercise(case, role, fuzz_world)

            label = f"{mode.value} {operation.label}"
            try:
                fuzz()
            except Unsatisfiable:
                assert mode.is_negative, label  # nothing to make invalid: no parameters, no body
            except Exception as exc:  # noqa: BLE001 - every operation runs; all failures are reported together
                failures[label] = exc
    _settle(failures)


def _resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _string_inputs(document, operation):
    """(location, name) of every string the operation takes in its query or JSON body."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and "string" in str(parameter["schema"].get("type")):
            yield "query", parameter["name"]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        for name, prop in _resolve(document, body["schema"]).get("properties", {}).items():
            if "string" in str(_resolve(document, prop).get("type")):
                yield "json", name


def test_hostile_strings(client, fuzz_world):
    """NUL, a lone surrogate, C1 and bidi controls in every string input, as every role: a 4xx,
    never a 500."""
    document = client.get("/api/openapi.json").json
    tenant = fuzz_world["tenant"]
    path_values = _seeded_path_parameters({"webinar_id", "message_id", "question_id"}, fuzz_world)[0]
    failures, sent = {}, 0
    for path, operations in document["paths"].items():
        url = path.format(**path_values) if "{" in path else path
        for method, operation in operations.items():
            if method == "parameters":
                continue
            label = f"{method.upper()} {path}"
            for (location, name), value, role in itertools.product(
                _string_inputs(document, operation), HOSTILE_STRINGS, ROLES[:3]
            ):
                if location == "query" and not value.isascii():
                    continue  # a URL carries UTF-8 bytes, and a lone surrogate has none
                request = {"query_string": {name: value}} if location == "query" else {"json": {name: value}}
                headers = _headers_for(role, tenant)
                response = client.open(url, method=method.upper(), headers=headers, **request)
                sent += 1
                if response.status_code >= 500 or not response.is_json:
                    failures[label] = (
                        f"{role} {location} {name}={value!r}: {response.status_code} {response.data[:200]}"
                    )
    assert sent > 50  # the document lists strings to attack, and they were
    _settle(failures)
