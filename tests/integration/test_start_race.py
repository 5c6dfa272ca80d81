"""A start and a host's join of one scheduled meeting at once (sql/003_api.sql):
both start it, and both take the meeting's row lock and then its creator's
(MeetingMaxOngoingMeetings), in that order, so they queue instead of
deadlocking (PostgreSQL would abort one: a 500)."""
import time
from concurrent.futures import ThreadPoolExecutor

from envelopes import assert_error
from rowlock import RowLock


def test_a_start_queues_behind_a_hosts_join_that_starts_the_meeting(stack):
    host = stack.new_user()
    r = stack.api("POST", "/meetings", token=host["token"], json={
        "title": "Race", "start_time": "2030-05-01T10:00:00Z",
        "end_time": "2030-05-01T11:00:00Z", "max_participants": 10, "meeting_type": "video"})
    assert r.status_code == 201, r.text
    mid = r.json()["data"]["meeting_id"]
    # The join's first step, the meeting's row lock, held in a session of its own.
    lock = RowLock(stack, mid)
    with ThreadPoolExecutor(1) as pool:
        started = pool.submit(stack.api, "POST", f"/meetings/{mid}/start", token=host["token"])
        deadline = time.monotonic() + 20
        while lock.waiters() < 1:
            assert time.monotonic() < deadline, "the start did not wait for the meeting"
            time.sleep(0.05)
        # The rest of the join, the start among it, while the start waits.
        lock.p.stdin.write(f"SELECT mm_meeting_join({mid}, {host['user_id']}, NULL, 20);\n")
        lock.release()
        answer = started.result(30)
    assert lock.p.returncode == 0
    assert_error(answer, 409, "conflict")
    d = stack.api("GET", f"/meetings/{mid}", token=host["token"]).json()["data"]
    assert d["status"] == "ongoing"
