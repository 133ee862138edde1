"""RPC parameter parsing: merged query + form body, ``Name.N`` lists, booleans, JSON strings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from calltasks.simulator.wire import Request

_INDEXED = re.compile(r"^(?P<name>.+)\.(?P<index>\d+)$")


class RpcError(Exception):
    """An error answer. ``product`` errors carry ``Success:false`` and ``HttpStatusCode`` too."""

    def __init__(
        self, status: int, code: str, message: str, *, product: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.product = product
        self.headers = headers or {}


def invalid(name: str, detail: str) -> RpcError:
    return RpcError(400, "InvalidParameter", f"The parameter {name} is invalid: {detail}", product=True)


def missing(name: str) -> RpcError:
    return RpcError(
        400, "MissingParameter", f'The input parameter "{name}" that is mandatory for processing this request is not supplied.', product=True
    )


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    return parse_qsl(query_string, keep_blank_values=True)


def merged_params(request: Request) -> dict[str, str]:
    """Query parameters, then form-body parameters (the body wins on a clash)."""
    params = dict(query_pairs(request.query_string))
    if request.body:
        content_type = request.headers.get("content-type", "")
        text = request.body.decode("utf-8", errors="replace")
        if "json" in content_type:
            try:
                data = json.loads(text)
            except ValueError:
                raise invalid("body", "not valid JSON")
            if isinstance(data, dict):
                params.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
        else:
            params.update(parse_qsl(text, keep_blank_values=True))
    return params


class Params:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing(name)
        return value

    def boolean(self, name: str, default: bool | None = None, *, required: bool = False) -> bool | None:
        value = self.get(name)
        if value is None:
            if required:
                raise missing(name)
            return default
        lowered = value.strip().lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
        raise invalid(name, f"expected true or false, got {value!r}")

    def integer(self, name: str, default: int | None = None, *, required: bool = False, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            if required:
                raise missing(name)
            return default
        try:
            number = int(value)
        except ValueError:
            raise invalid(name, f"expected an integer, got {value!r}")
        if minimum is not None and number < minimum:
            raise invalid(name, f"must be >= {minimum}")
        if maximum is not None and number > maximum:
            raise invalid(name, f"must be <= {maximum}")
        return number

    def json(self, name: str, default: object = None) -> object:
        value = self.get(name)
        if value is None:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise invalid(name, "not a valid JSON string")

    def json_string_list(self, name: str) -> list[str] | None:
        """A JSON array of strings given as a string (TaskStatusFilter, JobFailureReasonsFilter)."""
        data = self.json(name)
        if data is None:
            return None
        if isinstance(data, str):
            return [data]
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise invalid(name, "expected a JSON array of strings")
        return data

    def repeated(self, name: str) -> list[str]:
        """``Name.1``, ``Name.2``, … in index order; a bare ``Name`` holding a JSON array also works."""
        indexed: list[tuple[int, str]] = []
        for key, value in self.values.items():
            match = _INDEXED.match(key)
            if match and match.group("name") == name and value != "":
                indexed.append((int(match.group("index")), value))
        values = [value for _index, value in sorted(indexed)]
        bare = self.get(name)
        if bare is not None:
            try:
                data = json.loads(bare)
            except ValueError:
                data = bare
            if isinstance(data, list):
                values += [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in data]
            else:
                values.append(bare)
        return values
