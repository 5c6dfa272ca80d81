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


def is_compact(text):
    """True when the JSON text has no white space outside its string literals:
    the one style of every reply ("user_id":1, never "user_id" : 1)."""
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c in " \t\r\n":
            return False
        elif c == '"':
            in_string = True
    return True


def assert_compact(r):
    """A JSON reply body is compact (is_compact); other bodies pass."""
    if r.headers.get("Content-Type", "").startswith("application/json") and r.content:
        text = r.content.decode("utf-8")
        assert is_compact(text), f"{r.request.method} {r.url}: spaced JSON: {text}"
