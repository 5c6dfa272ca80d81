"""Participants (seed 3.10-3.13) and SPEC.md 3's roles-and-permissions table, cell by cell."""
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from envelopes import ANY, assert_error

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PARTICIPANT_KEYS = {"participant_id", "user_id", "username", "nickname", "role", "status",
                    "joined_at"}


def meeting_body(**over):
    b = {"title": "Roles", "start_time": "2030-05-01T10:00:00Z",
         "end_time": "2030-05-01T11:00:00Z", "max_participants": 50, "meeting_type": "video",
         "settings": {"enable_recording": True}}
    b.update(over)
    return b


def assert_ok(r, message):
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 200, "message": message}


# Everyone a permission cell can involve. "host" is a second host (not the
# creator); host2, mod2 and part2 are the targets of role-dependent actions.
CAST = ["creator", "host", "host2", "mod", "mod2", "part", "part2", "outsider", "newbie"]
ROLES = {"host": "host", "host2": "host", "mod": "moderator", "mod2": "moderator",
         "part": "participant", "part2": "participant"}


@pytest.fixture(scope="module")
def cast(stack):
    return {name: stack.new_user(nickname=name.title()) for name in CAST}


class Room:
    def __init__(self, stack, cast, **over):
        self.stack, self.cast = stack, cast
        r = stack.api("POST", "/meetings", token=cast["creator"]["token"],
                      json=meeting_body(**over))
        assert r.status_code == 201, r.text
        self.id = r.json()["data"]["meeting_id"]
        for name, role in ROLES.items():
            r = self.call("creator", "POST", "/participants",
                          json={"user_id": cast[name]["user_id"], "role": role})
            assert r.status_code == 200, r.text

    def call(self, who, method, path="", **kw):
        return self.stack.api(method, f"/meetings/{self.id}{path}",
                              token=self.cast[who]["token"], **kw)

    def uid(self, who):
        return self.cast[who]["user_id"]

    def members(self, who="creator"):
        r = self.call(who, "GET", "/participants")
        assert r.status_code == 200, r.text
        return {p["user_id"]: p for p in r.json()["data"]["participants"]}

    def role_of(self, who):
        p = self.members().get(self.uid(who))
        return p and p["role"]

    def start(self):
        assert self.call("creator", "POST", "/start").status_code == 200


@pytest.fixture
def room(stack, cast):
    return Room(stack, cast)


ACTORS = ["creator", "host", "mod", "part", "outsider"]


def cell(allowed):
    """Expands {actor: bool} (or a set of allowed actors) to (actor, allowed) cases."""
    return [(a, a in allowed) for a in ACTORS]


EVERY_MEMBER = {"creator", "host", "mod", "part"}
HOSTS = {"creator", "host"}
STAFF = {"creator", "host", "mod"}


def check(r, allowed, ok_status=200, field=None):
    if allowed:
        assert r.status_code == ok_status, r.text
    else:
        assert_error(r, 403, "forbidden", field)


# recordings.c reads mm_result without mapping the driver's "" back to NULL,
# so its errors carry "field":"" (reported; db.c is the place to fix it).
def field_for(path):
    return ANY if path.startswith("/recording") else None


# ----------------------------------------------------- the permission table, row by row

@pytest.mark.parametrize("actor,allowed", cell(EVERY_MEMBER))
@pytest.mark.parametrize("path", ["", "/participants", "/recordings", "/messages"])
def test_read(room, actor, allowed, path):
    check(room.call(actor, "GET", path), allowed, field=field_for(path))


@pytest.mark.parametrize("actor,allowed", cell(EVERY_MEMBER))
def test_send_message(room, actor, allowed):
    check(room.call(actor, "POST", "/messages", json={"content": "hello"}), allowed)


@pytest.mark.parametrize("actor,allowed", cell(HOSTS))
def test_update_meeting(room, actor, allowed):
    r = room.call(actor, "PUT", json={"title": "by " + actor})
    check(r, allowed)
    assert room.call("creator", "GET").json()["data"]["title"] == \
        ("by " + actor if allowed else "Roles")


@pytest.mark.parametrize("actor,allowed", cell(HOSTS))
def test_start_meeting(room, actor, allowed):
    check(room.call(actor, "POST", "/start"), allowed)
    assert room.call("creator", "GET").json()["data"]["status"] == \
        ("ongoing" if allowed else "scheduled")


