"""Malformed input on the seed endpoints → a 4xx in the seed envelope (400 for bad bodies), never a 5xx or HTML.

Table-driven: every POST seed endpoint at both mounts gets the generic malformed bodies (not JSON, invalid UTF-8,
JSON array / scalar / null, missing fields, wrong types, huge and non-finite numbers, NUL characters, oversized
strings); endpoint-specific rows cover bad dates (including the first and last representable day), date ranges,
strategies, pagination, batch sizes and unicode. Unmatched API paths answer 404 in the documented JSON shape.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from calltasks.models import CallTask
from tests.security.conftest import Tenant
from tests.security.test_fuzz_api import assert_drf_error_shape, assert_seed_error_envelope

pytestmark = pytest.mark.django_db

BAD_REQUEST = frozenset({400})

# Endpoints taking {"task_id": …} (plus their own fields).
TASK_ID_ENDPOINTS = {
    "query-task-execution": {},
    "check_task_completion": {},
    "start-call-task": {},
    "suspend-resume-task": {"action": "suspend"},
    "cancel-call-task": {},
    "delete-call-task": {},
}
POST_ENDPOINTS = [*TASK_ID_ENDPOINTS, "create-autoCall-tasks", "auto-task"]

# (id, raw body) — raw strings are sent as they are with Content-Type: application/json.
GENERIC_RAW = [
    ("not-json", "task_id=1"),
    ("truncated-json", '{"task_id": 1'),
    ("empty-body", ""),
    ("json-array", "[]"),
    ("json-array-of-objects", '[{"task_id": 1}]'),
    ("json-null", "null"),
    ("json-number", "1"),
    ("json-string", '"task_id"'),
    ("json-true", "true"),
    ("nan", '{"task_id": NaN}'),
    ("infinity", '{"task_id": Infinity}'),
    ("empty-object", "{}"),
]

# Values for task_id (and, for create, task_name) that must be rejected.
BAD_TASK_IDS = [
    ("string", "abc"),
    ("unicode-string", "任务一"),
    ("float", 1.5),
    ("bool", True),
    ("list", [1]),
    ("object", {"id": 1}),
    ("null", None),
    ("zero", 0),
    ("negative", -1),
    ("huge", 10**30),
    ("int64-overflow", 2**63),
    ("oversized-string", "9" * 100_000),
    ("nul-char", "1\x00"),
]


def client_for(tenant: Tenant) -> Client:
    client = Client()
    client.defaults["HTTP_ACCESS_TOKEN"] = tenant.token.key
    return client


def post_raw(client: Client, path: str, raw: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", path, raw, content_type=content_type)


def assert_envelope_error(response, expected: frozenset = BAD_REQUEST) -> dict:
    assert response.status_code in expected, (response.status_code, response.content[:400])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert_seed_error_envelope(body, response.status_code)
    return body


@pytest.fixture
def client(tenant_a: Tenant) -> Client:
    return client_for(tenant_a)


@pytest.mark.parametrize("prefix", ["/", "/api/"])
@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_generic_malformed_bodies(client, prefix, endpoint, tenant_a):
    tasks_before = CallTask.objects.count()
    failures = []
    for case_id, raw in GENERIC_RAW:
        response = post_raw(client, prefix + endpoint, raw)
        try:
            assert_envelope_error(response)
        except AssertionError as exc:
            failures.append(f"{case_id}: {exc}")
    response = post_raw(client, prefix + endpoint, b'{"task_id": "\xff\xfe"}')
    try:
        assert_envelope_error(response)
    except AssertionError as exc:
        failures.append(f"invalid-utf8: {exc}")
    assert not failures, "\n".join(failures)
    assert CallTask.objects.count() == tasks_before


@pytest.mark.parametrize("endpoint", TASK_ID_ENDPOINTS)
@pytest.mark.parametrize(("case_id", "value"), BAD_TASK_IDS, ids=[case for case, _v in BAD_TASK_IDS])
def test_bad_task_ids(client, endpoint, case_id, value, tenant_a):
    body = {**TASK_ID_ENDPOINTS[endpoint], "task_id": value}
    assert_envelope_error(post_raw(client, "/" + endpoint, json.dumps(body)))


def test_wrong_content_type_is_415_envelope(client):
    response = post_raw(client, "/start-call-task", "task_id=1", content_type="application/x-www-form-urlencoded")
    assert_envelope_error(response, frozenset({415}))
    response = post_raw(client, "/api/cancel-call-task", '{"task_id": 1}', content_type="text/plain")
    assert_envelope_error(response, frozenset({415}))


def test_oversized_body_is_rejected_in_the_envelope(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"task_name": "大", "leads_ids": ["L" * 40] * 1_000})
    assert len(body) > 10_000
    assert_envelope_error(post_raw(client, "/create-autoCall-tasks", body), frozenset({400, 413}))


CREATE_CASES = [
    ("task_name-missing", {"leads_ids": ["x"]}),
    ("task_name-null", {"task_name": None, "leads_ids": ["x"]}),
    ("task_name-number", {"task_name": {"a": 1}, "leads_ids": ["x"]}),
    ("task_name-oversized", {"task_name": "名" * 10_000, "leads_ids": ["x"]}),
    ("task_name-nul", {"task_name": "任务\x00", "leads_ids": ["x"]}),
    ("task_name-blank", {"task_name": "   ", "leads_ids": ["x"]}),
    ("no-filter", {"task_name": "t"}),
    ("leads_ids-string", {"task_name": "t", "leads_ids": "L1,L2"}),
    ("leads_ids-nested", {"task_name": "t", "leads_ids": [["L1"]]}),
    ("leads_ids-oversized-item", {"task_name": "t", "leads_ids": ["L" * 10_000]}),
    ("leads_ids-nul", {"task_name": "t", "leads_ids": ["L\x00"]}),
    ("size_desc-list", {"task_name": "t", "size_desc": ["H级"]}),
    ("size_desc-string", {"task_name": "t", "size_desc": "H级"}),
    ("size_desc-leads_type-string", {"task_name": "t", "size_desc": {"leads_type": "H级"}}),
    ("size_desc-leads_type-oversized", {"task_name": "t", "size_desc": {"leads_type": ["H" * 1000]}}),
    ("size_desc-is_arrive-2", {"task_name": "t", "size_desc": {"is_arrive": [2]}}),
    ("size_desc-is_arrive-huge", {"task_name": "t", "size_desc": {"is_arrive": [10**30]}}),
    ("date-month-13", {"task_name": "t", "size_desc": {"latest_follow_start": "2025-13-01"}}),
    ("date-day-32", {"task_name": "t", "size_desc": {"latest_follow_end": "2025-01-32"}}),
    ("date-words", {"task_name": "t", "size_desc": {"first_follow_start": "yesterday"}}),
    ("date-number", {"task_name": "t", "size_desc": {"first_follow_start": 20250101}}),
    ("date-five-digit-year", {"task_name": "t", "size_desc": {"next_follow_start": "99999-01-01"}}),
    ("date-suffix", {"task_name": "t", "size_desc": {"next_follow_start": "2025-01-01x"}}),
    (
        "date-end-before-start",
        {"task_name": "t", "size_desc": {"first_follow_start": "2025-02-01", "first_follow_end": "2025-01-01"}},
    ),
    ("range-bad-string", {"task_name": "t", "size_desc": {"latest_follow_ranges": ["2025-01-01;2025-02-01"]}}),
    ("range-bad-date", {"task_name": "t", "size_desc": {"latest_follow_ranges": ["2025-01-01,2025-02-30"]}}),
    ("range-three-items", {"task_name": "t", "size_desc": {"latest_follow_ranges": [["2025-01-01", None, None]]}}),
    ("range-reversed", {"task_name": "t", "size_desc": {"latest_follow_ranges": ["2025-02-01,2025-01-01"]}}),
    ("range-not-list", {"task_name": "t", "size_desc": {"latest_follow_ranges": {"start": 1}}}),
    ("ranges-too-many", {"task_name": "t", "size_desc": {"next_follow_ranges": ["2025-01-01,2025-01-02"] * 51}}),
    ("auto_start-string", {"task_name": "t", "leads_ids": ["x"], "auto_start": "maybe"}),
    ("auto_start-without-script", {"task_name": "t", "leads_ids": ["x"], "auto_start": True}),
    ("script_id-oversized", {"task_name": "t", "leads_ids": ["x"], "script_id": "s" * 1000}),
    ("strategy-list", {"task_name": "t", "leads_ids": ["x"], "strategy": [1, 2]}),
    ("strategy-bad-window", {"task_name": "t", "leads_ids": ["x"], "strategy": {"working_time": "25:00-26:00"}}),
    ("strategy-bad-type", {"task_name": "t", "leads_ids": ["x"], "strategy": {"max_attempts_per_day": "many"}}),
    ("strategy-negative", {"task_name": "t", "leads_ids": ["x"], "strategy": {"max_attempts_per_day": -3}}),
    ("strategy-huge", {"task_name": "t", "leads_ids": ["x"], "strategy": {"min_attempt_interval_minutes": 10**30}}),
]


@pytest.mark.parametrize(("case_id", "body"), CREATE_CASES, ids=[case for case, _b in CREATE_CASES])
def test_create_rejects(client, case_id, body, tenant_a):
    tasks_before = CallTask.objects.count()
    assert_envelope_error(post_raw(client, "/create-autoCall-tasks", json.dumps(body)), frozenset({400, 422}))
    assert CallTask.objects.count() == tasks_before


# The first and last representable days: local-day bounds overflowed into a 500 (OverflowError) before the
# accepted days were bounded to 1900–2999; now they are a 400 in the envelope.
EDGE_DATES = ["0001-01-01", "9999-12-31"]


@pytest.mark.parametrize("dimension", ["first_follow", "latest_follow", "next_follow"])
@pytest.mark.parametrize("day", EDGE_DATES)
def test_create_with_extreme_dates_never_fails_with_5xx(client, dimension, day, tenant_a):
    for size_desc in (
        {f"{dimension}_start": day},
        {f"{dimension}_end": day},
        {f"{dimension}_ranges": [f"{day},{day}"]},
    ):
        response = post_raw(
            client, "/create-autoCall-tasks", json.dumps({"task_name": "边界日期", "size_desc": size_desc})
        )
        assert_envelope_error(response)


def test_unicode_task_name_round_trips(client, tenant_a):
    name = "回访🚗 ‮RTL‬ 𠮷 é"
    response = post_raw(
        client,
        "/create-autoCall-tasks",
        json.dumps({"task_name": name, "leads_ids": [tenant_a.leads[0].leads_id], "include_active": True}),
    )
    assert response.status_code == 200, response.content[:300]
    assert json.loads(response.content)["data"]["task_name"] == name


PAGINATION_CASES = [
    ("page-zero", {"page": 0}),
    ("page-negative", {"page": -1}),
    ("page-string", {"page": "x"}),
    ("page-float", {"page": 1.5}),
    ("page-null", {"page": None}),
    ("page_size-zero", {"page_size": 0}),
    ("page_size-huge", {"page_size": 10**6}),
    ("page_size-string", {"page_size": "all"}),
    ("interest-bad", {"interest": "maybe"}),
    ("interest-number", {"interest": 7}),
    ("refresh-string", {"refresh": "sometimes"}),
]


@pytest.mark.parametrize(("case_id", "extra"), PAGINATION_CASES, ids=[case for case, _e in PAGINATION_CASES])
def test_query_execution_rejects_bad_pagination(client, case_id, extra, tenant_a):
    body = {"task_id": tenant_a.done_task.pk, **extra}
    assert_envelope_error(post_raw(client, "/query-task-execution", json.dumps(body)))


def test_query_execution_page_beyond_the_end_is_clamped(client, tenant_a):
    body = {"task_id": tenant_a.done_task.pk, "page": 10**30}
    response = post_raw(client, "/query-task-execution", json.dumps(body))
    assert response.status_code == 200
    assert json.loads(response.content)["data"]["pagination"]["page"] == 1


QUERY_PARAM_CASES = ["page=0", "page=-5", "page=abc", "page_size=0", "page_size=201", "page_size=1e3", "page=1%00"]


@pytest.mark.parametrize("query", QUERY_PARAM_CASES)
def test_followup_records_rejects_bad_query_params(client, query, tenant_a):
    assert_envelope_error(client.get(f"/api/task_followup_records/{tenant_a.done_task.pk}?{query}"))


BAD_PATH_IDS = ["abc", "0", "-1", "1.5", "99999999999999999999999999", "%E4%BB%BB", "1%00"]


@pytest.mark.parametrize("path", ["/check_task_completion/{}", "/api/task_followup_records/{}"])
@pytest.mark.parametrize("task_id", BAD_PATH_IDS)
def test_bad_path_ids(client, path, task_id):
    assert_envelope_error(client.get(path.format(task_id)), frozenset({400, 404}))


BATCH_CASES = [
    ("empty", {"task_ids": []}),
    ("too-many", {"task_ids": list(range(1, 102))}),
    ("strings", {"task_ids": ["a"]}),
    ("huge", {"task_ids": [2**63]}),
    ("both", {"task_id": 1, "task_ids": [1]}),
    ("not-list", {"task_ids": 5}),
    ("task_type-bad", {"task_id": 1, "task_type": 9}),
]


@pytest.mark.parametrize(("case_id", "body"), BATCH_CASES, ids=[case for case, _b in BATCH_CASES])
def test_completion_batch_rejects(client, case_id, body):
    assert_envelope_error(post_raw(client, "/check_task_completion", json.dumps(body)))


@pytest.mark.parametrize("body", [{"action": "bogus"}, {"action": None}, {"action": 1}, {"action": ["start"]}])
def test_auto_task_rejects(client, body):
    assert_envelope_error(post_raw(client, "/auto-task", json.dumps(body)))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "x"},
        {"username": None, "password": None},
        {"username": "u" * 1000, "password": "p"},
        {"username": ["a"], "password": "p"},
        {"username": "a\x00", "password": "p"},
    ],
)
def test_login_rejects(body, db):
    assert_envelope_error(post_raw(Client(), "/api/login", json.dumps(body)))


UNMATCHED_SEED_PATHS = ["/check_task_completion/1/2", "/api/task_followup_records/a/b/c", "/api/nope", "/api/v2/x"]


@pytest.mark.parametrize("path", UNMATCHED_SEED_PATHS)
def test_unmatched_seed_paths_are_enveloped_404(client, path):
    assert_envelope_error(client.get(path), frozenset({404}))


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope/", "/api/v1/call-tasks/-1.5e-3/pause/", "/api/v1/leads/a/b/", "/api/v1/call-tasks/1.x-y/"],
)
def test_unmatched_rest_paths_are_drf_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert_drf_error_shape(json.loads(response.content))


def test_other_unmatched_paths_keep_the_html_page(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# Comma-separated string filters passed a NUL character straight to the database: a 500 on PostgreSQL
# ("A string literal cannot contain NUL") before they validated each item as a form CharField.
NUL_QUERIES = [
    "/api/v1/leads/?leads_type=%00",
    "/api/v1/leads/?leads_product=a%00",
    "/api/v1/leads/?leads_id=%00",
    "/api/v1/call-tasks/?task_name=%00",
    "/api/v1/lead-rows/?call_status=a%00b",
    "/api/v1/lead-rows/?is_interested=%00",
    "/api/v1/call-records/?call_status=%00",
    "/api/v1/call-records/?job_id=%00",
    "/api/v1/follow-ups/?judge=%00",
    "/api/v1/follow-ups/?source=%00",
]


@pytest.mark.parametrize("query", NUL_QUERIES)
def test_rest_filters_reject_nul_characters(client, query):
    response = client.get(query)
    assert response.status_code == 400, response.content[:300]
    assert_drf_error_shape(json.loads(response.content))


# Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59: found by the fuzzer as a 500 on
# PostgreSQL. Date-time filters now reach the database in UTC; a value outside years 1–9999 in UTC is a 400.
DATETIME_FILTERS = [
    ("/api/v1/leads/", "created_after"),
    ("/api/v1/leads/", "created_before"),
    ("/api/v1/call-tasks/", "created_after"),
    ("/api/v1/task-statistics/", "created_before"),
    ("/api/v1/follow-ups/", "next_follow_after"),
    ("/api/v1/follow-ups/", "follow_before"),
]
EXTREME_DATETIMES = [
    ("0440-01-07T18:36:30.6-21:18", 200),
    ("3214-10-18T21:42:52-19:20", 200),
    ("2025-01-01T00:00:00+23:59", 200),
    ("0001-01-01T00:00:00+08:00", 400),
    ("9999-12-31T23:59:59-08:00", 400),
    ("0001-01-01", 400),
    ("not-a-date", 400),
]


@pytest.mark.parametrize(("path", "param"), DATETIME_FILTERS)
def test_rest_datetime_filters_with_extreme_offsets(client, path, param):
    for value, expected in EXTREME_DATETIMES:
        response = client.get(path, {param: value})
        assert response.status_code == expected, (path, param, value, response.content[:300])
        if expected == 400:
            assert_drf_error_shape(json.loads(response.content))
