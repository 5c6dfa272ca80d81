"""Per-endpoint rate limits (SPEC.md 4): GCRA buckets in shared memory, shared by
every httpd child, kept across a graceful restart, set by directives."""
import concurrent.futures
import os
import time

import pytest
import requests

from jwtutil import access_claims, secret_of, sign


# The test stacks keep the seed's limits except where a test sets its own.
SEED_LIMITS = "MeetingRateLimit * 1000000/min\n" + "\n".join(
    f"MeetingRateLimit {name} {n}" for name, n in [
        ("auth.register", 5), ("auth.login", 5), ("auth.refresh", 10),
        ("profile.get", 100), ("meeting.list", 100)])


@pytest.fixture
def limited(make_stack):
    return make_stack(SEED_LIMITS)


def login(s, username="nobody", password="wrong-password"):
    return s.api("POST", "/auth/login", json={"username": username, "password": password})


def test_burst_then_429_with_headers(limited):
    seen = [login(limited) for _ in range(6)]
    assert [r.status_code for r in seen] == [401] * 5 + [429]
    first, last = seen[0], seen[5]
    assert first.headers["X-RateLimit-Limit"] == "5"
    assert first.headers["X-RateLimit-Remaining"] == "4"
    assert 1 <= int(first.headers["X-RateLimit-Reset"]) <= 12
    assert seen[4].headers["X-RateLimit-Remaining"] == "0"
    assert last.json()["error"] == "rate_limited" and last.json()["code"] == 429
    retry = int(last.headers["Retry-After"])
    assert 1 <= retry <= 12  # one token every 60/5 s
    assert last.headers["X-RateLimit-Remaining"] == "0"
    assert int(last.headers["X-RateLimit-Reset"]) <= 60


def ietf_fields(r, name):
    """RateLimit-Policy and RateLimit (SPEC.md 9) as {"q", "w"} and {"r", "t"},
    after checking that each names the endpoint."""
    out = []
    for header in ("RateLimit-Policy", "RateLimit"):
        item, *params = r.headers[header].split(";")
        assert item == f'"{name}"', r.headers[header]
        out.append({k: int(v) for k, v in (p.split("=") for p in params)})
    return out


def test_ietf_fields_beside_the_x_ones(limited):
    seen = [login(limited) for _ in range(6)]
    for r in seen:
        policy, now = ietf_fields(r, "auth.login")
        assert policy == {"q": 5, "w": 60}
        assert now == {"r": int(r.headers["X-RateLimit-Remaining"]),
                       "t": int(r.headers["X-RateLimit-Reset"])}
    assert ietf_fields(seen[0], "auth.login")[1]["r"] == 4
    assert ietf_fields(seen[5], "auth.login")[1]["r"] == 0  # the 429 carries them too


@pytest.mark.parametrize("limit, window", [("7/s", 1), ("7/min", 60), ("7/h", 3600),
                                           ("7/90", 90), ("7", 60)])
def test_the_window_is_the_limits_period(make_stack, limit, window):
    s = make_stack(f"MeetingRateLimit profile.get {limit}")
    u = s.new_user()
    r = s.api("GET", "/users/profile", token=u["token"])
    assert r.status_code == 200
    assert ietf_fields(r, "profile.get")[0] == {"q": 7, "w": window}


def test_no_ietf_fields_where_no_limit_applies(make_stack):
    s = make_stack("MeetingRateLimit profile.get off")
    u = s.new_user()
    r = s.api("GET", "/users/profile", token=u["token"])
    assert "RateLimit" not in r.headers and "RateLimit-Policy" not in r.headers
    # A revoked token's 401 is not charged, and carries no limit either.
    assert s.api("POST", "/auth/logout", token=u["token"]).status_code == 200
    r = s.api("GET", "/meetings?page=1&page_size=1", token=u["token"])
    assert r.status_code == 401
    assert not {"RateLimit", "RateLimit-Policy", "X-RateLimit-Limit"} & set(r.headers)


def test_a_token_comes_back_after_the_emission_interval(make_stack):
    s = make_stack("MeetingRateLimit auth.login 2/2")  # one token a second
    assert [login(s).status_code for _ in range(3)] == [401, 401, 429]
    time.sleep(1.1)
    assert login(s).status_code == 401
    assert login(s).status_code == 429