@pytest.mark.parametrize("actor,allowed", cell(HOSTS))
def test_end_meeting(room, actor, allowed):
    room.start()
    check(room.call(actor, "POST", "/end"), allowed)
    assert room.call("creator", "GET").json()["data"]["status"] == \
        ("ended" if allowed else "ongoing")


@pytest.mark.parametrize("actor,allowed", cell({"creator"}))
def test_delete_meeting(room, actor, allowed):
    check(room.call(actor, "DELETE"), allowed)
    assert room.call("creator", "GET").json()["data"]["status"] == \
        ("cancelled" if allowed else "scheduled")


@pytest.mark.parametrize("actor,allowed", cell(STAFF))
@pytest.mark.parametrize("action", ["start", "stop"])
def test_recording(room, actor, allowed, action):
    room.start()
    if action == "stop":
        assert room.call("creator", "POST", "/recording/start").status_code == 200
    check(room.call(actor, "POST", f"/recording/{action}"), allowed, field=ANY)


# add participant (3.11): host any role, moderator role participant only.
ADD = [(a, role, a in HOSTS or (a == "mod" and role == "participant"))
       for a in ACTORS for role in ("host", "moderator", "participant")]


@pytest.mark.parametrize("actor,role,allowed", ADD)
def test_add_participant(room, actor, role, allowed):
    r = room.call(actor, "POST", "/participants",
                  json={"user_id": room.uid("newbie"), "role": role})
    if allowed:
        assert_ok(r, "Participant added successfully")
        assert room.role_of("newbie") == role
    else:
        assert_error(r, 403, "forbidden", ANY)
        assert room.role_of("newbie") is None


# remove participant (3.12): host anyone but the creator, moderator role participant only.
TARGETS = ["creator", "host2", "mod2", "part2"]
REMOVE = [(a, t, t != "creator" and (a in HOSTS or (a == "mod" and t == "part2")))
          for a in ACTORS for t in TARGETS]


@pytest.mark.parametrize("actor,target,allowed", REMOVE)
def test_remove_participant(room, actor, target, allowed):
    r = room.call(actor, "DELETE", f"/participants/{room.uid(target)}")
    if allowed:
        assert_ok(r, "Participant removed successfully")
        assert room.role_of(target) is None
    else:
        assert_error(r, 403, "forbidden")
        assert room.role_of(target) is not None


# change role (3.13): hosts only, never the creator's.
ROLE = [(a, t, new, a in HOSTS and t != "creator")
        for a in ACTORS for t in TARGETS for new in ("host", "moderator", "participant")]


@pytest.mark.parametrize("actor,target,new,allowed", ROLE)
def test_change_role(room, actor, target, new, allowed):
    before = room.role_of(target)
    r = room.call(actor, "PUT", f"/participants/{room.uid(target)}/role", json={"role": new})
    if allowed:
        assert_ok(r, "Participant role updated successfully")
        assert room.role_of(target) == new
    else:
        assert_error(r, 403, "forbidden")
        assert room.role_of(target) == before


# ----------------------------------------------------- the creator stays host

def test_creator_can_never_be_removed_or_demoted(room):
    for actor in ("creator", "host"):
        assert_error(room.call(actor, "DELETE", f"/participants/{room.uid('creator')}"),
                     403, "forbidden")
        for new in ("moderator", "participant", "host"):
            r = room.call(actor, "PUT", f"/participants/{room.uid('creator')}/role",
                          json={"role": new})
            assert_error(r, 403, "forbidden")
    assert room.role_of("creator") == "host"


def test_a_demoted_host_loses_host_rights(room):
    r = room.call("creator", "PUT", f"/participants/{room.uid('host')}/role",
                  json={"role": "participant"})
    assert r.status_code == 200
    assert_error(room.call("host", "PUT", json={"title": "x"}), 403, "forbidden")
    assert_error(room.call("host", "POST", "/start"), 403, "forbidden")
    # and a promoted participant gains them
    r = room.call("creator", "PUT", f"/participants/{room.uid('part')}/role",
                  json={"role": "host"})
    assert r.status_code == 200
    assert room.call("part", "PUT", json={"title": "x"}).status_code == 200
    # a promoted moderator may add but only participants
    r = room.call("creator", "PUT", f"/participants/{room.uid('part2')}/role",
                  json={"role": "moderator"})
    assert r.status_code == 200
    r = room.call("part2", "POST", "/participants",
                  json={"user_id": room.uid("newbie"), "role": "moderator"})
    assert_error(r, 403, "forbidden", ANY)
    r = room.call("part2", "POST", "/participants", json={"user_id": room.uid("newbie")})
    assert r.status_code == 200


