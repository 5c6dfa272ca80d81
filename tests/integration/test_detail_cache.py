"""The meeting-detail read cache (issue 18, mod_meeting/core/cache.c): GET
/meetings/:id answered from shared memory when it holds the meeting, the
membership and the token's generation. A change answered by this node is never
followed by a stale read on it: logout, removal, update, start, end, delete,
settings. A change written straight into the database (as another node's would
be) shows within MeetingDetailCache seconds, at once with the cache off."""
import subprocess
import threading
import time

import pytest
import requests

from conftest import HTTPD, Stack, wait_for
from envelopes import assert_error


def create(s, user, **settings):
    body = {"title": "cached", "description": "d", "start_time": "2030-05-01T10:00:00Z",
            "end_time": "2030-05-01T11:00:00Z", "max_participants": 10,
            "meeting_type": "video", "settings": settings}
    r = s.api("POST", "/meetings", token=user["token"], json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]["meeting_id"]


def add(s, host, mid, user):
    r = s.api("POST", f"/meetings/{mid}/participants", token=host["token"],
              json={"user_id": user["user_id"]})
    assert r.status_code == 200, r.text


def detail(s, user, mid, **headers):
    return s.api("GET", f"/meetings/{mid}", token=user["token"], headers=headers)


def cached(s, user, mid):
    """Reads the detail twice (the second from the cache) and returns it."""
    first = detail(s, user, mid)
    assert first.status_code == 200, first.text
    second = detail(s, user, mid)
    assert second.status_code == 200, second.text
    assert second.json() == first.json() and second.headers["ETag"] == first.headers["ETag"]
    return second


@pytest.fixture
def meeting(stack):
    host, member = stack.new_user(), stack.new_user()
    mid = create(stack, host)
    add(stack, host, mid, member)
    return stack, host, member, mid


def test_a_write_behind_the_modules_back_is_not_seen_while_cached(meeting):
    """The cache is there: a title changed straight in the database is not
    seen by a read the cache answers (the proof that the tests below test it)."""
    s, host, _, mid = meeting
    cached(s, host, mid)
    s.sql("UPDATE meetings SET title = 'behind its back' WHERE meeting_id = %s", mid)
    assert detail(s, host, mid).json()["data"]["title"] == "cached"


def test_logout_answered_then_the_old_token_gets_401(meeting):
    s, _, member, mid = meeting
    cached(s, member, mid)
    r = s.api("POST", "/auth/logout", token=member["token"])
    assert r.status_code == 200, r.text
    assert_error(detail(s, member, mid), 401, "unauthorized")


def test_removal_answered_then_the_removed_member_gets_403(meeting):
    s, host, member, mid = meeting
    cached(s, member, mid)
    r = s.api("DELETE", f"/meetings/{mid}/participants/{member['user_id']}",
              token=host["token"])
    assert r.status_code == 200, r.text
    assert_error(detail(s, member, mid), 403, "forbidden")


def test_leaving_answered_then_the_member_still_reads(meeting):
    s, _, member, mid = meeting
    cached(s, member, mid)
    r = s.api("POST", f"/meetings/{mid}/leave", token=member["token"])
    assert r.status_code in (200, 409), r.text
    assert detail(s, member, mid).status_code == 200


def test_update_answered_then_every_member_reads_the_new_detail(meeting):
    s, host, member, mid = meeting
    old = cached(s, member, mid)
    r = s.api("PUT", f"/meetings/{mid}", token=host["token"],
              json={"title": "renamed", "settings": {"enable_chat": False}})
    assert r.status_code == 200, r.text
    new = detail(s, member, mid)
    assert new.json()["data"]["title"] == "renamed"
    assert new.json()["data"]["settings"]["enable_chat"] is False
    assert new.headers["ETag"] == r.headers["ETag"] != old.headers["ETag"]


def test_start_and_end_answered_then_the_status_follows(meeting):
    s, host, member, mid = meeting
    assert cached(s, member, mid).json()["data"]["status"] == "scheduled"
    assert s.api("POST", f"/meetings/{mid}/start", token=host["token"]).status_code == 200
    assert detail(s, member, mid).json()["data"]["status"] == "ongoing"
    cached(s, member, mid)
    assert s.api("POST", f"/meetings/{mid}/end", token=host["token"]).status_code == 200
    assert detail(s, member, mid).json()["data"]["status"] == "ended"