def test_users_and_endpoints_have_their_own_buckets(make_stack):
    s = make_stack("MeetingRateLimit meeting.list 3")
    a, b = s.new_user(), s.new_user()
    codes = [s.api("GET", "/meetings?page=1&page_size=10", token=a["token"]).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert s.api("GET", "/meetings?page=1&page_size=10", token=b["token"]).status_code == 200
    assert s.api("GET", "/users/profile", token=a["token"]).status_code == 200


def test_failed_authentication_spends_nothing(make_stack):
    s = make_stack("MeetingRateLimit profile.get 2")
    u = s.new_user()
    for _ in range(5):
        assert s.api("GET", "/users/profile", token="garbage").status_code == 401
    r = s.api("GET", "/users/profile", token=u["token"])
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "1"


def test_unrouted_requests_spend_nothing(make_stack):
    s = make_stack("MeetingRateLimit auth.login 2")
    for _ in range(5):
        assert s.api("GET", "/auth/login").status_code == 405
        assert s.api("POST", "/auth/logins").status_code == 404
    assert login(s).headers["X-RateLimit-Remaining"] == "1"


def test_bad_requests_spend_a_token(make_stack):
    s = make_stack("MeetingRateLimit auth.register 2")
    codes = [s.api("POST", "/auth/register", json={}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_off_and_exempt(make_stack):
    s = make_stack("MeetingRateLimit auth.login off")
    rs = [login(s) for _ in range(8)]
    assert all(r.status_code == 401 for r in rs)
    assert "X-RateLimit-Limit" not in rs[0].headers
    e = make_stack("MeetingRateLimit auth.login 1\nMeetingRateLimitExempt 127.0.0.0/8")
    assert all(login(e).status_code == 401 for _ in range(5))


def test_graceful_restart_keeps_the_budget(make_stack):
    s = make_stack("MeetingRateLimit auth.login 3/h")
    assert [login(s).status_code for _ in range(4)] == [401, 401, 401, 429]
    s.graceful()
    assert login(s).status_code == 429


def burst(s, n, path, token, workers=32):
    def one(_):
        return requests.get(s.url + "/api/v1" + path, timeout=30,
                            headers={"Authorization": "Bearer " + token}).status_code
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def child_pids(s):
    parent, pids = str(s.pid()), []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{p}/stat").read().split()[3] == parent:
                pids.append(p)
        except OSError:  # the process ended while we looked
            continue
    return pids


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_exact_count_across_children(make_stack, mpm):
    conf = ("MeetingRateLimit profile.get 40/h\nStartServers 4\nMinSpareServers 4\n"
            if mpm == "prefork" else
            "MeetingRateLimit profile.get 40/h\nStartServers 4\nThreadsPerChild 4\n"
            "MinSpareThreads 16\nMaxSpareThreads 16\n")
    s = make_stack(conf, mpm=mpm)
    u = s.new_user()
    assert len(child_pids(s)) >= 3
    codes = burst(s, 200, "/users/profile", u["token"])
    assert codes.count(200) == 40 and codes.count(429) == 160


def status_fields(s):
    text = requests.get(s.url + "/server-status?auto", timeout=10).text
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_a_full_table_keeps_the_log_in_limit(make_stack):
    """64 slots, every one held by a live key (150 users' profile reads at one an
    hour): log-ins from one address still meet their limit instead of going
    through unlimited, and the full table is logged once, not per request."""
    s = make_stack("MeetingRateLimitSlots 64\nMeetingRateLimit profile.get 1/h\n"
                   "MeetingRateLimit auth.login 3/min")
    secret = secret_of(s)
    uids = [s.register()["user_id"] for _ in range(150)]
    for uid in uids:
        token = sign(secret, access_claims(uid))
        # Past 64 a newcomer takes the slot closest to expiry and its debt: 429.
        assert s.api("GET", "/users/profile", token=token).status_code in (200, 429)
    fields = status_fields(s)
    assert fields["MeetingRateLimitSlotsUsed"] == fields["MeetingRateLimitSlots"] == "64"
    codes = [login(s).status_code for _ in range(10)]
    assert codes.count(401) <= 3 and codes.count(429) >= 7, codes
    r = login(s)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert s.log_text().count("MM0301") == 1, s.log_text()[-2000:]
