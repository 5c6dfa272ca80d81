"""Assertions on the reply envelopes of SPEC.md 1, shared by the API tests."""

ANY = object()
ERROR_KEYS = {"code", "message", "error", "field", "request_id"}


def assert_error(r, status, error, field=None):
    """The error envelope: status and error code as given, a message, nothing
    else but request_id; field None means no field is named, ANY skips it."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    j = r.json()
    assert j["code"] == status and j["error"] == error, j
    assert isinstance(j["message"], str) and j["message"], j
    assert set(j) <= ERROR_KEYS, j
    if field is not ANY:
        assert j.get("field") == field, j
    return j
