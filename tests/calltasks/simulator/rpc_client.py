"""A minimal signed OutboundBot client for the simulator tests, built on calltasks.provider.signing only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from calltasks.provider.signing import percent_encode, sha256_hex, sign_v1, sign_v3, v3_authorization

TIMEOUT = (2.0, 10.0)


def utc_stamp(when: datetime | None = None) -> str:
    return (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def flatten(params: dict) -> dict[str, str]:
    """Lists → ``Name.N``; dicts/lists of dicts → JSON strings; booleans → ``True``/``False`` (as the SDKs)."""
    flat: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value, start=1):
                flat[f"{name}.{index}"] = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        elif isinstance(value, dict):
            flat[name] = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, bool):
            flat[name] = str(value)
        else:
            flat[name] = str(value)
    return flat


def encode(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())


class SimClient:
    def __init__(self, url: str, *, key_id: str, secret: str, instance_id: str, version: str = "v3") -> None:
        self.url = url.rstrip("/") + "/"
        self.key_id = key_id
        self.secret = secret
        self.instance_id = instance_id
        self.version = version
        self.session = requests.Session()

    def call(
        self,
        action: str,
        params: dict | None = None,
        *,
        version: str | None = None,
        method: str = "POST",
        timestamp: str | None = None,
        nonce: str | None = None,
        secret: str | None = None,
        key_id: str | None = None,
        with_instance: bool = True,
        tamper_body: bool = False,
        timeout: float | tuple[float, float] = TIMEOUT,
    ) -> requests.Response:
        flat = flatten({**({"InstanceId": self.instance_id} if with_instance else {}), **(params or {})})
        version = version or self.version
        nonce = nonce or uuid.uuid4().hex
        timestamp = timestamp or utc_stamp()
        secret = secret or self.secret
        key_id = key_id or self.key_id
        if version == "v1":
            common = {
                "Action": action,
                "Version": "2019-12-26",
                "Format": "JSON",
                "AccessKeyId": key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureNonce": nonce,
                "Timestamp": timestamp,
            }
            query = {**common, **flat}
            query["Signature"] = sign_v1(method=method, params=query, secret=secret)
            return self.session.request(method, f"{self.url}?{encode(query)}", timeout=timeout)
        body = encode(flat).encode()
        host = urlsplit(self.url).netloc
        headers = {
            "host": host,
            "x-acs-action": action,
            "x-acs-version": "2019-12-26",
            "x-acs-date": timestamp,
            "x-acs-signature-nonce": nonce,
            "x-acs-content-sha256": sha256_hex(body),
            "content-type": "application/x-www-form-urlencoded",
        }
        signature, signed = sign_v3(
            method=method, path="/", query={}, headers=headers, signed_headers=headers.keys(), hashed_payload=sha256_hex(body), secret=secret
        )
        headers["Authorization"] = v3_authorization(access_key_id=key_id, signed_headers=signed, signature=signature)
        if tamper_body:
            body = body + b"&Extra=1"
        return self.session.request(method, self.url, data=body, headers=headers, timeout=timeout)

    def ok(self, action: str, params: dict | None = None, **kwargs) -> dict:
        response = self.call(action, params, **kwargs)
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["Success"] is True and data["Code"] == "OK", data
        return data

    def error(self, action: str, params: dict | None = None, *, status: int, code: str, **kwargs) -> dict:
        response = self.call(action, params, **kwargs)
        assert response.status_code == status, response.text
        data = response.json()
        assert data["Code"] == code, data
        assert data["RequestId"] and data["Message"]
        return data

    # --- conveniences -----------------------------------------------------------------------------
    def create_group(self, name: str = "任务_1_测试", strategy: dict | None = None, **extra) -> str:
        params = {"JobGroupName": name, "ScriptId": "script-1", **extra}
        if strategy is not None:
            params["StrategyJson"] = strategy
        return self.ok("CreateJobGroup", params)["JobGroup"]["JobGroupId"]

    def assign(self, group_id: str, leads: list[dict], *, batch: int = 25, **extra) -> list[str]:
        """leads: ``{"phone", "ref", "name"?, "product"?}``, sent in batches of ``batch``."""
        ids: list[str] = []
        for start in range(0, len(leads), batch):
            ids += self._assign(group_id, leads[start : start + batch], **extra)
        return ids

    def _assign(self, group_id: str, leads: list[dict], **extra) -> list[str]:
        jobs = []
        for lead in leads:
            contact = {"phoneNumber": lead["phone"], "referenceId": lead["ref"], "name": lead.get("name", "张三")}
            extras = [{"key": "product", "value": lead["product"]}] if lead.get("product") else []
            jobs.append({"contacts": [contact], "extras": extras})
        data = self.ok("AssignJobs", {"JobGroupId": group_id, "JobsJson": jobs, **extra})
        return data["JobsId"]

    def all_jobs(self, group_id: str, **filters) -> list[dict]:
        page, items = 1, []
        while True:
            data = self.ok("QueryJobsWithResult", {"JobGroupId": group_id, "PageNumber": page, "PageSize": 100, **filters})["Jobs"]
            items += data["List"]
            if page >= data["PageCount"]:
                return items
            page += 1


def leads(count: int, *, prefix: str = "dcc-1", start: int = 0) -> list[dict]:
    return [{"phone": f"138{start + i:08d}", "ref": f"{prefix}-{start + i}", "name": f"客户{start + i}"} for i in range(count)]
