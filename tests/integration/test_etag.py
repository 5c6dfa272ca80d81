"""Concurrent edits (SPEC.md 9, issue 19): the strong ETag of a meeting.

GET /meetings/:id and PUT replies carry it; it is one per meeting, the same for
every member, and changes exactly when the detail reply would. If-None-Match
answers 304 without a body; a stale If-Match on PUT or DELETE answers 412
precondition_failed, after 401/429/404/403 and before 400/409."""
import re

import pytest

from envelopes import assert_error

STRONG = re.compile(r'^"[0-9a-f]{64}"$')


def create(s, user, **over):
    body = {"title": "etag", "description": "d", "start_time": "2030-05-01T10:00:00Z",
            "end_time": "2030-05-01T11:00:00Z", "max_participants": 10,
            "meeting_type": "video"}
    body.update(over)
    r = s.api("POST", "/meetings", token=user["token"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def get(s, user, mid, **headers):
    return s.api("GET", f"/meetings/{mid}", token=user["token"], headers=headers)


def etag(s, user, mid):
    r = get(s, user, mid)
    assert r.status_code == 200, r.text
    assert STRONG.match(r.headers["ETag"]), r.headers
    return r.headers["ETag"]


def put(s, user, mid, body, if_match=None):
    h = {"If-Match": if_match} if if_match is not None else {}
    return s.api("PUT", f"/meetings/{mid}", token=user["token"], json=body, headers=h)


def delete(s, user, mid, if_match=None):
    h = {"If-Match": if_match} if if_match is not None else {}
    return s.api("DELETE", f"/meetings/{mid}", token=user["token"], headers=h)


@pytest.fixture
def meeting(stack):
    host, member = stack.new_user(), stack.new_user()
    mid = create(stack, host)
    r = stack.api("POST", f"/meetings/{mid}/participants", token=host["token"],
                  json={"user_id": member["user_id"]})
    assert r.status_code == 200, r.text
    return stack, host, member, mid


# -- the tag ----------------------------------------------------------------

def test_one_strong_etag_per_meeting_the_same_for_every_member(meeting):
    s, host, member, mid = meeting
    tag = etag(s, host, mid)
    assert etag(s, member, mid) == tag
    assert etag(s, host, create(s, host)) != tag


def test_a_put_reply_carries_the_new_etag(meeting):
    s, host, _, mid = meeting
    before = etag(s, host, mid)
    r = put(s, host, mid, {"title": "renamed"})
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 200, "message": "Meeting updated successfully"}
    assert STRONG.match(r.headers["ETag"]) and r.headers["ETag"] != before
    assert r.headers["ETag"] == etag(s, host, mid)


@pytest.mark.parametrize("change", [
    {"title": "other"}, {"description": "other"}, {"max_participants": 11},
    {"start_time": "2030-05-01T09:00:00Z"}, {"end_time": "2030-05-01T12:00:00Z"},
    {"meeting_type": "audio"}, {"password": "pw"}, {"settings": {"enable_chat": False}},
    {"settings": {"mute_on_join": True}}])
def test_every_field_of_the_detail_changes_it(meeting, change):
    s, host, _, mid = meeting
    before = get(s, host, mid)
    assert put(s, host, mid, change).status_code == 200
    after = get(s, host, mid)
    assert after.json()["data"] != before.json()["data"]
    assert after.headers["ETag"] != before.headers["ETag"]


def test_what_the_detail_does_not_show_leaves_it(meeting):
    """Only then: a PUT that changes nothing shown, a chat message, a member
    added or going online change rows but not the detail reply."""
    s, host, member, mid = meeting
    before = get(s, host, mid)
    assert put(s, host, mid, {"title": "etag"}).status_code == 200  # the same title
    assert s.api("POST", f"/meetings/{mid}/messages", token=member["token"],
                 json={"content": "hi"}).status_code == 200
    extra = s.new_user()
    assert s.api("POST", f"/meetings/{mid}/participants", token=host["token"],
                 json={"user_id": extra["user_id"]}).status_code == 200
    after = get(s, host, mid)
    assert after.content == before.content
    assert after.headers["ETag"] == before.headers["ETag"]


def test_a_join_changes_it_only_when_the_detail_changes(meeting):
    """The detail shows no participants: a member's join leaves the ETag;
    starting the meeting changes its status, which shows."""
    s, host, member, mid = meeting
    scheduled = etag(s, host, mid)
    assert s.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    ongoing = get(s, host, mid)
    assert ongoing.json()["data"]["status"] == "ongoing"
    assert ongoing.headers["ETag"] != scheduled
    assert put(s, host, mid, {"title": "x"}, if_match=scheduled).status_code == 412
    assert s.api("POST", f"/meetings/{mid}/join", token=member["token"]).status_code == 200
    assert s.api("POST", f"/meetings/{mid}/join", token=host["token"]).status_code == 200
    after = get(s, host, mid)
    assert "participants" not in after.json()["data"]
    assert after.headers["ETag"] == ongoing.headers["ETag"]
    assert put(s, host, mid, {"title": "x"}, if_match=ongoing.headers["ETag"]).status_code \
        == 200


def test_a_hosts_join_that_starts_the_meeting_changes_it(stack):
    """The ETag read before the host joined a scheduled meeting (which starts
    it, SPEC 3.8) no longer matches: the status in the detail changed."""
    host = stack.new_user()
    mid = create(stack, host)
    before = etag(stack, host, mid)
    assert stack.api("POST", f"/meetings/{mid}/join", token=host["token"]).status_code == 200
    assert get(stack, host, mid).json()["data"]["status"] == "ongoing"
    assert etag(stack, host, mid) != before
    assert_error(put(stack, host, mid, {"title": "late"}, if_match=before), 412,
                 "precondition_failed")


# -- If-None-Match ----------------------------------------------------------

@pytest.mark.parametrize("form", ["{}", "W/{}", '"other", {}', "*"])
def test_if_none_match_answers_304_without_a_body(meeting, form):
    s, host, _, mid = meeting
    tag = etag(s, host, mid)
    r = get(s, host, mid, **{"If-None-Match": form.format(tag)})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == tag


def test_if_none_match_of_another_tag_answers_200(meeting):
    s, host, _, mid = meeting
    old = etag(s, host, mid)
    assert put(s, host, mid, {"title": "changed"}).status_code == 200
    for value in (old, '"nope"', "garbage"):
        r = get(s, host, mid, **{"If-None-Match": value})
        assert r.status_code == 200 and r.json()["data"]["title"] == "changed"


def test_if_none_match_comes_after_the_checks(meeting):
    s, host, _, mid = meeting
    stranger = s.new_user()
    assert_error(get(s, stranger, mid, **{"If-None-Match": "*"}), 403, "forbidden")
    assert_error(get(s, host, 999999999, **{"If-None-Match": "*"}), 404, "not_found")


# -- If-Match ---------------------------------------------------------------

def test_two_editors_the_second_gets_412(meeting):
    s, host, _, mid = meeting
    co = s.new_user()
    assert s.api("POST", f"/meetings/{mid}/participants", token=host["token"],
                 json={"user_id": co["user_id"], "role": "host"}).status_code == 200
    tag = etag(s, host, mid)
    assert etag(s, co, mid) == tag
    first = put(s, host, mid, {"title": "mine"}, if_match=tag)
    assert first.status_code == 200, first.text
    second = put(s, co, mid, {"title": "theirs"}, if_match=tag)
    assert_error(second, 412, "precondition_failed")
    assert etag(s, host, mid) == first.headers["ETag"]
    assert get(s, host, mid).json()["data"]["title"] == "mine"
    retry = put(s, co, mid, {"title": "theirs"}, if_match=first.headers["ETag"])
    assert retry.status_code == 200


@pytest.mark.parametrize("form", ["*", "{}", '"other", {}', '{} ,"x"', ',{},'])
def test_a_matching_if_match_lets_the_put_through(meeting, form):
    s, host, _, mid = meeting
    r = put(s, host, mid, {"title": "ok"}, if_match=form.format(etag(s, host, mid)))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("form", ["W/{}", '"other"', "garbage", '"unterminated', ""])
def test_a_weak_other_or_malformed_if_match_is_412(meeting, form):
    s, host, _, mid = meeting
    before = get(s, host, mid).content
    r = put(s, host, mid, {"title": "no"}, if_match=form.format(etag(s, host, mid)))
    assert_error(r, 412, "precondition_failed")
    assert get(s, host, mid).content == before


def test_if_match_on_delete(meeting):
    s, host, _, mid = meeting
    old = etag(s, host, mid)
    assert put(s, host, mid, {"title": "t2"}).status_code == 200
    assert_error(delete(s, host, mid, if_match=old), 412, "precondition_failed")
    assert get(s, host, mid).json()["data"]["status"] == "scheduled"
    r = delete(s, host, mid, if_match=etag(s, host, mid))
    assert r.status_code == 200, r.text
    assert get(s, host, mid).json()["data"]["status"] == "cancelled"
    # Cancelled, then removed: * matches a meeting that exists.
    assert delete(s, host, mid, if_match="*").status_code == 200
    assert get(s, host, mid).status_code == 404


# -- where 412 stands among the errors --------------------------------------

def test_412_comes_after_401_404_and_403(meeting):
    s, host, member, mid = meeting
    stale = '"' + "0" * 64 + '"'
    assert_error(put(s, member, mid, {"title": "x"}, if_match=stale), 403, "forbidden")
    assert_error(delete(s, member, mid, if_match=stale), 403, "forbidden")
    assert_error(put(s, host, 999999999, {"title": "x"}, if_match=stale), 404, "not_found")
    assert_error(delete(s, host, 999999999, if_match=stale), 404, "not_found")
    gone = s.new_user()
    gmid = create(s, gone)
    assert s.api("POST", "/auth/logout", token=gone["token"]).status_code == 200
    assert_error(put(s, gone, gmid, {"title": "x"}, if_match=stale), 401, "unauthorized")
    assert_error(put(s, gone, gmid, {"bogus": 1}, if_match=stale), 401, "unauthorized")


@pytest.mark.parametrize("body, field", [
    ({"bogus": 1}, None), ({"title": ""}, "title"), ({"max_participants": 0}, None),
    ({"start_time": "0000-01-01T00:00:00+01:00"}, None),
    ({"end_time": "2030-05-01T09:00:00Z"}, None), ({"password": "new-password"}, None)])
def test_412_comes_before_400(meeting, body, field):
    """A refused body, or the 400 the database gives on merged times, and a
    body that needs bcrypt: a stale If-Match answers first."""
    s, host, _, mid = meeting
    stale = '"' + "0" * 64 + '"'
    assert_error(put(s, host, mid, body, if_match=stale), 412, "precondition_failed")


def test_412_comes_before_409(meeting):
    s, host, _, mid = meeting
    assert s.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    stale = etag(s, host, mid)
    assert s.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    assert_error(put(s, host, mid, {"title": "x"}, if_match=stale), 412,
                 "precondition_failed")
    assert_error(put(s, host, mid, {"title": "x"}), 409, "conflict")
    ongoing = create(s, host)
    assert s.api("POST", f"/meetings/{ongoing}/start", token=host["token"]).status_code == 200
    assert_error(delete(s, host, ongoing, if_match='"' + "0" * 64 + '"'), 412,
                 "precondition_failed")
    assert_error(delete(s, host, ongoing, if_match="*"), 409, "conflict")
