"""Meetings (seed 3.1-3.7, SPEC.md 3): create, list, read, update, delete, start, end.

Shapes are checked against the seed document exactly; SPEC.md fills in the rules
(validation, visibility, the state machine, the order of competing errors)."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from envelopes import ANY, assert_error
from jwtutil import claims_of

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

START = "2030-05-01T10:00:00Z"
END = "2030-05-01T11:00:00Z"

CREATE_KEYS = {"meeting_id", "title", "description", "start_time", "end_time",
               "max_participants", "meeting_type", "status", "creator_id", "created_at"}
# The seed's 3.3 keys, plus has_password (SPEC.md 3.1).
DETAIL_KEYS = CREATE_KEYS | {"settings", "has_password"}
SEED_SETTINGS = {"enable_recording", "enable_chat", "enable_screen_share"}
ALL_SETTINGS = {"enable_recording": False, "enable_chat": True, "enable_screen_share": True,
                "enable_waiting_room": False, "mute_on_join": False}
LIST_ITEM_KEYS = {"meeting_id", "title", "start_time", "end_time", "status",
                  "participant_count"}


def body(**over):
    b = {"title": "Team Meeting", "description": "Weekly team sync", "start_time": START,
         "end_time": END, "max_participants": 10, "meeting_type": "video"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


def create(stack, user, **over):
    r = stack.api("POST", "/meetings", token=user["token"], json=body(**over))
    assert r.status_code == 201, r.text
    return r.json()["data"]


def get(stack, user, mid):
    return stack.api("GET", f"/meetings/{mid}", token=user["token"])


def listing(stack, user, **params):
    params.setdefault("page", 1)
    params.setdefault("page_size", 100)
    return stack.api("GET", "/meetings", token=user["token"], params=params)


def assert_ok(r, status=200, message=None, data=True):
    """The success envelope: code == status, message as given, data present or not."""
    assert r.status_code == status, r.text
    j = r.json()
    assert j["code"] == status
    keys = {"code"} | ({"message"} if message else set()) | ({"data"} if data else set())
    assert set(j) == keys, j
    if message:
        assert j["message"] == message
    return j.get("data")


@pytest.fixture(scope="module")
def alice(stack):
    return stack.new_user()


@pytest.fixture(scope="module")
def bob(stack):
    return stack.new_user()


def fresh(stack):
    return stack.new_user()


# ---------------------------------------------------------------- create (3.1)

def test_create_answers_201_in_the_documented_shape(stack, alice):
    r = stack.api("POST", "/meetings", token=alice["token"], json=body())
    d = assert_ok(r, 201, "Meeting created successfully")
    assert set(d) == CREATE_KEYS
    assert isinstance(d["meeting_id"], int) and d["meeting_id"] > 0
    assert d["title"] == "Team Meeting" and d["description"] == "Weekly team sync"
    assert d["start_time"] == START and d["end_time"] == END
    assert d["max_participants"] == 10 and d["meeting_type"] == "video"
    assert d["status"] == "scheduled" and d["creator_id"] == alice["user_id"]
    assert TS.match(d["created_at"])
    assert r.headers["Content-Type"].startswith("application/json")


def test_create_makes_the_creator_an_offline_host(stack, alice):
    m = create(stack, alice)
    r = stack.api("GET", f"/meetings/{m['meeting_id']}/participants", token=alice["token"])
    ps = r.json()["data"]["participants"]
    assert len(ps) == 1
    assert ps[0]["user_id"] == alice["user_id"]
    assert ps[0]["role"] == "host" and ps[0]["status"] == "offline"


def test_create_minimal_body_gets_defaults(stack, alice):
    m = create(stack, alice, description=..., meeting_type="audio")
    assert m["description"] == "" and m["meeting_type"] == "audio"
    d = get(stack, alice, m["meeting_id"]).json()["data"]
    assert d["settings"] == ALL_SETTINGS
    assert d["has_password"] is False


def test_create_settings_are_stored(stack, alice):
    settings = {"enable_recording": True, "enable_chat": False, "enable_screen_share": False,
                "enable_waiting_room": True, "mute_on_join": True}
    m = create(stack, alice, settings=settings)
    assert get(stack, alice, m["meeting_id"]).json()["data"]["settings"] == settings
    m = create(stack, alice, settings={"enable_chat": False})
    assert get(stack, alice, m["meeting_id"]).json()["data"]["settings"] == \
        {**ALL_SETTINGS, "enable_chat": False}


def test_times_are_written_back_in_utc_without_fractions(stack, alice):
    m = create(stack, alice, start_time="2030-05-01T18:00:00+08:00",
               end_time="2030-05-01T06:30:15.987654-05:00")
    assert m["start_time"] == "2030-05-01T10:00:00Z"
    assert m["end_time"] == "2030-05-01T11:30:15Z"
    d = get(stack, alice, m["meeting_id"]).json()["data"]
    assert d["start_time"] == "2030-05-01T10:00:00Z"
    assert d["end_time"] == "2030-05-01T11:30:15Z"
    m = create(stack, alice, start_time="2030-05-01T10:00:00.5Z",
               end_time="2030-05-01T10:00:01.000001Z")
    assert (m["start_time"], m["end_time"]) == ("2030-05-01T10:00:00Z", "2030-05-01T10:00:01Z")


@pytest.mark.parametrize("field,value", [
    ("title", ""), ("title", "t" * 101), ("title", 123), ("title", None), ("title", ["x"]),
    ("description", "d" * 501), ("description", 5), ("description", None),
    ("start_time", "2030-05-01T10:00:00"), ("start_time", "2030-05-01 10:00:00Z"),
    ("start_time", "2030-05-01"), ("start_time", "2030-02-30T10:00:00Z"),
    ("start_time", "2030-05-01T25:00:00Z"), ("start_time", "2030-05-01T10:00:00+0800"),
    ("start_time", "tomorrow"), ("start_time", 1900000000), ("start_time", None),
    ("end_time", "2030-05-01T11:00:00"), ("end_time", ""),
    ("max_participants", 0), ("max_participants", 1001), ("max_participants", -1),
    ("max_participants", "10"), ("max_participants", 10.5), ("max_participants", True),
    ("max_participants", None),
    ("meeting_type", "VIDEO"), ("meeting_type", "screen"), ("meeting_type", ""),
    ("meeting_type", 1), ("meeting_type", None),
    ("password", "p" * 51), ("password", 1234), ("password", True),
    ("settings", "on"), ("settings", []), ("settings", None), ("settings", True),
])
def test_create_rejects_bad_fields(stack, alice, field, value):
    r = stack.api("POST", "/meetings", token=alice["token"], json=body(**{field: value}))
    assert_error(r, 400, "invalid_field", field)


@pytest.mark.parametrize("key,value", [
    ("enable_recording", "yes"), ("enable_chat", 1), ("enable_screen_share", None),
    ("enable_waiting_room", "false"), ("mute_on_join", 0),
])
def test_create_rejects_bad_settings(stack, alice, key, value):
    r = stack.api("POST", "/meetings", token=alice["token"],
                  json=body(settings={key: value}))
    assert_error(r, 400, "invalid_field", "settings." + key)


@pytest.mark.parametrize("missing", ["title", "start_time", "end_time", "max_participants",
                                     "meeting_type"])
def test_create_requires_fields(stack, alice, missing):
    r = stack.api("POST", "/meetings", token=alice["token"], json=body(**{missing: ...}))
    assert_error(r, 400, "invalid_field", missing)


def test_max_participants_bounds_are_inclusive(stack, alice):
    assert create(stack, alice, max_participants=1)["max_participants"] == 1
    assert create(stack, alice, max_participants=1000)["max_participants"] == 1000


def test_lengths_count_code_points(stack, alice):
    m = create(stack, alice, title="会" * 100, description="議" * 500)
    assert m["title"] == "会" * 100
    r = stack.api("POST", "/meetings", token=alice["token"], json=body(title="会" * 101))
    assert_error(r, 400, "invalid_field", "title")
    m = create(stack, alice, password="密" * 50)
    r = stack.api("POST", "/meetings", token=alice["token"], json=body(password="密" * 51))
    assert_error(r, 400, "invalid_field", "password")


@pytest.mark.parametrize("start,end", [
    (START, START),
    ("2030-05-01T11:00:00Z", "2030-05-01T10:00:00Z"),
    ("2030-05-01T18:00:00+08:00", "2030-05-01T10:00:00Z"),   # the same instant
    ("2030-05-01T10:00:00.1Z", "2030-05-01T10:00:00.9Z"),   # equal once fractions drop
    ("1960-01-01T11:00:00Z", "1960-01-01T10:00:00Z"),       # before 1970 too
    ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
])
def test_end_must_follow_start(stack, alice, start, end):
    r = stack.api("POST", "/meetings", token=alice["token"],
                  json=body(start_time=start, end_time=end))
    assert_error(r, 400, "invalid_field", "end_time")


def test_times_before_1970_and_at_the_edges_of_the_format(stack, alice):
    m = create(stack, alice, start_time="1969-12-31T23:59:59Z", end_time="1970-01-01T00:00:00Z")
    assert (m["start_time"], m["end_time"]) == ("1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z")
    m = create(stack, alice, start_time="0001-01-01T00:00:00Z", end_time="9999-12-31T23:59:59Z")
    assert (m["start_time"], m["end_time"]) == ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
    m = create(stack, alice, start_time="0001-01-01T00:00:00-01:00",
               end_time="9999-12-31T23:59:59+01:00")
    assert (m["start_time"], m["end_time"]) == ("0001-01-01T01:00:00Z", "9999-12-31T22:59:59Z")


@pytest.mark.parametrize("start,end,field", [
    # Valid RFC 3339 on input, but not writable back as a four-digit year in UTC.
    ("0001-01-01T00:00:00+00:01", END, "start_time"),
    (START, "9999-12-31T23:59:59-00:01", "end_time"),
    ("0000-12-31T10:00:00Z", END, "start_time"),
])
def test_times_outside_years_1_to_9999_in_utc_are_400(stack, alice, start, end, field):
    r = stack.api("POST", "/meetings", token=alice["token"],
                  json=body(start_time=start, end_time=end))
    assert_error(r, 400, "invalid_field", field)


@pytest.mark.parametrize("field", ["status", "creator_id", "meeting_id", "created_at", "foo"])
def test_create_rejects_unknown_fields(stack, alice, field):
    r = stack.api("POST", "/meetings", token=alice["token"], json=body(**{field: "ongoing"}))
    assert_error(r, 400, "unknown_field", field)


def test_create_rejects_unknown_settings(stack, alice):
    r = stack.api("POST", "/meetings", token=alice["token"],
                  json=body(settings={"enable_chat": True, "enable_everything": True}))
    assert_error(r, 400, "unknown_field", "settings.enable_everything")


def test_create_password_is_hashed_and_never_returned(stack, alice):
    r = stack.api("POST", "/meetings", token=alice["token"], json=body(password="s3cret!"))
    assert r.status_code == 201
    assert "s3cret" not in r.text and "password" not in r.json()["data"]
    mid = r.json()["data"]["meeting_id"]
    (h,), = stack.sql("SELECT password_hash FROM meetings WHERE meeting_id = %s", mid)
    assert h.startswith("$mm1$2") and "s3cret" not in h
    d = get(stack, alice, mid)
    assert "s3cret" not in d.text and d.json()["data"]["has_password"] is True
    assert "password" not in d.json()["data"] and "password_hash" not in d.json()["data"]
    # An empty password means none.
    m = create(stack, alice, password="")
    assert get(stack, alice, m["meeting_id"]).json()["data"]["has_password"] is False


@pytest.mark.parametrize("data,ctype,status,error", [
    (b"{not json", "application/json", 400, "invalid_json"),
    (b"[1, 2]", "application/json", 400, "invalid_json"),
    (b'"title"', "application/json", 400, "invalid_json"),
    (b'{"title": "a", "title": "b"}', "application/json", 400, "invalid_json"),
    (b'{"title": "\xff\xfe"}', "application/json", 400, None),
    (b'{"title": "x"}', "text/plain", 415, "unsupported_media_type"),
    (b'{"title": "x"}', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
])
def test_create_rejects_bad_bodies(stack, alice, data, ctype, status, error):
    r = stack.api("POST", "/meetings", token=alice["token"], data=data,
                  headers={"Content-Type": ctype})
    assert r.status_code == status, r.text
    if error:
        assert r.json()["error"] == error


def test_create_body_too_large_is_413(stack, alice):
    r = stack.api("POST", "/meetings", token=alice["token"],
                  json=body(description="x" * 70000))
    assert_error(r, 413, "body_too_large")


def test_create_needs_a_token(stack):
    r = stack.api("POST", "/meetings", json=body())
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = stack.api("POST", "/meetings", token="not.a.token", json=body())
    assert r.status_code == 401


# ---------------------------------------------------------------- list (3.2)

def test_list_shape_order_total_and_paging(stack):
    u = fresh(stack)
    times = ["2030-01-01T10:00:00Z", "2030-03-01T10:00:00Z", "2030-02-01T10:00:00Z",
             "2030-03-01T10:00:00Z", "2029-12-31T23:00:00Z"]
    made = [create(stack, u, title=f"m{i}", start_time=t, end_time="2031-01-01T00:00:00Z")
            for i, t in enumerate(times)]
    r = listing(stack, u, page=1, page_size=10)
    d = assert_ok(r, 200, None)
    assert set(d) == {"meetings", "total", "page", "page_size"}
    assert d["total"] == 5 and d["page"] == 1 and d["page_size"] == 10
    for item in d["meetings"]:
        assert set(item) == LIST_ITEM_KEYS
        assert item["participant_count"] == 1 and item["status"] == "scheduled"
        assert TS.match(item["start_time"]) and TS.match(item["end_time"])
    got = [m["meeting_id"] for m in d["meetings"]]
    expect = [m["meeting_id"] for m in
              sorted(made, key=lambda m: (m["start_time"], m["meeting_id"]), reverse=True)]
    assert got == expect
    # The two meetings at the same start_time come newest id first.
    assert got[0] == made[3]["meeting_id"] and got[1] == made[1]["meeting_id"]
    # Pages partition the same order; total stays the full count.
    pages = []
    for page in (1, 2, 3):
        d = listing(stack, u, page=page, page_size=2).json()["data"]
        assert d["total"] == 5 and d["page"] == page and d["page_size"] == 2
        pages += [m["meeting_id"] for m in d["meetings"]]
    assert pages == expect
    d = listing(stack, u, page=4, page_size=2).json()["data"]
    assert d["meetings"] == [] and d["total"] == 5


def test_list_empty(stack):
    u = fresh(stack)
    d = listing(stack, u, page=1, page_size=1).json()["data"]
    assert d == {"meetings": [], "total": 0, "page": 1, "page_size": 1}


@pytest.mark.parametrize("params,field", [
    ({}, "page"), ({"page_size": 10}, "page"), ({"page": 1}, "page_size"),
    ({"page": 0, "page_size": 10}, "page"), ({"page": -1, "page_size": 10}, "page"),
    ({"page": "x", "page_size": 10}, "page"), ({"page": "", "page_size": 10}, "page"),
    ({"page": 1.5, "page_size": 10}, "page"),
    ({"page": 1, "page_size": 0}, "page_size"), ({"page": 1, "page_size": 101}, "page_size"),
    ({"page": 1, "page_size": "ten"}, "page_size"),
    ({"page": 1, "page_size": 10, "status": "done"}, "status"),
    ({"page": 1, "page_size": 10, "status": "SCHEDULED"}, "status"),
])
def test_list_validates_query(stack, alice, params, field):
    r = stack.api("GET", "/meetings", token=alice["token"], params=params)
    assert_error(r, 400, "invalid_field", field)


def test_list_page_size_bounds_are_inclusive(stack, alice):
    assert listing(stack, alice, page=1, page_size=1).status_code == 200
    assert listing(stack, alice, page=1, page_size=100).status_code == 200


def test_list_status_filter(stack):
    u = fresh(stack)
    s = create(stack, u)["meeting_id"]
    o = create(stack, u)["meeting_id"]
    e = create(stack, u)["meeting_id"]
    c = create(stack, u)["meeting_id"]
    assert stack.api("POST", f"/meetings/{o}/start", token=u["token"]).status_code == 200
    assert stack.api("POST", f"/meetings/{e}/start", token=u["token"]).status_code == 200
    assert stack.api("POST", f"/meetings/{e}/end", token=u["token"]).status_code == 200
    assert stack.api("DELETE", f"/meetings/{c}", token=u["token"]).status_code == 200
    for status, mid in [("scheduled", s), ("ongoing", o), ("ended", e), ("cancelled", c)]:
        d = listing(stack, u, status=status).json()["data"]
        assert [m["meeting_id"] for m in d["meetings"]] == [mid], status
        assert d["total"] == 1 and d["meetings"][0]["status"] == status
    assert listing(stack, u).json()["data"]["total"] == 4


def test_list_keyword_is_a_literal_case_insensitive_substring(stack):
    u = fresh(stack)
    ids = {}
    for title, desc in [("100% done", ""), ("100 percent", "about 100%"), ("a_b", ""),
                        ("axb", ""), ("Team SYNC", ""), ("plain", "weekly team sync"),
                        ("back\\slash", ""), ("other", "nothing")]:
        ids[title] = create(stack, u, title=title, description=desc)["meeting_id"]

    def found(kw, **extra):
        d = listing(stack, u, keyword=kw, **extra).json()["data"]
        assert d["total"] == len(d["meetings"])
        return {m["title"] for m in d["meetings"]}

    assert found("%") == {"100% done", "100 percent"}
    assert found("0%") == {"100% done", "100 percent"}
    assert found("_") == {"a_b"}
    assert found("a_b") == {"a_b"}
    assert found("team sync") == {"Team SYNC", "plain"}
    assert found("TEAM") == {"Team SYNC", "plain"}
    assert found("\\") == {"back\\slash"}
    assert found("zzz") == set()
    assert found("sync", status="scheduled") == {"Team SYNC", "plain"}
    assert found("sync", status="ongoing") == set()


def test_list_keyword_unicode_and_length(stack):
    u = fresh(stack)
    create(stack, u, title="周会 Ünïcode")
    d = listing(stack, u, keyword="ünï").json()["data"]
    assert [m["title"] for m in d["meetings"]] == ["周会 Ünïcode"]
    assert listing(stack, u, keyword="周会").json()["data"]["total"] == 1
    assert listing(stack, u, keyword="k" * 100).status_code == 200
    assert_error(listing(stack, u, keyword="k" * 101), 400, "invalid_field", "keyword")


def test_list_shows_only_my_meetings(stack):
    a, b, c = fresh(stack), fresh(stack), fresh(stack)
    ma = create(stack, a, title="A's")["meeting_id"]
    mb = create(stack, b, title="B's")["meeting_id"]
    assert [m["meeting_id"] for m in listing(stack, a).json()["data"]["meetings"]] == [ma]
    assert [m["meeting_id"] for m in listing(stack, c).json()["data"]["meetings"]] == []
    # Being added makes it visible, with the participant count right.
    r = stack.api("POST", f"/meetings/{mb}/participants", token=b["token"],
                  json={"user_id": a["user_id"]})
    assert r.status_code == 200, r.text
    d = listing(stack, a).json()["data"]
    assert {m["meeting_id"] for m in d["meetings"]} == {ma, mb} and d["total"] == 2
    assert {m["meeting_id"]: m["participant_count"] for m in d["meetings"]} == {ma: 1, mb: 2}
    # Being removed hides it again.
    r = stack.api("DELETE", f"/meetings/{mb}/participants/{a['user_id']}", token=b["token"])
    assert r.status_code == 200, r.text
    assert [m["meeting_id"] for m in listing(stack, a).json()["data"]["meetings"]] == [ma]


def test_list_needs_a_token(stack):
    assert stack.api("GET", "/meetings", params={"page": 1, "page_size": 1}).status_code == 401


# ---------------------------------------------------------------- read (3.3)

def test_get_answers_in_the_seed_shape(stack, alice):
    m = create(stack, alice, max_participants=7, meeting_type="audio",
               settings={"enable_recording": True})
    r = get(stack, alice, m["meeting_id"])
    d = assert_ok(r, 200, None)
    assert set(d) == DETAIL_KEYS
    assert SEED_SETTINGS <= set(d["settings"])
    assert {k: d[k] for k in CREATE_KEYS} == m
    assert d["settings"] == {**ALL_SETTINGS, "enable_recording": True}
    assert d["max_participants"] == 7 and d["meeting_type"] == "audio"


def test_get_by_a_stranger_is_403_and_missing_is_404(stack, alice, bob):
    m = create(stack, alice)
    assert_error(get(stack, bob, m["meeting_id"]), 403, "forbidden")
    assert_error(get(stack, bob, 999999999), 404, "not_found")
    assert_error(get(stack, alice, 999999999), 404, "not_found")
    assert_error(get(stack, alice, 9223372036854775807), 404, "not_found")


def test_meeting_needs_a_token_before_anything_else(stack, alice):
    m = create(stack, alice)
    assert stack.api("GET", f"/meetings/{m['meeting_id']}").status_code == 401
    assert stack.api("GET", "/meetings/999999999").status_code == 401
    assert stack.api("PUT", f"/meetings/{m['meeting_id']}", json={"title": ""}).status_code == 401


@pytest.mark.parametrize("path", [
    "/meetings/abc", "/meetings/0", "/meetings/-1", "/meetings/1.5", "/meetings/1e3",
    "/meetings/%201", "/meetings/99999999999999999999", "/meetings/9223372036854775808",
    "/meetings/abc/start", "/meetings/0/end", "/meetings/x/join", "/meetings/-5/participants",
    "/meetings/1/participants/abc", "/meetings/1/participants/0/role", "/meetings/1/nothing",
    "/meetings/1/start/now", "/meeting/1",
])
@pytest.mark.parametrize("with_token", [False, True])
def test_bad_paths_are_404(stack, alice, path, with_token):
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = stack.api(method, path, token=alice["token"] if with_token else None,
                      json={} if method in ("POST", "PUT") else None)
        assert_error(r, 404, "not_found")


@pytest.mark.parametrize("method,path,allow", [
    ("PATCH", "/meetings/1", "GET, HEAD, PUT, DELETE"),
    ("POST", "/meetings/1", "GET, HEAD, PUT, DELETE"),
    ("PUT", "/meetings", "GET, HEAD, POST"),
    ("DELETE", "/meetings", "GET, HEAD, POST"),
    ("GET", "/meetings/1/start", "POST"),
    ("DELETE", "/meetings/1/end", "POST"),
    ("PUT", "/meetings/1/join", "POST"),
    ("GET", "/meetings/1/leave", "POST"),
    ("PUT", "/meetings/1/participants", "GET, HEAD, POST"),
    ("GET", "/meetings/1/participants/2", "DELETE"),
    ("POST", "/meetings/1/participants/2/role", "PUT"),
])
@pytest.mark.parametrize("with_token", [False, True])
def test_wrong_method_is_405_with_allow(stack, alice, method, path, allow, with_token):
    r = stack.api(method, path, token=alice["token"] if with_token else None)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == allow


# ---------------------------------------------------------------- update (3.4)

def test_update_answers_the_seed_shape_and_changes_fields(stack, alice):
    m = create(stack, alice)
    mid = m["meeting_id"]
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={
        "title": "Renamed", "description": "new", "start_time": "2030-06-01T08:00:00+02:00",
        "end_time": "2030-06-01T09:30:00.75Z", "max_participants": 20,
        "meeting_type": "audio"})
    assert_ok(r, 200, "Meeting updated successfully", data=False)
    d = get(stack, alice, mid).json()["data"]
    assert d["title"] == "Renamed" and d["description"] == "new"
    assert d["start_time"] == "2030-06-01T06:00:00Z"
    assert d["end_time"] == "2030-06-01T09:30:00Z"
    assert d["max_participants"] == 20 and d["meeting_type"] == "audio"
    assert d["status"] == "scheduled" and d["creator_id"] == alice["user_id"]
    assert d["created_at"] == m["created_at"]


def test_update_with_an_empty_body_changes_nothing(stack, alice):
    m = create(stack, alice)
    before = get(stack, alice, m["meeting_id"]).json()["data"]
    r = stack.api("PUT", f"/meetings/{m['meeting_id']}", token=alice["token"], json={})
    assert r.status_code == 200, r.text
    assert get(stack, alice, m["meeting_id"]).json()["data"] == before


def test_update_merges_settings_key_by_key(stack, alice):
    m = create(stack, alice, settings={"enable_recording": True, "mute_on_join": True})
    mid = m["meeting_id"]
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"],
                  json={"settings": {"enable_chat": False}})
    assert r.status_code == 200, r.text
    assert get(stack, alice, mid).json()["data"]["settings"] == {
        **ALL_SETTINGS, "enable_recording": True, "mute_on_join": True, "enable_chat": False}
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"],
                  json={"settings": {"enable_recording": False}, "title": "x"})
    assert r.status_code == 200
    s = get(stack, alice, mid).json()["data"]["settings"]
    assert s == {**ALL_SETTINGS, "mute_on_join": True, "enable_chat": False}


def test_update_password_sets_and_null_clears(stack, alice):
    mid = create(stack, alice)["meeting_id"]
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"password": "pw1"})
    assert r.status_code == 200 and "pw1" not in r.text
    assert get(stack, alice, mid).json()["data"]["has_password"] is True
    (h,), = stack.sql("SELECT password_hash FROM meetings WHERE meeting_id = %s", mid)
    assert h.startswith("$mm1$2")
    # Leaving password out keeps it.
    stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"title": "t"})
    assert get(stack, alice, mid).json()["data"]["has_password"] is True
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"password": None})
    assert r.status_code == 200
    assert get(stack, alice, mid).json()["data"]["has_password"] is False
    assert stack.sql("SELECT password_hash IS NULL FROM meetings WHERE meeting_id = %s",
                     mid) == [["t"]]


@pytest.mark.parametrize("patch,field,error", [
    ({"title": ""}, "title", "invalid_field"),
    ({"title": None}, "title", "invalid_field"),
    ({"title": 5}, "title", "invalid_field"),
    ({"description": "d" * 501}, "description", "invalid_field"),
    ({"start_time": "2030-05-01T10:00:00"}, "start_time", "invalid_field"),
    ({"end_time": None}, "end_time", "invalid_field"),
    ({"max_participants": 0}, "max_participants", "invalid_field"),
    ({"max_participants": 1001}, "max_participants", "invalid_field"),
    ({"max_participants": "5"}, "max_participants", "invalid_field"),
    ({"meeting_type": "hologram"}, "meeting_type", "invalid_field"),
    ({"password": 12}, "password", "invalid_field"),
    ({"password": "p" * 51}, "password", "invalid_field"),
    ({"settings": {"enable_chat": "no"}}, "settings.enable_chat", "invalid_field"),
    ({"settings": {"x": True}}, "settings.x", "unknown_field"),
    ({"settings": None}, "settings", "invalid_field"),
    ({"status": "ended"}, "status", "unknown_field"),
    ({"creator_id": 1}, "creator_id", "unknown_field"),
    ({"meeting_id": 1}, "meeting_id", "unknown_field"),
    # end before start: given together, or against the stored other end.
    ({"start_time": "2030-05-01T12:00:00Z", "end_time": "2030-05-01T11:00:00Z"},
     "end_time", "invalid_field"),
    ({"end_time": "2030-05-01T09:00:00Z"}, "end_time", "invalid_field"),
    ({"end_time": START}, "end_time", "invalid_field"),
    ({"start_time": "2030-05-01T11:00:00Z"}, "start_time", "invalid_field"),
    ({"start_time": "2030-05-01T12:00:00+01:00"}, "start_time", "invalid_field"),
    ({"end_time": "9999-12-31T23:59:59-01:00"}, "end_time", "invalid_field"),
    ({"start_time": "0001-01-01T00:00:00+01:00"}, "start_time", "invalid_field"),
])
def test_update_rejects_bad_input(stack, alice, patch, field, error):
    m = create(stack, alice)
    r = stack.api("PUT", f"/meetings/{m['meeting_id']}", token=alice["token"], json=patch)
    assert_error(r, 400, error, field)
    # Nothing changed.
    d = get(stack, alice, m["meeting_id"]).json()["data"]
    assert {k: d[k] for k in CREATE_KEYS} == m


def test_update_may_move_both_ends_past_the_old_ones(stack, alice):
    mid = create(stack, alice)["meeting_id"]
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"],
                  json={"start_time": "2031-01-01T10:00:00Z", "end_time": "2031-01-01T12:00:00Z"})
    assert r.status_code == 200, r.text


def test_update_order_of_errors(stack, alice, bob):
    mid = create(stack, alice)["meeting_id"]
    bad_bodies = [{"title": ""}, {"nope": 1}, {"end_time": "2030-05-01T09:00:00Z"},
                  {"end_time": "9999-12-31T23:59:59-01:00"},
                  {"start_time": "2030-05-01T12:00:00Z", "end_time": "2030-05-01T11:00:00Z"}]
    for b in bad_bodies:
        # Missing meeting first, then the stranger's 403, before the bad body.
        assert_error(stack.api("PUT", "/meetings/999999999", token=alice["token"], json=b),
                     404, "not_found")
        assert_error(stack.api("PUT", f"/meetings/{mid}", token=bob["token"], json=b),
                     403, "forbidden")
    r = stack.api("PUT", f"/meetings/{mid}", token=bob["token"], data=b"{bad",
                  headers={"Content-Type": "application/json"})
    assert_error(r, 403, "forbidden")
    r = stack.api("PUT", f"/meetings/{mid}", token=bob["token"], data=b"x",
                  headers={"Content-Type": "text/plain"})
    assert_error(r, 403, "forbidden")
    # A member with a bad body: 415, then 400.
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], data=b"x",
                  headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    # 400 comes before the 409 of an ended meeting.
    stack.api("POST", f"/meetings/{mid}/start", token=alice["token"])
    stack.api("POST", f"/meetings/{mid}/end", token=alice["token"])
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"title": ""})
    assert_error(r, 400, "invalid_field", "title")
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"],
                  json={"end_time": "2030-05-01T09:00:00Z"})
    assert_error(r, 400, "invalid_field", "end_time")


def test_update_max_participants_not_below_online(stack, alice):
    mid = create(stack, alice, max_participants=5)["meeting_id"]
    others = [fresh(stack) for _ in range(2)]
    assert stack.api("POST", f"/meetings/{mid}/start", token=alice["token"]).status_code == 200
    for u in [alice] + others:
        assert stack.api("POST", f"/meetings/{mid}/join", token=u["token"]).status_code == 200
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"max_participants": 2})
    assert_error(r, 409, "conflict", ANY)
    assert get(stack, alice, mid).json()["data"]["max_participants"] == 5
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"max_participants": 3})
    assert r.status_code == 200, r.text
    # Once one leaves, 2 is fine.
    assert stack.api("POST", f"/meetings/{mid}/leave", token=others[0]["token"]).status_code == 200
    r = stack.api("PUT", f"/meetings/{mid}", token=alice["token"], json={"max_participants": 2})
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- state machine

def to_state(stack, user, state, **over):
    mid = create(stack, user, **over)["meeting_id"]
    steps = {"scheduled": [], "ongoing": [("POST", "start")],
             "ended": [("POST", "start"), ("POST", "end")], "cancelled": [("DELETE", "")]}
    for method, action in steps[state]:
        r = stack.api(method, f"/meetings/{mid}" + (f"/{action}" if action else ""),
                      token=user["token"])
        assert r.status_code == 200, r.text
    assert get(stack, user, mid).json()["data"]["status"] == state
    return mid


def status_of(stack, user, mid):
    r = get(stack, user, mid)
    return r.json()["data"]["status"] if r.status_code == 200 else r.status_code


# (state, action) -> (status code, state afterwards; 404 = gone)
TRANSITIONS = [
    ("scheduled", "start", 200, "ongoing"),
    ("scheduled", "end", 409, "scheduled"),
    ("scheduled", "delete", 200, "cancelled"),
    ("scheduled", "update", 200, "scheduled"),
    ("ongoing", "start", 409, "ongoing"),
    ("ongoing", "end", 200, "ended"),
    ("ongoing", "delete", 409, "ongoing"),
    ("ongoing", "update", 200, "ongoing"),
    ("ended", "start", 409, "ended"),
    ("ended", "end", 409, "ended"),
    ("ended", "delete", 200, 404),
    ("ended", "update", 409, "ended"),
    ("cancelled", "start", 409, "cancelled"),
    ("cancelled", "end", 409, "cancelled"),
    ("cancelled", "delete", 200, 404),
    ("cancelled", "update", 409, "cancelled"),
]
MESSAGES = {"start": "Meeting started successfully", "end": "Meeting ended successfully",
            "delete": "Meeting deleted successfully", "update": "Meeting updated successfully"}


def act(stack, user, mid, action):
    if action == "delete":
        return stack.api("DELETE", f"/meetings/{mid}", token=user["token"])
    if action == "update":
        return stack.api("PUT", f"/meetings/{mid}", token=user["token"], json={"title": "new"})
    return stack.api("POST", f"/meetings/{mid}/{action}", token=user["token"])


@pytest.mark.parametrize("state,action,code,after", TRANSITIONS)
def test_state_machine(stack, alice, state, action, code, after):
    mid = to_state(stack, alice, state)
    r = act(stack, alice, mid, action)
    if code == 200:
        if action == "start":
            d = assert_ok(r, 200, MESSAGES[action])
            assert set(d) == {"meeting_id", "status", "room_url"}
            assert d["meeting_id"] == mid and d["status"] == "ongoing"
        else:
            assert_ok(r, 200, MESSAGES[action], data=False)
    else:
        assert_error(r, code, "conflict")
    assert status_of(stack, alice, mid) == after


def test_start_room_url_carries_a_ticket(stack, alice):
    mid = create(stack, alice)["meeting_id"]
    d = stack.api("POST", f"/meetings/{mid}/start", token=alice["token"]).json()["data"]
    assert d["room_url"].partition("?")[0] == stack.signaling_url()
    u = urlsplit(d["room_url"])
    q = parse_qs(u.query)
    assert q["meeting_id"] == [str(mid)] and q["user_id"] == [str(alice["user_id"])]
    c = claims_of(q["token"][0])
    assert c["typ"] == "ticket" and c["sub"] == str(alice["user_id"]) and c["mid"] == mid
    assert 0 < c["exp"] - c["iat"] <= 300
    # Starting puts nobody online.
    ps = stack.api("GET", f"/meetings/{mid}/participants",
                   token=alice["token"]).json()["data"]["participants"]
    assert [p["status"] for p in ps] == ["offline"]


@pytest.mark.parametrize("action", ["start", "end"])
def test_start_and_end_accept_empty_or_no_body_only(stack, alice, action):
    mid = to_state(stack, alice, "scheduled" if action == "start" else "ongoing")
    r = stack.api("POST", f"/meetings/{mid}/{action}", token=alice["token"], json={"x": 1})
    assert_error(r, 400, "unknown_field", "x")
    r = stack.api("POST", f"/meetings/{mid}/{action}", token=alice["token"], data=b"x",
                  headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    r = stack.api("POST", f"/meetings/{mid}/{action}", token=alice["token"], json={})
    assert r.status_code == 200, r.text


def test_delete_of_an_ended_meeting_removes_everything(stack, alice, bob):
    mid = to_state(stack, alice, "ongoing")
    stack.api("POST", f"/meetings/{mid}/participants", token=alice["token"],
              json={"user_id": bob["user_id"]})
    stack.api("POST", f"/meetings/{mid}/join", token=bob["token"])
    stack.api("POST", f"/meetings/{mid}/messages", token=bob["token"], json={"content": "hi"})
    stack.api("POST", f"/meetings/{mid}/end", token=alice["token"])
    r = stack.api("DELETE", f"/meetings/{mid}", token=alice["token"])
    assert_ok(r, 200, "Meeting deleted successfully", data=False)
    for tab in ("meetings", "participants", "messages", "recordings"):
        assert stack.sql(f"SELECT count(*) FROM {tab} WHERE meeting_id = %s", mid) == [["0"]]
    for u in (alice, bob):
        for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/start"),
                             ("POST", "/end"), ("POST", "/join"), ("POST", "/leave"),
                             ("GET", "/participants"), ("GET", "/messages"),
                             ("GET", "/recordings")]:
            r = stack.api(method, f"/meetings/{mid}{path}", token=u["token"],
                          json={} if method in ("POST", "PUT") else None)
            assert_error(r, 404, "not_found", ANY)
        assert mid not in [m["meeting_id"] for m in listing(stack, u).json()["data"]["meetings"]]


def test_delete_of_a_scheduled_meeting_cancels_it_and_keeps_it_listed(stack):
    u = fresh(stack)
    mid = create(stack, u)["meeting_id"]
    assert stack.api("DELETE", f"/meetings/{mid}", token=u["token"]).status_code == 200
    d = listing(stack, u).json()["data"]
    assert [(m["meeting_id"], m["status"]) for m in d["meetings"]] == [(mid, "cancelled")]
    assert stack.api("DELETE", f"/meetings/{mid}", token=u["token"]).status_code == 200
    assert listing(stack, u).json()["data"]["total"] == 0
    assert_error(stack.api("DELETE", f"/meetings/{mid}", token=u["token"]), 404, "not_found")


def test_delete_is_for_the_creator_only(stack, alice, bob):
    mid = create(stack, alice)["meeting_id"]
    stack.api("POST", f"/meetings/{mid}/participants", token=alice["token"],
              json={"user_id": bob["user_id"], "role": "host"})
    assert_error(stack.api("DELETE", f"/meetings/{mid}", token=bob["token"]), 403, "forbidden")
    assert status_of(stack, alice, mid) == "scheduled"
    assert_error(stack.api("DELETE", "/meetings/999999999", token=alice["token"]),
                 404, "not_found")


def test_state_errors_come_after_permission_errors(stack, alice, bob):
    mid = to_state(stack, alice, "ended")
    for action in ("start", "end", "delete", "update"):
        assert_error(act(stack, bob, mid, action), 403, "forbidden")
