"""Join and leave (seed 3.8-3.9, SPEC.md 3): state, password, capacity under concurrency,
the seat lease, room_url tickets and ice_servers."""
import base64
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from envelopes import ANY, assert_error
from jwtutil import b64url, claims_of, secret_of

JOIN_KEYS = {"meeting_id", "participant_id", "room_url", "ice_servers"}


def stun_entries(stack):
    """ice_servers' STUN entries, as the rendered httpd.conf configures them."""
    return [{"urls": u} for words in stack.directive("MeetingStunServer") for u in words]


def meeting_body(**over):
    b = {"title": "Join", "start_time": "2030-05-01T10:00:00Z",
         "end_time": "2030-05-01T11:00:00Z", "max_participants": 10, "meeting_type": "video"}
    b.update(over)
    return b


def create(stack, host, start=True, **over):
    r = stack.api("POST", "/meetings", token=host["token"], json=meeting_body(**over))
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    if start:
        assert stack.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    return mid


def join(stack, user, mid, **kw):
    return stack.api("POST", f"/meetings/{mid}/join", token=user["token"], **kw)


def leave(stack, user, mid):
    return stack.api("POST", f"/meetings/{mid}/leave", token=user["token"])


def add(stack, host, mid, user, role="participant"):
    r = stack.api("POST", f"/meetings/{mid}/participants", token=host["token"],
                  json={"user_id": user["user_id"], "role": role})
    assert r.status_code == 200, r.text


def members(stack, user, mid):
    r = stack.api("GET", f"/meetings/{mid}/participants", token=user["token"])
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["total"] == len(d["participants"])
    return {p["user_id"]: p for p in d["participants"]}


def online(stack, user, mid):
    return {uid for uid, p in members(stack, user, mid).items() if p["status"] == "online"}


@pytest.fixture
def host(stack):
    return stack.new_user()


@pytest.fixture(scope="module")
def guests(stack):
    return [stack.new_user() for _ in range(4)]


