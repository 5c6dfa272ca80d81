"""For admins and browser clients: health, server-status, metrics, CORS."""
import json
import re

import pytest
import requests

from conftest import ROOT, Postgres, Stack, unique


def test_health_needs_no_token_and_is_never_limited(make_stack):
    s = make_stack("MeetingRateLimit * 1")
    for _ in range(5):
        r = s.api("GET", "/health")
        assert r.status_code == 200
        assert "X-RateLimit-Limit" not in r.headers


@pytest.mark.allow_errors
def test_health_is_503_without_the_database(workdir):
    pg = Postgres(workdir, unique("pg"))
    pg.start()
    pg.migrate()
    s = Stack(workdir, pg)
    s.start()
    try:
        pg.stop()
        r = s.api("GET", "/health")
        assert r.status_code == 503 and r.headers["Retry-After"]
    finally:
        s.stop()
        pg.stop()


def test_server_status_has_a_meeting_section(stack):
    u = stack.new_user()
    stack.api("GET", "/users/profile", token=u["token"])
    stack.api("GET", "/no-such-thing")
    text = requests.get(stack.url + "/server-status?auto", timeout=10).text
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    assert int(fields["MeetingRateLimitSlots"]) == 4096
    assert int(fields["MeetingRateLimitSlotsUsed"]) >= 1
    assert fields["MeetingSignald"] == "up"
    assert "MeetingSignaldRooms" in fields and "MeetingSignaldConnections" in fields
    assert int(fields["MeetingRoute_profile.get_requests"]) >= 1
    assert int(fields["MeetingRoute_profile.get_2xx"]) >= 1
    assert int(fields["MeetingRoute_unrouted_4xx"]) >= 1
    html = requests.get(stack.url + "/server-status", timeout=10).text
    assert "mod_meeting" in html and "profile.get" in html


def test_cors_preflight_and_headers(make_stack):
    s = make_stack("MeetingCORSOrigin https://app.example.com\nMeetingRateLimit * 1")
    pre = requests.options(s.url + "/api/v1/meetings/5", timeout=10, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert pre.headers["Access-Control-Allow-Methods"] == "PUT"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    # Preflights spend no token: the limit of 1 is still there for the real call.
    r = s.api("POST", "/auth/login", json={"username": "x", "password": "y"},
              headers={"Origin": "https://app.example.com"})
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-RateLimit-Remaining" in r.headers["Access-Control-Expose-Headers"]
    other = s.api("GET", "/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_server_status_counts_signald_connections(stack):
    from test_signaling import Room
    import asyncio
    import time
    import websockets

    room = Room(stack, guests=1)

    def fields():
        text = requests.get(stack.url + "/server-status?auto", timeout=10).text
        return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)

    async def connected():
        async with websockets.connect(room.url(room.guests[0])) as ws:
            await ws.recv()
            time.sleep(1.5)  # signald writes its counts once a second
            return fields()

    f = asyncio.run(connected())
    assert int(f["MeetingSignaldRooms"]) >= 1
    assert int(f["MeetingSignaldConnections"]) >= 1


def prometheus_samples(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def test_metrics_endpoint_speaks_prometheus(stack):
    url = stack.url + "/meeting-metrics"
    before = prometheus_samples(requests.get(url, timeout=10).text)
    u = stack.new_user()
    for _ in range(3):
        stack.api("GET", "/users/profile", token=u["token"])
    stack.api("GET", "/users/profile")          # no token: 401
    r = requests.get(url, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE mod_meeting_requests_total counter" in r.text
    after = prometheus_samples(r.text)

    def n(samples, route, status):
        key = ("mod_meeting_requests_total", frozenset({("route", route), ("status", status)}))
        return samples.get(key, 0)
    assert n(after, "profile.get", "2xx") - n(before, "profile.get", "2xx") >= 3
    assert n(after, "profile.get", "4xx") - n(before, "profile.get", "4xx") >= 1
    assert ("mod_meeting_requests_total",
            frozenset({("route", "unrouted"), ("status", "5xx")})) in after
    assert after[("mod_meeting_ratelimit_slots", frozenset())] == 4096
    assert after[("mod_meeting_ratelimit_slots_used", frozenset())] >= 1
    states = {dict(k[1])["state"]: v for k, v in after.items()
              if k[0] == "mod_meeting_signald_state"}
    assert states == {"up": 1, "down": 0, "backoff": 0, "stopped": 0}
    assert after[("mod_meeting_signald_restarts_total", frozenset())] >= 0
    assert after[("mod_meeting_signald_rooms", frozenset())] >= 0
    assert after[("mod_meeting_signald_connections", frozenset())] >= 0
    assert requests.post(url, timeout=10).status_code == 405


def test_grafana_dashboard_charts_only_metrics_the_endpoint_has(stack):
    dashboard = json.loads((ROOT / "docs/grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    used = {name for e in exprs for name in re.findall(r"\bmod_meeting_\w+", e)}
    text = requests.get(stack.url + "/meeting-metrics", timeout=10).text
    have = {k[0] for k in prometheus_samples(text)}
    assert used and used <= have, used - have