def test_delete_answered_then_cancelled_then_404(meeting):
    """A scheduled meeting's delete cancels it; a cancelled one's removes it."""
    s, host, member, mid = meeting
    cached(s, member, mid)
    assert s.api("DELETE", f"/meetings/{mid}", token=host["token"]).status_code == 200
    assert detail(s, member, mid).json()["data"]["status"] == "cancelled"
    cached(s, member, mid)
    assert s.api("DELETE", f"/meetings/{mid}", token=host["token"]).status_code == 200
    assert_error(detail(s, member, mid), 404, "not_found")


def test_if_none_match_from_the_cache_and_after_an_update(meeting):
    s, host, member, mid = meeting
    tag = cached(s, member, mid).headers["ETag"]
    r = detail(s, member, mid, **{"If-None-Match": tag})
    assert r.status_code == 304 and r.headers["ETag"] == tag and not r.content
    assert s.api("PUT", f"/meetings/{mid}", token=host["token"],
                 json={"description": "new"}).status_code == 200
    r = detail(s, member, mid, **{"If-None-Match": tag})
    assert r.status_code == 200 and r.headers["ETag"] != tag
    assert r.json()["data"]["description"] == "new"


def test_one_members_cached_read_does_not_admit_a_stranger(meeting):
    s, _, member, mid = meeting
    cached(s, member, mid)
    assert_error(detail(s, s.new_user(), mid), 403, "forbidden")


def test_no_stale_read_after_a_removal_answered_under_concurrent_reads(meeting):
    """Readers hammer the detail (filling the cache from reads that raced
    with the removal) while the host removes the member: every read sent
    after the removal was answered gets 403."""
    s, host, member, mid = meeting
    cached(s, member, mid)
    stop = time.monotonic() + 20
    answered = []
    reads = []          # (sent at, status)
    lock = threading.Lock()

    def reader():
        session = requests.Session()
        url = f"{s.url}/api/v1/meetings/{mid}"
        for _ in range(400):
            if time.monotonic() > stop or (answered and time.monotonic() > answered[0] + 1.5):
                return
            sent = time.monotonic()
            r = session.get(url, headers={"Authorization": "Bearer " + member["token"]},
                            timeout=10)
            with lock:
                reads.append((sent, r.status_code))

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    r = s.api("DELETE", f"/meetings/{mid}/participants/{member['user_id']}",
              token=host["token"])
    answered.append(time.monotonic())
    for t in threads:
        t.join(30)
    assert r.status_code == 200, r.text
    after = [code for sent, code in reads if sent > answered[0]]
    before = [code for sent, code in reads if sent <= answered[0]]
    assert before and after, (len(before), len(after))
    assert set(after) == {403}, after


def test_a_change_behind_its_back_shows_within_the_lifetime(make_stack):
    s = make_stack("MeetingDetailCache 1\n")
    host = s.new_user()
    mid = create(s, host)
    cached(s, host, mid)
    s.sql("UPDATE meetings SET title = 'elsewhere' WHERE meeting_id = %s", mid)
    assert wait_for(lambda: detail(s, host, mid).json()["data"]["title"] == "elsewhere", 5), \
        "still stale 5 s after a 1 s lifetime"


def test_off_reads_the_database_every_time(make_stack):
    s = make_stack("MeetingDetailCache 0\n")
    host = s.new_user()
    mid = create(s, host)
    detail(s, host, mid)
    detail(s, host, mid)
    s.sql("UPDATE meetings SET title = 'at once' WHERE meeting_id = %s", mid)
    assert detail(s, host, mid).json()["data"]["title"] == "at once"


def test_a_graceful_restart_empties_it(meeting):
    s, host, _, mid = meeting
    cached(s, host, mid)
    s.sql("UPDATE meetings SET title = 'after restart' WHERE meeting_id = %s", mid)
    s.graceful()
    deadline = time.monotonic() + 20
    while True:
        r = detail(s, host, mid)
        if r.status_code == 200 and r.json()["data"]["title"] == "after restart":
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)


@pytest.mark.parametrize("value", ["-1", "3601", "soon"])
def test_a_bad_lifetime_fails_configtest_naming_the_directive(workdir, pg, value):
    s = Stack(workdir, pg, f"MeetingDetailCache {value}\n")
    r = subprocess.run([HTTPD, "-f", str(s.conf), "-t"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "MeetingDetailCache" in r.stderr, r.stderr