def test_a_non_creator_host_may_leave_the_host_role_and_remove_himself(room):
    r = room.call("host", "PUT", f"/participants/{room.uid('host')}/role",
                  json={"role": "moderator"})
    assert r.status_code == 200 and room.role_of("host") == "moderator"
    r = room.call("host2", "DELETE", f"/participants/{room.uid('host2')}")
    assert r.status_code == 200 and room.role_of("host2") is None


# ----------------------------------------------------- list (3.10)

def test_list_shape(stack, cast):
    room = Room(stack, cast)
    r = room.call("part", "GET", "/participants")
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == {"code", "data"} and j["code"] == 200
    assert set(j["data"]) == {"participants", "total"}
    ps = j["data"]["participants"]
    assert j["data"]["total"] == len(ps) == 1 + len(ROLES)
    for p in ps:
        assert set(p) == PARTICIPANT_KEYS
        assert p["status"] == "offline" and TS.match(p["joined_at"])
        assert isinstance(p["participant_id"], int) and p["participant_id"] > 0
    by_user = {p["user_id"]: p for p in ps}
    assert by_user[room.uid("creator")]["role"] == "host"
    for name, role in ROLES.items():
        p = by_user[room.uid(name)]
        assert p["role"] == role
        assert p["username"] == cast[name]["username"]
        assert p["nickname"] == name.title()
    assert len({p["participant_id"] for p in ps}) == len(ps)


def test_list_shows_online_after_join(room):
    room.start()
    assert room.call("part", "POST", "/join").status_code == 200
    ms = room.members("mod")
    assert ms[room.uid("part")]["status"] == "online"
    assert TS.match(ms[room.uid("part")]["joined_at"])
    assert ms[room.uid("creator")]["status"] == "offline"


def test_list_of_a_missing_meeting_is_404(stack, cast):
    r = stack.api("GET", "/meetings/999999999/participants", token=cast["creator"]["token"])
    assert_error(r, 404, "not_found")


# ----------------------------------------------------- add (3.11)

def test_add_defaults_to_participant(room):
    r = room.call("creator", "POST", "/participants", json={"user_id": room.uid("newbie")})
    assert_ok(r, "Participant added successfully")
    assert room.role_of("newbie") == "participant"
    # the new member can read the meeting
    assert room.call("newbie", "GET").status_code == 200


def test_add_unknown_user_is_404(room):
    r = room.call("creator", "POST", "/participants", json={"user_id": 987654321})
    assert_error(r, 404, "not_found", ANY)
    r = room.call("mod", "POST", "/participants", json={"user_id": 987654321})
    assert_error(r, 404, "not_found", ANY)


def test_add_existing_member_is_409(room):
    for name in ("creator", "host2", "mod2", "part2"):
        r = room.call("host", "POST", "/participants", json={"user_id": room.uid(name)})
        assert_error(r, 409, "conflict", ANY)
    assert room.role_of("part2") == "participant"


@pytest.mark.parametrize("payload,field,error", [
    ({}, "user_id", "invalid_field"),
    ({"user_id": "12"}, "user_id", "invalid_field"),
    ({"user_id": 0}, "user_id", "invalid_field"),
    ({"user_id": -3}, "user_id", "invalid_field"),
    ({"user_id": 1.5}, "user_id", "invalid_field"),
    ({"user_id": None}, "user_id", "invalid_field"),
    ({"user_id": True}, "user_id", "invalid_field"),
    ({"user_id": 1, "role": "owner"}, "role", "invalid_field"),
    ({"user_id": 1, "role": "Host"}, "role", "invalid_field"),
    ({"user_id": 1, "role": None}, "role", "invalid_field"),
    ({"user_id": 1, "role": 1}, "role", "invalid_field"),
    ({"user_id": 1, "status": "online"}, "status", "unknown_field"),
    ({"user_id": 1, "meeting_id": 1}, "meeting_id", "unknown_field"),
])
def test_add_rejects_bad_bodies(room, payload, field, error):
    r = room.call("creator", "POST", "/participants", json=payload)
    assert_error(r, 400, error, field)


