"""A meeting route's statement checks the need of its row in routes.def (401,
404, 403: SPEC.md 1) before its action, and runs the action only when the
caller passed (mod_meeting/httpd/db.c, GATED); the actions no longer check it
themselves. Each case is refused and leaves the meeting as it was: were the
action run after the refusal, it would change it (end the meeting, add the
participant, start the recording or the meeting, cancel the meeting)."""
import pytest

from envelopes import assert_error
from test_join import add, members


def meeting(stack, host, **settings):
    r = stack.api("POST", "/meetings", token=host["token"], json={
        "title": "Gate", "start_time": "2030-05-01T10:00:00Z",
        "end_time": "2030-05-01T11:00:00Z", "max_participants": 10, "meeting_type": "video",
        "settings": settings})
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def detail(stack, host, mid):
    r = stack.api("GET", f"/meetings/{mid}", token=host["token"])
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.fixture
def room(stack):
    """An ongoing meeting with recording on: its creator, a second host, a
    participant and a stranger."""
    cast = {k: stack.new_user() for k in ("creator", "host", "part", "stranger")}
    mid = meeting(stack, cast["creator"], enable_recording=True)
    add(stack, cast["creator"], mid, cast["host"], "host")
    add(stack, cast["creator"], mid, cast["part"], "participant")
    r = stack.api("POST", f"/meetings/{mid}/start", token=cast["creator"]["token"])
    assert r.status_code == 200, r.text
    return mid, cast


def test_a_participant_cannot_end_the_meeting(stack, room):
    mid, cast = room
    r = stack.api("POST", f"/meetings/{mid}/end", token=cast["part"]["token"])
    assert assert_error(r, 403, "forbidden")["message"] == \
        "your role in this meeting does not allow this"
    assert detail(stack, cast["creator"], mid)["status"] == "ongoing"


def test_a_revoked_token_cannot_end_the_meeting(stack, room):
    mid, cast = room
    token = cast["host"]["token"]
    assert stack.api("POST", "/auth/logout", token=token, json={}).status_code == 200
    r = stack.api("POST", f"/meetings/{mid}/end", token=token)
    assert assert_error(r, 401, "unauthorized")["message"] == "the access token has been revoked"
    assert detail(stack, cast["creator"], mid)["status"] == "ongoing"


def test_a_stranger_cannot_add_a_participant(stack, room):
    mid, cast = room
    r = stack.api("POST", f"/meetings/{mid}/participants", token=cast["stranger"]["token"],
                  json={"user_id": cast["stranger"]["user_id"], "role": "participant"})
    assert assert_error(r, 403, "forbidden")["message"] == "you are not a member of this meeting"
    assert cast["stranger"]["user_id"] not in members(stack, cast["creator"], mid)


def test_a_participant_cannot_start_a_recording(stack, room):
    mid, cast = room
    r = stack.api("POST", f"/meetings/{mid}/recording/start", token=cast["part"]["token"])
    assert_error(r, 403, "forbidden")
    r = stack.api("GET", f"/meetings/{mid}/recordings", token=cast["creator"]["token"])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["recordings"] == []


def test_a_participant_cannot_start_the_meeting(stack):
    """start's statement also places the meeting on a node (PLACED): gated too."""
    host, part = stack.new_user(), stack.new_user()
    mid = meeting(stack, host)
    add(stack, host, mid, part, "participant")
    r = stack.api("POST", f"/meetings/{mid}/start", token=part["token"])
    assert_error(r, 403, "forbidden")
    assert detail(stack, host, mid)["status"] == "scheduled"


def test_only_the_creator_may_delete(stack):
    creator, host = stack.new_user(), stack.new_user()
    mid = meeting(stack, creator)
    add(stack, creator, mid, host, "host")
    r = stack.api("DELETE", f"/meetings/{mid}", token=host["token"])
    assert assert_error(r, 403, "forbidden")["message"] == \
        "only the creator of the meeting may do this"
    assert detail(stack, creator, mid)["status"] == "scheduled"


def test_a_missing_meeting_is_404_before_the_action(stack, room):
    _, cast = room
    r = stack.api("POST", "/meetings/999999999/end", token=cast["creator"]["token"])
    assert assert_error(r, 404, "not_found")["message"] == "meeting not found"
