"""`header` (service/middleware.py): a request header read from the ASGI scope as `Request.headers.get` answers it."""

from __future__ import annotations

from starlette.requests import Request

from service.middleware import header


def test_the_first_value_of_a_header_or_none() -> None:
    raw = [(b"host", b"x"), (b"content-type", b"text/csv"), (b"content-type", b"application/json")]
    scope = {"type": "http", "headers": raw}
    assert header(scope, b"content-type") == Request(scope).headers.get("content-type") == "text/csv"
    assert header(scope, b"content-length") is None
    assert Request(scope).headers.get("content-length") is None


def test_latin_1_values_decode_as_starlette_decodes_them() -> None:
    scope = {"type": "http", "headers": [(b"x-model", "caf\u00e9".encode("latin-1"))]}
    assert header(scope, b"x-model") == Request(scope).headers["x-model"] == "caf\u00e9"