def test_add_order_of_errors(room, stack, cast):
    # 403 (participant, outsider) before a bad body or an unknown user.
    for who in ("part", "outsider"):
        assert_error(room.call(who, "POST", "/participants", json={"user_id": "x"}),
                     403, "forbidden")
        assert_error(room.call(who, "POST", "/participants", json={"user_id": 987654321}),
                     403, "forbidden")
    # 404 for the meeting comes first of all.
    r = stack.api("POST", "/meetings/999999999/participants", token=cast["part"]["token"],
                  json={"user_id": "x"})
    assert_error(r, 404, "not_found")
    # a moderator adding a host: 400 before 404 before 403 before 409.
    r = room.call("mod", "POST", "/participants", json={"user_id": 987654321, "role": "boss"})
    assert_error(r, 400, "invalid_field", "role")
    r = room.call("mod", "POST", "/participants", json={"user_id": 987654321, "role": "host"})
    assert_error(r, 404, "not_found", ANY)
    r = room.call("mod", "POST", "/participants", json={"user_id": room.uid("part2"),
                                                         "role": "host"})
    assert_error(r, 403, "forbidden", ANY)
    r = room.call("mod", "POST", "/participants", json={"user_id": room.uid("part2")})
    assert_error(r, 409, "conflict", ANY)


# ----------------------------------------------------- remove (3.12)

def test_remove_non_member_is_404(room):
    r = room.call("creator", "DELETE", f"/participants/{room.uid('newbie')}")
    assert_error(r, 404, "not_found", ANY)
    r = room.call("creator", "DELETE", "/participants/987654321")
    assert_error(r, 404, "not_found", ANY)
    # A stranger gets 403 whatever the target.
    r = room.call("outsider", "DELETE", "/participants/987654321")
    assert_error(r, 403, "forbidden")


def test_remove_accepts_no_body_but_an_empty_one(room):
    r = room.call("creator", "DELETE", f"/participants/{room.uid('part')}", json={"x": 1})
    assert_error(r, 400, "unknown_field", "x")
    r = room.call("creator", "DELETE", f"/participants/{room.uid('part')}", json={})
    assert r.status_code == 200


def test_removed_member_loses_access_and_vanishes(room, stack):
    mid = room.id
    room.start()
    assert room.call("part", "POST", "/join").status_code == 200
    assert_ok(room.call("mod", "DELETE", f"/participants/{room.uid('part')}"),
              "Participant removed successfully")
    ms = room.members()
    assert room.uid("part") not in ms and len(ms) == len(ROLES)
    r = room.call("creator", "GET", "/participants")
    assert r.json()["data"]["total"] == len(ROLES)
    for method, path in [("GET", ""), ("GET", "/participants"), ("GET", "/messages"),
                         ("GET", "/recordings"), ("POST", "/leave")]:
        assert_error(room.call("part", method, path), 403, "forbidden", field_for(path))
    r = stack.api("GET", "/meetings", token=room.cast["part"]["token"],
                  params={"page": 1, "page_size": 100})
    assert mid not in [m["meeting_id"] for m in r.json()["data"]["meetings"]]
    # The seat came back at once.
    assert stack.sql("SELECT lease_until IS NULL FROM participants WHERE meeting_id = %s "
                     "AND user_id = %s", mid, room.uid("part")) == [["t"]]
    # Removal sticks: join is refused until someone adds them back.
    assert_error(room.call("part", "POST", "/join"), 403, "forbidden")
    assert_error(room.call("part", "POST", "/join"), 403, "forbidden")
    r = room.call("mod", "POST", "/participants", json={"user_id": room.uid("part")})
    assert r.status_code == 200, r.text
    assert room.role_of("part") == "participant"
    assert room.members()[room.uid("part")]["status"] == "offline"
    assert room.call("part", "GET").status_code == 200
    assert room.call("part", "POST", "/join").status_code == 200


