"""Client pieces that need no provider: request encoding and signing, local validation, error text, retry math,
and the "nothing listening" transport failure (a real closed port, no mocks)."""

import pickle
import random
import socket
from urllib.parse import parse_qsl

import pytest

from calltasks.provider import signing
from calltasks.provider.client import OutboundBotClient, _put_list, _wire_value
from calltasks.provider.errors import ProviderError, sanitize_message
from calltasks.provider.types import JobSpec


def make_client(**kwargs):
    defaults = dict(
        endpoint="http://127.0.0.1:9",
        instance_id="inst-1",
        access_key_id="ak-id",
        access_key_secret="super-secret-value",
        connect_timeout=0.5,
        read_timeout=0.5,
        max_retries=2,
        backoff_seconds=0.1,
        backoff_max_seconds=1.0,
    )
    defaults.update(kwargs)
    return OutboundBotClient(**defaults)


def test_wire_values():
    assert _wire_value(True) == "true"
    assert _wire_value(False) == "false"
    assert _wire_value({"a": "中"}) == '{"a":"中"}'
    assert _wire_value(5) == "5"
    params = {}
    _put_list(params, "JobId", ["a", "b"])
    assert params == {"JobId.1": "a", "JobId.2": "b"}
    with pytest.raises(TypeError):
        _put_list(params, "JobId", "abc")


def test_endpoint_validation():
    assert make_client(endpoint="http://127.0.0.1:8765").url == "http://127.0.0.1:8765/"
    assert make_client(endpoint="outboundbot.cn-shanghai.aliyuncs.com").url == (
        "https://outboundbot.cn-shanghai.aliyuncs.com/"
    )
    with pytest.raises(ValueError):
        make_client(endpoint="http://127.0.0.1:8765/api")
    with pytest.raises(ValueError):
        make_client(signature_version="v2")


def test_v3_request_is_signed_over_the_form_body():
    client = make_client()
    headers, body = client._signed_request("DescribeJob", {"InstanceId": "inst-1", "JobId": "job 1"})
    assert body == b"InstanceId=inst-1&JobId=job%201"
    assert headers["x-acs-content-sha256"] == signing.sha256_hex(body)
    assert headers["host"] == "127.0.0.1:9"
    auth = signing.parse_v3_authorization(headers["Authorization"])
    assert auth["Credential"] == "ak-id"
    assert auth["SignedHeaders"] == (
        "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    )
    expected, _ = signing.sign_v3(
        method="POST",
        path="/",
        query={},
        headers=headers,
        signed_headers=auth["SignedHeaders"].split(";"),
        hashed_payload=headers["x-acs-content-sha256"],
        secret="super-secret-value",
    )
    assert auth["Signature"] == expected
    # a fresh nonce and signature on every attempt
    headers2, _ = client._signed_request("DescribeJob", {"InstanceId": "inst-1", "JobId": "job 1"})
    assert headers2["x-acs-signature-nonce"] != headers["x-acs-signature-nonce"]


def test_v1_request_carries_the_common_parameters_in_the_body():
    client = make_client(signature_version="v1")
    headers, body = client._signed_request("DescribeJob", {"InstanceId": "inst-1", "JobId": "job 1"})
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    assert params["Action"] == "DescribeJob"
    assert params["Version"] == "2019-12-26"
    assert params["Format"] == "JSON"
    assert params["SignatureMethod"] == "HMAC-SHA1"
    assert params["SignatureVersion"] == "1.0"
    assert params["AccessKeyId"] == "ak-id"
    assert params["JobId"] == "job 1"
    assert params["Signature"] == signing.sign_v1(method="POST", params=params, secret="super-secret-value")
    assert "Authorization" not in headers


def test_local_validation_refuses_oversized_batches_without_a_request():
    client = make_client()
    jobs = [JobSpec(phone_number=f"1380000{i:04d}", reference_id=f"r{i}") for i in range(100)]
    with pytest.raises(ValueError):
        client.assign_jobs(job_group_id="g", jobs=jobs)
    with pytest.raises(ValueError):
        client.assign_jobs(job_group_id="g", jobs=[])
    with pytest.raises(ValueError):
        client.list_jobs(job_ids=[str(i) for i in range(100)])
    assert client.list_jobs(job_ids=[]) == []
    with pytest.raises(ValueError):
        client.cancel_jobs(all=True)  # would cancel the whole instance
    with pytest.raises(ValueError):
        client.suspend_jobs()


def test_error_text_never_contains_secrets_or_phone_numbers():
    err = ProviderError(
        "InvalidParameter",
        "bad phoneNumber 13812345678 in %2213912345678%22 key super-secret-value",
        http_status=400,
        request_id="req-1",
        action="AssignJobs",
        secrets=("super-secret-value",),
    )
    text = str(err)
    assert "13812345678" not in text and "13912345678" not in text
    assert "138****5678" in text
    assert "super-secret-value" not in text
    assert "AssignJobs: InvalidParameter" in text and "request_id=req-1" in text
    msg = sanitize_message("Specified signature is not matched. server string to sign is:POST&%2F&Phone%3D13812345678")
    assert "13812345678" not in msg and "string to sign" not in msg.split("[")[0]
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.code, clone.http_status, clone.action) == ("InvalidParameter", 400, "AssignJobs")


def test_backoff_is_full_jitter_and_bounded():
    client = make_client(backoff_seconds=0.5, backoff_max_seconds=2.0, rng=random.Random(1))
    for attempt in range(1, 8):
        ceiling = client._backoff_ceiling(attempt)
        assert ceiling == min(2.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(20):
            assert 0 <= client._backoff(attempt) <= ceiling


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("action", ["describe", "assign"])
def test_connection_refused_is_retried_even_for_assign_jobs(action, caplog):
    sleeps = []
    client = make_client(endpoint=f"http://127.0.0.1:{_closed_port()}", sleep=sleeps.append)
    with pytest.raises(ProviderError) as info:
        if action == "describe":
            client.describe_job(job_id="j1")
        else:
            client.assign_jobs(job_group_id="g", jobs=[JobSpec(phone_number="13812345678", reference_id="r1")])
    err = info.value
    assert err.code == "NetworkError"
    assert err.retryable is True
    assert err.ambiguous is False  # nothing ever reached the service
    assert err.attempts == 3
    assert len(sleeps) == 2
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert all("13812345678" not in r.getMessage() for r in caplog.records)
