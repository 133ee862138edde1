"""The signer against the §4.6 test vectors of reference/outboundbot-api.md (byte for byte)."""

from calltasks.provider.signing import (
    EMPTY_BODY_SHA256,
    canonical_query,
    parse_v3_authorization,
    percent_encode,
    sha256_hex,
    sign_v1,
    sign_v3,
    v3_authorization,
)


def test_percent_encoding_follows_rfc3986():
    assert percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"
    assert canonical_query({"b": "2", "a": "1 1"}) == "a=1%201&b=2"


def test_v1_vector():
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeJob",
        "Format": "JSON",
        "InstanceId": "inst-1",
        "JobId": "job 1",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "nonce-123",
        "SignatureVersion": "1.0",
        "Timestamp": "2026-01-01T00:00:00Z",
        "Version": "2019-12-26",
    }
    assert sign_v1(method="POST", params=params, secret="testsecret") == "K/D7DdgMPZpSydzcNCeadb8L4A8="
    # The Signature parameter itself is never part of the signed string.
    assert sign_v1(method="POST", params={**params, "Signature": "x"}, secret="testsecret") == "K/D7DdgMPZpSydzcNCeadb8L4A8="


def test_v3_vector():
    body = b"InstanceId=inst-1&JobId=job%201"
    assert sha256_hex(body) == "983497d313e5be52407ca91b8d4ef7dfa3e6e6e749075899318c574af9d627b3"
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "host": "outboundbot.cn-shanghai.aliyuncs.com",
        "x-acs-action": "DescribeJob",
        "x-acs-version": "2019-12-26",
        "x-acs-date": "2026-01-01T00:00:00Z",
        "x-acs-signature-nonce": "nonce-123",
        "x-acs-content-sha256": sha256_hex(body),
    }
    signature, signed = sign_v3(
        method="POST",
        path="/",
        query={},
        headers=headers,
        signed_headers=headers.keys(),
        hashed_payload=sha256_hex(body),
        secret="testsecret",
    )
    assert signature == "71f2cf0f5b57d1c33140659f091dd90f3ad79c4e123066556754d332db25a9b1"
    assert signed == "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    auth = v3_authorization(access_key_id="testid", signed_headers=signed, signature=signature)
    assert parse_v3_authorization(auth) == {"Credential": "testid", "SignedHeaders": signed, "Signature": signature}


def test_v3_header_names_are_case_insensitive_and_values_trimmed():
    base = {"Host": " h:1 ", "X-Acs-Action": "A"}
    sig1, _ = sign_v3(method="post", path="/", query={}, headers=base, signed_headers=["host", "x-acs-action"],
                      hashed_payload=EMPTY_BODY_SHA256, secret="s")
    sig2, _ = sign_v3(method="POST", path="/", query={}, headers={"host": "h:1", "x-acs-action": "A"},
                      signed_headers=["X-Acs-Action", "Host"], hashed_payload=EMPTY_BODY_SHA256, secret="s")
    assert sig1 == sig2


def test_malformed_authorization_is_rejected():
    assert parse_v3_authorization("") is None
    assert parse_v3_authorization("HMAC x") is None
    assert parse_v3_authorization("ACS3-HMAC-SHA256 Credential=a,Signature=b") is None