def test_readding_a_removed_member_takes_the_new_role(room):
    assert room.call("creator", "DELETE", f"/participants/{room.uid('mod2')}").status_code == 200
    r = room.call("creator", "POST", "/participants",
                  json={"user_id": room.uid("mod2"), "role": "participant"})
    assert r.status_code == 200
    assert room.role_of("mod2") == "participant"
    # removing twice: the second time it is not a member any more
    assert room.call("creator", "DELETE", f"/participants/{room.uid('part2')}").status_code == 200
    assert_error(room.call("creator", "DELETE", f"/participants/{room.uid('part2')}"),
                 404, "not_found", ANY)


# ----------------------------------------------------- role (3.13)

@pytest.mark.parametrize("payload,field,error", [
    ({}, "role", "invalid_field"),
    ({"role": "owner"}, "role", "invalid_field"),
    ({"role": None}, "role", "invalid_field"),
    ({"role": 2}, "role", "invalid_field"),
    ({"role": "host", "user_id": 5}, "user_id", "unknown_field"),
])
def test_role_rejects_bad_bodies(room, payload, field, error):
    r = room.call("creator", "PUT", f"/participants/{room.uid('part')}/role", json=payload)
    assert_error(r, 400, error, field)
    assert room.role_of("part") == "participant"


def test_role_of_a_non_member_is_404(room):
    r = room.call("creator", "PUT", f"/participants/{room.uid('newbie')}/role",
                  json={"role": "moderator"})
    assert_error(r, 404, "not_found", ANY)
    # a moderator is refused before the target is looked at
    r = room.call("mod", "PUT", f"/participants/{room.uid('newbie')}/role",
                  json={"role": "moderator"})
    assert_error(r, 403, "forbidden")
    r = room.call("mod", "PUT", f"/participants/{room.uid('part')}/role", json={"role": "x"})
    assert_error(r, 403, "forbidden")


def test_participant_endpoints_404_once_the_meeting_is_gone(room):
    room.start()
    assert room.call("creator", "POST", "/end").status_code == 200
    assert room.call("creator", "DELETE").status_code == 200
    target = room.uid("part")
    for method, path, body in [("GET", "/participants", None),
                               ("POST", "/participants", {"user_id": room.uid("newbie")}),
                               ("DELETE", f"/participants/{target}", None),
                               ("PUT", f"/participants/{target}/role", {"role": "host"})]:
        assert_error(room.call("creator", method, path, json=body), 404, "not_found")


# ----------------------------------------------------- concurrency
# Adds and joins may both create the (meeting, user) row; racing, they must
# still answer 200/409, never a 500 from the unique constraint.

def race(calls):
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as ex:
        return list(ex.map(go, calls))


def post(stack, path, token, **kw):
    return lambda: requests.post(f"{stack.url}/api/v1{path}", timeout=60,
                                 headers={"Authorization": "Bearer " + token}, **kw)


def test_concurrent_adds_of_one_user_admit_one(stack, cast):
    for _ in range(3):
        room = Room(stack, cast)
        calls = [post(stack, f"/meetings/{room.id}/participants", cast[who]["token"],
                      json={"user_id": room.uid("newbie")})
                 for who in ["creator", "host", "mod"] * 10]
        codes = sorted(r.status_code for r in race(calls))
        assert codes == [200] + [409] * (len(calls) - 1), codes
        assert room.role_of("newbie") == "participant"


@pytest.fixture(scope="module")
def crowd(stack):
    return [stack.new_user() for _ in range(30)]


def test_concurrent_add_and_join_of_strangers(stack, cast, crowd):
    for _ in range(3):
        room = Room(stack, cast)
        room.start()
        token = cast["creator"]["token"]
        adds = [post(stack, f"/meetings/{room.id}/participants", token,
                     json={"user_id": u["user_id"]}) for u in crowd]
        joins = [post(stack, f"/meetings/{room.id}/join", u["token"]) for u in crowd]
        results = race(adds + joins)
        added, joined = results[:len(crowd)], results[len(crowd):]
        assert all(r.status_code == 200 for r in joined), [r.text for r in joined]
        assert all(r.status_code in (200, 409) for r in added), [r.text for r in added]
        ms = room.members()
        assert all(ms[u["user_id"]]["status"] == "online" for u in crowd)
        assert len(ms) == 1 + len(ROLES) + len(crowd)