def verify_ticket(stack, room_url, mid, uid):
    base, _, query = room_url.partition("?")
    assert base == stack.signaling_url()
    u = urlsplit(room_url)
    q = parse_qs(u.query, strict_parsing=True)
    assert set(q) == {"meeting_id", "user_id", "token"}
    assert q["meeting_id"] == [str(mid)] and q["user_id"] == [str(uid)]
    token = q["token"][0]
    head, payload, sig = token.split(".")
    mac = hmac.new(secret_of(stack), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert b64url(mac) == sig, "the ticket is not signed with the server's key"
    c = claims_of(token)
    assert c["typ"] == "ticket" and c["sub"] == str(uid) and c["mid"] == mid
    now = time.time()
    assert c["iat"] - 5 <= now <= c["exp"] and 0 < c["exp"] - c["iat"] <= 300
    return c


# ----------------------------------------------------------------- join

def test_join_answers_the_seed_shape(stack, host, guests):
    g = guests[0]
    mid = create(stack, host)
    r = join(stack, g, mid)
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == {"code", "message", "data"}
    assert j["code"] == 200 and j["message"] == "Joined meeting successfully"
    d = j["data"]
    assert set(d) == JOIN_KEYS
    assert d["meeting_id"] == mid
    assert isinstance(d["participant_id"], int) and d["participant_id"] > 0
    assert stun_entries(stack), "the test configuration names a STUN server"
    assert d["ice_servers"] == stun_entries(stack)
    verify_ticket(stack, d["room_url"], mid, g["user_id"])
    # A stranger who joins becomes a participant, online.
    p = members(stack, host, mid)[g["user_id"]]
    assert p["participant_id"] == d["participant_id"]
    assert p["role"] == "participant" and p["status"] == "online"
    assert stack.api("GET", f"/meetings/{mid}", token=g["token"]).status_code == 200


def test_start_returns_a_ticket_for_the_host(stack, host):
    mid = create(stack, host, start=False)
    r = stack.api("POST", f"/meetings/{mid}/start", token=host["token"])
    verify_ticket(stack, r.json()["data"]["room_url"], mid, host["user_id"])
    assert online(stack, host, mid) == set()


@pytest.mark.parametrize("state", ["ended", "cancelled"])
def test_join_only_when_ongoing(stack, host, guests, state):
    mid = create(stack, host, start=state == "ended")
    if state == "ended":
        assert stack.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    if state == "cancelled":
        assert stack.api("DELETE", f"/meetings/{mid}", token=host["token"]).status_code == 200
    for u in (host, guests[0]):
        assert_error(join(stack, u, mid), 409, "conflict")
    assert online(stack, host, mid) == set()
    assert guests[0]["user_id"] not in members(stack, host, mid)


def meeting_row(stack, mid):
    """The meeting's row and its participants' rows, as PostgreSQL holds them."""
    m = stack.sql("SELECT to_jsonb(m) FROM meetings m WHERE meeting_id = %s", mid)
    ps = stack.sql("SELECT to_jsonb(p) FROM participants p WHERE meeting_id = %s"
                   " ORDER BY participant_id", mid)
    return json.loads(m[0][0]), [json.loads(p[0]) for p in ps]


def same_but_ids_and_times(a, b):
    """Two rows are alike: every column equal, except ids and times, which
    only have to be set (or unset) alike."""
    assert a.keys() == b.keys()
    for k in a:
        if k.endswith("_id") or k.endswith("_at") or k.endswith("_until"):
            assert (a[k] is None) == (b[k] is None), (k, a[k], b[k])
        else:
            assert a[k] == b[k], (k, a[k], b[k])


@pytest.mark.parametrize("who", ["participant", "moderator", "stranger"])
def test_only_a_host_may_join_a_scheduled_meeting(stack, host, who):
    u = stack.new_user()
    mid = create(stack, host, start=False)
    if who != "stranger":
        add(stack, host, mid, u, who)
    e = assert_error(join(stack, u, mid), 409, "conflict")
    assert "host" in e["message"] and "start" in e["message"], e
    d = stack.api("GET", f"/meetings/{mid}", token=host["token"]).json()["data"]
    assert d["status"] == "scheduled"
    assert online(stack, host, mid) == set()
    assert (u["user_id"] in members(stack, host, mid)) == (who != "stranger")


@pytest.mark.parametrize("role", ["creator", "host"])
def test_a_hosts_join_starts_a_scheduled_meeting(stack, host, role):
    """SPEC 3.8 (v1.1): the join starts the meeting, as start would, and
    answers as a join."""
    joiner = host if role == "creator" else stack.new_user()
    mid = create(stack, host, start=False, password="s3cret")
    if role == "host":
        add(stack, host, mid, joiner, "host")
    r = join(stack, joiner, mid)
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == {"code", "message", "data"}
    assert j["code"] == 200 and j["message"] == "Joined meeting successfully"
    assert set(j["data"]) == JOIN_KEYS and j["data"]["meeting_id"] == mid
    verify_ticket(stack, j["data"]["room_url"], mid, joiner["user_id"])
    d = stack.api("GET", f"/meetings/{mid}", token=host["token"]).json()["data"]
    assert d["status"] == "ongoing"
    assert online(stack, host, mid) == {joiner["user_id"]}
    # Started: start itself now finds nothing to start, and others may join.
    assert_error(stack.api("POST", f"/meetings/{mid}/start", token=host["token"]), 409,
                 "conflict")
    g = stack.new_user()
    assert join(stack, g, mid, json={"password": "s3cret"}).status_code == 200


def test_a_hosts_join_leaves_the_meeting_as_start_then_join_would(stack, host):
    by_join, by_start = create(stack, host, start=False), create(stack, host)
    assert join(stack, host, by_join).status_code == 200
    assert join(stack, host, by_start).status_code == 200
    (m1, p1), (m2, p2) = meeting_row(stack, by_join), meeting_row(stack, by_start)
    same_but_ids_and_times(m1, m2)
    assert len(p1) == len(p2) == 1
    same_but_ids_and_times(p1[0], p2[0])


def test_join_missing_meeting_is_404(stack, guests):
    assert_error(join(stack, guests[0], 999999999), 404, "not_found")
    assert_error(join(stack, guests[0], 999999999, data=b"{bad",
                      headers={"Content-Type": "application/json"}), 404, "not_found")
    assert join(stack, guests[0], "abc").status_code == 404
    assert stack.api("POST", "/meetings/1/join").status_code == 401


@pytest.mark.parametrize("kw,status,error,field", [
    ({"json": {"password": 5}}, 400, "invalid_field", "password"),
    ({"json": {"password": None}}, 400, "invalid_field", "password"),
    ({"json": {"password": "p" * 51}}, 400, "invalid_field", "password"),
    ({"json": {"pw": "x"}}, 400, "unknown_field", "pw"),
    ({"json": ["x"]}, 400, "invalid_json", None),
    ({"data": b"{bad", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json",
     None),
    ({"data": b"pw", "headers": {"Content-Type": "text/plain"}}, 415,
     "unsupported_media_type", None),
])
@pytest.mark.parametrize("password", [None, "pw"])
def test_join_rejects_bad_bodies_before_the_password(stack, host, guests, kw, status, error,
                                                     field, password):
    mid = create(stack, host, password=password) if password else create(stack, host)
    assert_error(join(stack, guests[0], mid, **kw), status, error, field)
    assert online(stack, host, mid) == set()


def test_join_is_idempotent_while_online(stack, host, guests):
    g = guests[0]
    mid = create(stack, host, max_participants=1)
    first = join(stack, g, mid).json()["data"]
    joined_at = members(stack, host, mid)[g["user_id"]]["joined_at"]
    (lease1,), = stack.sql("SELECT extract(epoch FROM lease_until) FROM participants "
                           "WHERE meeting_id = %s AND user_id = %s", mid, g["user_id"])
    time.sleep(1.1)
    # Full (max 1), but the caller already holds the seat.
    r = join(stack, g, mid)
    assert r.status_code == 200, r.text
    again = r.json()["data"]
    assert again["participant_id"] == first["participant_id"]
    assert members(stack, host, mid)[g["user_id"]]["joined_at"] == joined_at
    (lease2,), = stack.sql("SELECT extract(epoch FROM lease_until) FROM participants "
                           "WHERE meeting_id = %s AND user_id = %s", mid, g["user_id"])
    assert float(lease2) > float(lease1), "re-joining renews the lease"
    assert len(members(stack, host, mid)) == 2


def test_join_accepts_no_body_or_an_empty_object(stack, host, guests):
    mid = create(stack, host)
    assert join(stack, guests[0], mid).status_code == 200
    assert join(stack, guests[1], mid, json={}).status_code == 200
    # A password sent to a meeting that has none does no harm.
    assert join(stack, guests[2], mid, json={"password": "whatever"}).status_code == 200


# ----------------------------------------------------------------- password

def test_password_is_stored_hashed(stack, host):
    mid = create(stack, host, start=False, password="Op3n Sesame")
    (h,), = stack.sql("SELECT password_hash FROM meetings WHERE meeting_id = %s", mid)
    assert h.startswith("$mm1$2") and "Sesame" not in h


def test_a_meeting_password_is_checked_whole_not_its_first_72_bytes(stack, host, guests):
    right, wrong = "é" * 49 + "x", "é" * 49 + "y"      # 99 bytes, the first 72 alike
    mid = create(stack, host, password=right)
    g = guests[0]
    r = stack.api("POST", f"/meetings/{mid}/join", token=g["token"], json={"password": wrong})
    assert r.status_code == 403 and r.json()["error"] == "wrong_password", r.text
    r = stack.api("POST", f"/meetings/{mid}/join", token=g["token"], json={"password": right})
    assert r.status_code == 200, r.text


def test_password_rules(stack, host, guests):
    g, member, hostee, mod = guests[:4]
    mid = create(stack, host, password="s3cret")
    add(stack, host, mid, member)
    add(stack, host, mid, hostee, "host")
    add(stack, host, mid, mod, "moderator")
    # Hosts (the creator and any other) skip it.
    assert join(stack, host, mid).status_code == 200
    assert join(stack, hostee, mid).status_code == 200
    # Everybody else needs it: missing, wrong, wrong case, empty.
    for u in (g, member, mod):
        for kw in ({}, {"json": {}}, {"json": {"password": "wrong"}},
                   {"json": {"password": "S3CRET"}}, {"json": {"password": ""}}):
            assert_error(join(stack, u, mid, **kw), 403, "wrong_password", ANY)
    assert online(stack, host, mid) == {host["user_id"], hostee["user_id"]}
    assert g["user_id"] not in members(stack, host, mid)
    for u in (g, member, mod):
        assert join(stack, u, mid, json={"password": "s3cret"}).status_code == 200
    assert online(stack, host, mid) == {u["user_id"] for u in (host, hostee, g, member, mod)}


def test_wrong_password_comes_before_the_state_conflict(stack, host, guests):
    mid = create(stack, host, start=False, password="s3cret")
    assert_error(join(stack, guests[0], mid, json={"password": "no"}), 403, "wrong_password",
                 ANY)
    assert_error(join(stack, guests[0], mid, json={"password": "s3cret"}), 409, "conflict")
    # A host needs no password, and their join starts the meeting (SPEC 3.8, v1.1).
    assert join(stack, host, mid).status_code == 200


def test_password_change_and_clear(stack, host, guests):
    mid = create(stack, host, password="old")
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"], json={"password": "new"})
    assert r.status_code == 200
    assert_error(join(stack, guests[0], mid, json={"password": "old"}), 403, "wrong_password",
                 ANY)
    assert join(stack, guests[0], mid, json={"password": "new"}).status_code == 200
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"], json={"password": None})
    assert r.status_code == 200
    assert join(stack, guests[1], mid).status_code == 200


def test_unicode_password(stack, host, guests):
    mid = create(stack, host, password="密码🔑")
    assert_error(join(stack, guests[0], mid, json={"password": "密码"}), 403, "wrong_password",
                 ANY)
    assert join(stack, guests[0], mid, json={"password": "密码🔑"}).status_code == 200


# ----------------------------------------------------------------- capacity

def concurrent_joins(stack, mid, users):
    barrier = threading.Barrier(len(users))
    url = f"{stack.url}/api/v1/meetings/{mid}/join"

    def go(u):
        barrier.wait()
        return requests.post(url, headers={"Authorization": "Bearer " + u["token"]}, timeout=60)

    with ThreadPoolExecutor(len(users)) as ex:
        return list(ex.map(go, users))


def make_users(stack, n):
    return [stack.new_user() for _ in range(n)]


def test_fifty_concurrent_joins_for_ten_places_admit_ten(stack, host):
    mid = create(stack, host, max_participants=12)
    early = stack.new_user()
    assert join(stack, host, mid).status_code == 200
    assert join(stack, early, mid).status_code == 200      # 2 online: 10 places left
    users = make_users(stack, 50)
    results = concurrent_joins(stack, mid, users)
    admitted = {u["user_id"]: r.json()["data"]["participant_id"]
                for u, r in zip(users, results) if r.status_code == 200}
    refused = [r for r in results if r.status_code != 200]
    assert len(admitted) == 10, [r.status_code for r in results]
    assert len(refused) == 40
    for r in refused:
        assert_error(r, 409, "meeting_full", ANY)
    ms = members(stack, host, mid)
    on = {uid for uid, p in ms.items() if p["status"] == "online"}
    assert on == set(admitted) | {host["user_id"], early["user_id"]}
    assert {uid: ms[uid]["participant_id"] for uid in admitted} == admitted
    # The refused strangers did not become members.
    assert set(ms) == on
    assert stack.sql("SELECT count(*) FROM participants WHERE meeting_id = %s "
                     "AND lease_until > now()", mid) == [["12"]]
    # Full now; a host is still admitted, another guest is not.
    assert_error(join(stack, stack.new_user(), mid), 409, "meeting_full", ANY)


def test_concurrent_joins_of_members_admit_exactly_the_free_places(stack, host):
    mid = create(stack, host, max_participants=5)
    users = make_users(stack, 25)
    for u in users:
        add(stack, host, mid, u)
    results = concurrent_joins(stack, mid, users)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 5 + [409] * 20
    assert all(r.json()["error"] == "meeting_full" for r in results if r.status_code == 409)
    admitted = {u["user_id"] for u, r in zip(users, results) if r.status_code == 200}
    assert online(stack, host, mid) == admitted
    assert len(members(stack, host, mid)) == 26


def test_hosts_are_never_refused_for_capacity(stack, host, guests):
    mid = create(stack, host, max_participants=1)
    cohost = guests[1]
    add(stack, host, mid, cohost, "host")
    assert join(stack, guests[0], mid).status_code == 200
    assert_error(join(stack, guests[2], mid), 409, "meeting_full", ANY)
    assert join(stack, host, mid).status_code == 200
    assert join(stack, cohost, mid).status_code == 200
    assert online(stack, host, mid) == {guests[0]["user_id"], host["user_id"],
                                        cohost["user_id"]}
    # Seats held by hosts count: a guest leaving does not make room for another.
    assert leave(stack, guests[0], mid).status_code == 200
    assert_error(join(stack, guests[2], mid), 409, "meeting_full", ANY)
    assert leave(stack, host, mid).status_code == 200
    assert leave(stack, cohost, mid).status_code == 200
    assert join(stack, guests[2], mid).status_code == 200


def test_raising_max_participants_makes_room(stack, host, guests):
    mid = create(stack, host, max_participants=1)
    assert join(stack, guests[0], mid).status_code == 200
    assert_error(join(stack, guests[1], mid), 409, "meeting_full", ANY)
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"], json={"max_participants": 2})
    assert r.status_code == 200
    assert join(stack, guests[1], mid).status_code == 200


# ----------------------------------------------------------------- lease

def lease_seconds(stack, mid, uid):
    (v,), = stack.sql("SELECT extract(epoch FROM lease_until - now()) FROM participants "
                      "WHERE meeting_id = %s AND user_id = %s", mid, uid)
    return float(v)


def expire(stack, mid, uid):
    stack.sql("UPDATE participants SET lease_until = now() - interval '1 second' "
              "WHERE meeting_id = %s AND user_id = %s", mid, uid)


def test_join_takes_a_seat_on_a_short_lease(stack, host, guests):
    mid = create(stack, host)
    assert join(stack, guests[0], mid).status_code == 200
    assert 60 <= lease_seconds(stack, mid, guests[0]["user_id"]) <= 120


def test_a_join_never_followed_by_a_connection_gives_its_seat_back(stack, host, guests):
    a, b, c = guests[:3]
    mid = create(stack, host, max_participants=2)
    pid_a = join(stack, a, mid).json()["data"]["participant_id"]
    assert join(stack, b, mid).status_code == 200
    assert_error(join(stack, c, mid), 409, "meeting_full", ANY)
    expire(stack, mid, a["user_id"])
    # Nothing ran; the lease alone says a is gone.
    assert members(stack, host, mid)[a["user_id"]]["status"] == "offline"
    assert online(stack, host, mid) == {b["user_id"]}
    assert_error(leave(stack, a, mid), 409, "conflict")
    assert join(stack, c, mid).status_code == 200
    # Now a comes back to a full meeting: the seat is gone.
    assert_error(join(stack, a, mid), 409, "meeting_full", ANY)
    assert leave(stack, b, mid).status_code == 200
    r = join(stack, a, mid)
    assert r.status_code == 200 and r.json()["data"]["participant_id"] == pid_a
    assert online(stack, host, mid) == {a["user_id"], c["user_id"]}


def test_update_reads_the_lease_too(stack, host, guests):
    mid = create(stack, host, max_participants=5)
    for g in guests[:3]:
        assert join(stack, g, mid).status_code == 200
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"], json={"max_participants": 2})
    assert_error(r, 409, "conflict", ANY)
    expire(stack, mid, guests[0]["user_id"])
    r = stack.api("PUT", f"/meetings/{mid}", token=host["token"], json={"max_participants": 2})
    assert r.status_code == 200, r.text


# ----------------------------------------------------------------- leave

def test_leave(stack, host, guests):
    g = guests[0]
    mid = create(stack, host)
    pid = join(stack, g, mid).json()["data"]["participant_id"]
    r = leave(stack, g, mid)
    assert r.status_code == 200, r.text
    assert r.json() == {"code": 200, "message": "Left meeting successfully"}
    p = members(stack, host, mid)[g["user_id"]]
    assert p["status"] == "offline" and p["participant_id"] == pid
    (left, lease), = stack.sql("SELECT left_at IS NOT NULL, lease_until IS NULL FROM "
                               "participants WHERE meeting_id = %s AND user_id = %s",
                               mid, g["user_id"])
    assert (left, lease) == ("t", "t")
    assert_error(leave(stack, g, mid), 409, "conflict")
    # Still a member: may read and join again, same participant.
    assert stack.api("GET", f"/meetings/{mid}", token=g["token"]).status_code == 200
    r = join(stack, g, mid)
    assert r.status_code == 200 and r.json()["data"]["participant_id"] == pid
    assert stack.sql("SELECT left_at IS NULL FROM participants WHERE meeting_id = %s "
                     "AND user_id = %s", mid, g["user_id"]) == [["t"]]


def test_leave_when_not_online_or_not_a_member(stack, host, guests):
    mid = create(stack, host, start=False)
    assert_error(leave(stack, host, mid), 409, "conflict")       # never joined
    assert_error(leave(stack, guests[0], mid), 403, "forbidden")  # not a member
    assert_error(leave(stack, guests[0], 999999999), 404, "not_found")
    r = stack.api("POST", f"/meetings/{mid}/leave", token=host["token"], json={"x": 1})
    assert_error(r, 400, "unknown_field", "x")
    r = stack.api("POST", f"/meetings/{mid}/leave", token=guests[0]["token"], json={"x": 1})
    assert_error(r, 403, "forbidden")


# ----------------------------------------------------------------- end

def test_end_sets_everyone_offline(stack, host, guests):
    mid = create(stack, host)
    for u in [host] + guests[:3]:
        assert join(stack, u, mid).status_code == 200
    assert len(online(stack, host, mid)) == 4
    assert stack.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    ms = members(stack, guests[0], mid)
    assert len(ms) == 4 and {p["status"] for p in ms.values()} == {"offline"}
    assert stack.sql("SELECT count(*) FROM participants WHERE meeting_id = %s "
                     "AND (lease_until IS NOT NULL OR left_at IS NULL)", mid) == [["0"]]
    assert_error(join(stack, guests[0], mid), 409, "conflict")
    assert_error(leave(stack, guests[0], mid), 409, "conflict")


# ----------------------------------------------------------------- removal

def test_removed_user_cannot_join_until_readded(stack, host, guests):
    g = guests[0]
    mid = create(stack, host, password="pw")
    assert join(stack, g, mid, json={"password": "pw"}).status_code == 200
    r = stack.api("DELETE", f"/meetings/{mid}/participants/{g['user_id']}", token=host["token"])
    assert r.status_code == 200
    assert g["user_id"] not in members(stack, host, mid)
    for kw in ({}, {"json": {"password": "pw"}}, {"json": {"password": "wrong"}}):
        assert_error(join(stack, g, mid, **kw), 403, "forbidden")
    assert g["user_id"] not in members(stack, host, mid)
    add(stack, host, mid, g)
    assert_error(join(stack, g, mid), 403, "wrong_password", ANY)
    assert join(stack, g, mid, json={"password": "pw"}).status_code == 200
    assert g["user_id"] in online(stack, host, mid)


# ----------------------------------------------------------------- ice servers

def test_turn_credentials_follow_the_coturn_rest_scheme(make_stack, tmp_path):
    secret = "turn-shared-secret-0123456789abcdef"
    path = tmp_path / "turn.secret"
    path.write_text(secret + "\n")
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    s = make_stack("MeetingTurnServer turn:turn.example.com:3478?transport=udp "
                   "turns:turn.example.com:5349\n"
                   f'MeetingTurnSecretFile "{path}"\nMeetingTurnCredentialLifetime 3600\n')
    host, guest = s.new_user(), s.new_user()
    mid = create(s, host)
    before = int(time.time())
    r = join(s, guest, mid)
    after = int(time.time())
    assert r.status_code == 200, r.text
    ice = r.json()["data"]["ice_servers"]
    stuns = stun_entries(s)
    assert ice[:len(stuns)] == stuns
    turns = ice[len(stuns):]
    assert [t["urls"] for t in turns] == ["turn:turn.example.com:3478?transport=udp",
                                          "turns:turn.example.com:5349"]
    for t in turns:
        assert set(t) == {"urls", "username", "credential"}
        expiry, uid = t["username"].split(":")
        assert uid == str(guest["user_id"])
        assert before + 3600 <= int(expiry) <= after + 3600
        mac = hmac.new(secret.encode(), t["username"].encode(), hashlib.sha1).digest()
        assert t["credential"] == base64.b64encode(mac).decode()
    verify_ticket(s, r.json()["data"]["room_url"], mid, guest["user_id"])
