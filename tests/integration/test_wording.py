"""A refusal's sentence is written once, where the refusal is decided (the
database for what needs it, the module for the request itself and the
token). These refusals moved between the two; each is told with the same
status, code, field and sentence on every path that gives it."""
import pytest

from envelopes import assert_error
from test_etag import create, put

STALE = '"' + "0" * 64 + '"'


def message(r, status, error, field=None):
    return assert_error(r, status, error, field)["message"]


def join(stack, user, mid, **kw):
    return stack.api("POST", f"/meetings/{mid}/join", token=user["token"], **kw)


def test_join_of_a_missing_meeting(stack):
    user = stack.new_user()
    assert message(join(stack, user, 999999999), 404, "not_found") == "meeting not found"


def test_join_of_a_removed_member_after_its_body(stack):
    """The removal's 403 comes from join's first statement and from its
    action alike, after a refused body (SPEC.md 1)."""
    host, guest = stack.new_user(), stack.new_user()
    mid = create(stack, host)
    r = stack.api("POST", f"/meetings/{mid}/participants", token=host["token"],
                  json={"user_id": guest["user_id"]})
    assert r.status_code == 200, r.text
    r = stack.api("DELETE", f"/meetings/{mid}/participants/{guest['user_id']}",
                  token=host["token"])
    assert r.status_code == 200, r.text
    assert_error(join(stack, guest, mid, json={"bogus": 1}), 400, "unknown_field", "bogus")
    assert message(join(stack, guest, mid), 403, "forbidden") == \
        "you were removed from this meeting"


@pytest.mark.parametrize("times, field", [
    ({"end_time": "2030-05-01T10:00:00Z"}, "end_time"),
    ({"end_time": "2030-05-01T09:00:00Z"}, "end_time")])
def test_a_create_that_ends_before_it_starts(stack, times, field):
    user = stack.new_user()
    body = {"title": "t", "start_time": "2030-05-01T10:00:00Z", "max_participants": 10,
            "meeting_type": "video", **times}
    r = stack.api("POST", "/meetings", token=user["token"], json=body)
    assert message(r, 400, "invalid_field", field) == "end_time must be after start_time"


@pytest.mark.parametrize("times, field", [
    ({"end_time": "2030-05-01T09:00:00Z"}, "end_time"),
    ({"start_time": "2030-05-01T12:00:00Z"}, "start_time")])
def test_an_update_that_ends_before_it_starts(stack, times, field):
    user = stack.new_user()
    mid = create(stack, user)
    assert message(put(stack, user, mid, times), 400, "invalid_field", field) == \
        "end_time must be after start_time"


@pytest.mark.parametrize("body", [{"bogus": 1}, {"title": "x"}])
def test_a_stale_if_match_before_and_in_the_action(stack, body):
    """A refused body's 412 is told before the action, a valid body's by it."""
    user = stack.new_user()
    mid = create(stack, user)
    assert message(put(stack, user, mid, body, if_match=STALE), 412, "precondition_failed") == \
        "the meeting has changed since the ETag in If-Match; read it again"


def test_a_revoked_token_before_and_in_the_action(stack):
    """The 401 the module tells before the action (a refused body) and the one
    the action's statement finds are one sentence."""
    user = stack.new_user()
    mid = create(stack, user)
    assert stack.api("POST", "/auth/logout", token=user["token"], json={}).status_code == 200
    for r in (put(stack, user, mid, {"bogus": 1}), put(stack, user, mid, {"title": "x"}),
              stack.api("GET", f"/meetings/{mid}/participants", token=user["token"])):
        assert message(r, 401, "unauthorized") == "the access token has been revoked"
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
