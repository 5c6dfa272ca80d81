"""Hostile input on every endpoint (issue 7, "Hostile input"): each bad request is
answered with a 4xx in the error envelope ({code, message, error}, code equal to
the HTTP status), never a 500, never a crash in the error log (the autouse check
of conftest.py fails a test whose requests crash a child or log [meeting:error]).

The endpoints are read from the route table of mod_meeting/core/routes.def and the
body fields from the C field tables, so a new route or field is attacked
without editing this file. Every request reaches the step it attacks: the
caller is the host of an ongoing meeting with an active recording and a
member, so authentication, membership and roles pass and the bad part of the
request is what answers.

Below the module, httpd's own protocol layer (bad framing, slow clients,
TRACE) is probed too: a 4xx, in the JSON envelope under /api/v1 (the template's
server-scope ErrorDocuments)."""
import collections
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import unique
from jwtutil import access_claims, b64url, secret_of, sign
from route_table import body_table, field_table, routes

MAX_BODY = 65536        # MeetingMaxBodySize default
BIG = 10 << 20          # the 10 MB body
I64_MAX = 2 ** 63 - 1

# --------------------------------------------------------------------- sources

ROUTES = routes()
ROUTE_NAMES = [r["name"] for r in ROUTES]

# Routes that read a JSON body, and the field table each validates it with
# (None: no_fields, only {} or no body).
BODY_TABLES = {r["name"]: (body_table(r) if r["body"] != "no" else None)
               for r in ROUTES if r["body"]}
BODY_ROUTES = [n for n in ROUTE_NAMES if n in BODY_TABLES]
FIELDS = {n: (field_table(t) if t else {}) for n, t in BODY_TABLES.items()}
NO_BODY_ROUTES = [n for n in ROUTE_NAMES if n not in BODY_TABLES]
ID_ROUTES = [r["name"] for r in ROUTES if ":" in r["pattern"]]
GET_ROUTES = [r["name"] for r in ROUTES if r["method"] == "GET"]
PATTERNS = sorted({r["pattern"] for r in ROUTES})


def route(name):
    return next(r for r in ROUTES if r["name"] == name)


def test_the_route_and_field_tables_are_read_whole():
    assert len(ROUTES) == len(set(ROUTE_NAMES)) >= 27
    # Every POST/PUT except the recording upload (a media body) reads JSON, and so
    # does the participant DELETE (no body or {}).
    writes = {r["name"] for r in ROUTES if r["method"] in ("POST", "PUT")}
    assert writes - {"recording.upload"} | {"participant.remove"} == set(BODY_ROUTES)
    assert FIELDS["meeting.create"]["settings"]["fields"]["enable_chat"]["kind"] == "MM_F_BOOL"


# ------------------------------------------------------------------- the world

def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json().get("data")


class World:
    """A host (the creator) of an ongoing meeting with recording on, an active
    recording and a member: every route has real ids to aim at."""

    def __init__(self, stack):
        self.stack = stack
        self.access_log = stack.state / "logs" / "access.log"
        self.access_offset = self.access_log.stat().st_size if self.access_log.exists() else 0
        self.host = stack.new_user(nickname="Host")
        self.member = stack.new_user(nickname="Member")
        self.outsider = stack.new_user()
        self.mid = ok(stack.api("POST", "/meetings", token=self.host["token"], json={
            "title": "hostile", "start_time": "2030-01-01T10:00:00Z",
            "end_time": "2030-01-01T11:00:00Z", "max_participants": 50,
            "meeting_type": "video", "settings": {"enable_recording": True}}), 201)["meeting_id"]
        ok(stack.api("POST", f"/meetings/{self.mid}/participants", token=self.host["token"],
                     json={"user_id": self.member["user_id"]}))
        ok(stack.api("POST", f"/meetings/{self.mid}/start", token=self.host["token"]))
        self.rid = ok(stack.api("POST", f"/meetings/{self.mid}/recording/start",
                                token=self.host["token"]))["recording_id"]
        # A webhook of the host, on loopback (its pings go nowhere: port 1), and
        # one of its deliveries, for the /webhooks routes.
        self.wid = ok(stack.api("POST", "/webhooks", token=self.host["token"], json={
            "url": "http://127.0.0.1:1/hook", "events": ["recording.failed"]}), 201)["webhook_id"]
        self.did = ok(stack.api("POST", f"/webhooks/{self.wid}/test",
                                token=self.host["token"]))["delivery_id"]

    def path(self, name, ids=None, rec=None):
        """The route's path with this world's ids, or the ids given."""
        if ids is None:
            ids = ([self.wid, self.did] if route(name)["pattern"].startswith("/webhooks")
                   else [self.mid, self.member["user_id"]])
        ids = list(ids)
        out = []
        for seg in route(name)["pattern"].split("/"):
            if seg == ":id":
                out.append(str(ids.pop(0)))
            elif seg == ":rec":
                out.append(self.rid if rec is None else rec)
            else:
                out.append(seg)
        return "/".join(out)

    def valid_body(self, name):
        """A body that passes validation for the route (the base of field attacks)."""
        n = unique("h")
        return {
            "auth.register": {"username": n, "email": f"{n}@example.com", "password": "secret123"},
            "auth.login": {"username": n, "password": "secret123"},
            "auth.refresh": {"refresh_token": "x"},
            "meeting.create": {"title": "t", "start_time": "2030-01-01T10:00:00Z",
                               "end_time": "2030-01-01T11:00:00Z", "max_participants": 5,
                               "meeting_type": "video"},
            "participant.add": {"user_id": self.outsider["user_id"]},
            "participant.role": {"role": "participant"},
            "message.send": {"content": "hi"},
            "webhook.create": {"url": "http://127.0.0.1:1/hook", "events": ["recording.failed"]},
        }.get(name, {})

    def send(self, name, body=None, raw=None, ctype="application/json", path=None,
             method=None, headers=None, token=True, **kw):
        """One request to a route: body as JSON, or raw bytes with ctype."""
        h = dict(headers or {})
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None and ctype:
            h["Content-Type"] = ctype
        if token and route(name)["auth"] != "MM_AUTH_NONE":
            h["Authorization"] = "Bearer " + self.host["token"]
        return requests.request(method or route(name)["method"],
                                self.stack.url + "/api/v1" + (path or self.path(name)),
                                data=data, headers=h, timeout=60, **kw)


@pytest.fixture(scope="module")
def world(stack):
    return World(stack)


def envelope(r, status=None, error=None, field=None):
    """Asserts the error envelope of a 4xx (of that status, error and field)."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body["code"] == r.status_code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["error"], str) and body["error"], body
    if error is not None:
        assert body["error"] == error, body
    if field is not None:
        assert body.get("field") == field, body
    return body


# ----------------------------------------------------------- 1. bad JSON bodies

NEST = 10000
BAD_JSON = {
    "invalid-utf8": b'{"x":"\xff\xfe"}',
    "overlong-utf8": b'{"x":"\xc0\xaf"}',
    "utf8-surrogate": b'{"x":"\xed\xa0\x80"}',
    "truncated-utf8": b'{"x":"\xe2\x82"}',
    "escaped-lone-surrogate": b'{"x":"\\ud800"}',
    "escaped-low-surrogate": b'{"x":"\\udc00x"}',
    "escaped-nul": b'{"x":"a\\u0000b"}',
    "raw-control": b'{"x":"a\x01b"}',
    "nested-arrays-10000": b'{"x":' + b"[" * NEST + b"]" * NEST + b"}",
    "nested-objects-10000": b'{"a":' * NEST + b"1" + b"}" * NEST,
    "unclosed-nesting": b"[" * NEST,
    "number-1e400": b'{"x":1e400}',
    "number-minus-1e400": b'{"x":-1e400}',
    "number-2^63": b'{"x":9223372036854775808}',
    "number-minus-2^63-1": b'{"x":-9223372036854775809}',
    "number-2^64": b'{"x":18446744073709551616}',
    "number-100-digits": b'{"x":' + b"9" * 100 + b"}",
    "NaN": b'{"x":NaN}',
    "Infinity": b'{"x":Infinity}',
    "hex-number": b'{"x":0x10}',
    "leading-zero": b'{"x":007}',
    "duplicate-keys": b'{"x":1,"x":2}',
    "bom": b"\xef\xbb\xbf{}",
    "trailing-garbage": b"{} {}",
    "trailing-comma": b'{"x":1,}',
    "single-quotes": b"{'x':1}",
    "comment": b"{/* c */}",
    "truncated": b'{"x":',
    "not-json": b"hello",
    "whitespace-only": b"   ",
    "nul-byte": b"{\x00}",
    "array": b"[]",
    "string": b'"{}"',
    "number": b"1",
    "null": b"null",
    "true": b"true",
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
@pytest.mark.parametrize("name", BODY_ROUTES)
def test_bad_json_is_400(world, name, case):
    r = world.send(name, raw=BAD_JSON[case])
    envelope(r, 400, "invalid_json")


# ---------------------------------------------- 2. wrong types, nulls, sizes

STRING_KINDS = {"MM_F_STRING", "MM_F_USERNAME", "MM_F_EMAIL", "MM_F_URL"}


def wrong_values(f):
    """Values of the wrong type (or out of range) for one field of a table."""
    kind = f["kind"]
    vals = [("null", None)] if not f["nullable"] else []
    common = [("empty-array", []), ("empty-object", {}), ("array", ["a"]),
              ("object", {"a": "b"})]
    if kind in STRING_KINDS:
        vals += [("true", True), ("zero", 0), ("float", 1.5), ("int-max", I64_MAX)] + common
    elif kind == "MM_F_INT":
        vals += [("true", True), ("string", "1"), ("float", 1.5), ("real-1e3", 1e3),
                 ("real-zero", 0.0), ("int64-min", -I64_MAX - 1), ("minus-one", -1),
                 ("zero", 0)] + common
        if f["max"] < I64_MAX:
            vals += [("int64-max", I64_MAX), ("max+1", f["max"] + 1)]
    elif kind == "MM_F_BOOL":
        vals += [("zero", 0), ("one", 1), ("string", "true"), ("empty", "")] + common
    elif kind == "MM_F_TIME":
        vals += [("epoch", 1700000000), ("date-only", "2030-01-01"),
                 ("no-offset", "2030-01-01T10:00:00"), ("now", "now"), ("empty", ""),
                 ("feb-30", "2030-02-30T10:00:00Z"), ("hour-24", "2030-01-01T24:00:00Z"),
                 ("year-0", "0000-01-01T00:00:00Z"), ("offset-24h", "2030-01-01T10:00:00+24:00"),
                 ("huge-year", "99999-01-01T00:00:00Z"),
                 ("garbage-tail", "2030-01-01T10:00:00Zx")] + common
    elif kind == "MM_F_ENUM":
        vals += [("zero", 0), ("empty", ""), ("upper", f["choices"][0].upper()),
                 ("padded", " " + f["choices"][0])] + common
    elif kind == "MM_F_OBJECT":
        vals += [("zero", 0), ("string", "x"), ("true", True)] + common[:1] + common[2:3]
    elif kind == "MM_F_ENUM_SET":
        first = f["choices"][0]
        vals += [("zero", 0), ("true", True), ("string", first), ("upper", [first.upper()]),
                 ("padded", [" " + first]), ("twice", [first, first]), ("number", [1]),
                 ("nested", [[first]]), ("too-many", f["choices"] + [first])] + common
    return vals


def field_cases():
    cases = []
    for name in BODY_ROUTES:
        for fname, f in FIELDS[name].items():
            for label, value in wrong_values(f):
                cases.append(pytest.param(name, fname, value, id=f"{name}-{fname}-{label}"))
            for sub, sf in (f["fields"] or {}).items():
                for label, value in wrong_values(sf):
                    cases.append(pytest.param(name, f"{fname}.{sub}", value,
                                              id=f"{name}-{fname}.{sub}-{label}"))
    return cases


def with_field(body, dotted, value):
    body = json.loads(json.dumps(body))
    if "." in dotted:
        outer, inner = dotted.split(".", 1)
        body.setdefault(outer, {})[inner] = value
    else:
        body[dotted] = value
    return body


@pytest.mark.parametrize("name,field,value", field_cases())
def test_wrong_types_and_nulls_are_400_naming_the_field(world, name, field, value):
    r = world.send(name, body=with_field(world.valid_body(name), field, value))
    envelope(r, 400, "invalid_field", field)


def string_fields():
    return [pytest.param(n, fname, id=f"{n}-{fname}") for n in BODY_ROUTES
            for fname, f in FIELDS[n].items() if f["kind"] in STRING_KINDS]


@pytest.mark.parametrize("name,field", string_fields())
def test_huge_strings(world, name, field):
    base = world.valid_body(name)
    # Within the body cap but far over every field's limit: the field is refused.
    r = world.send(name, body=with_field(base, field, "a" * 60000))
    envelope(r, 400, "invalid_field", field)
    # Four-byte characters: 20,000 code points, 80,000 bytes: over the cap.
    r = world.send(name, body=with_field(base, field, "\U0001F600" * 20000))
    envelope(r, 413, "body_too_large")
    # A megabyte of escapes that decode to little: still refused by size first.
    r = world.send(name, raw=b'{"' + field.encode() + b'":"' + b"\\u0041" * 200000 + b'"}')
    envelope(r, 413, "body_too_large")


@pytest.mark.parametrize("name", [n for n in BODY_ROUTES if FIELDS[n]])
def test_duplicate_keys_of_real_fields_are_400(world, name):
    fname = next(iter(FIELDS[name]))
    value = json.dumps(world.valid_body(name).get(fname, "x"))
    raw = ('{"%s":%s,"%s":%s}' % (fname, value, fname, value)).encode()
    envelope(world.send(name, raw=raw), 400, "invalid_json")


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_unknown_and_mass_assignment_fields_are_400(world, name):
    for key in ["status", "creator_id", "user_id_", "__proto__", "role ", "", "é",
                "x" * 1000, "a.b"]:
        if key in FIELDS[name]:
            continue
        r = world.send(name, body=dict(world.valid_body(name), **{key: 1}))
        envelope(r, 400, "unknown_field")


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_ten_megabyte_body_is_413(world, name):
    body = b'{"x":"' + b"a" * BIG + b'"}'
    envelope(world.send(name, raw=body), 413, "body_too_large")


@pytest.mark.parametrize("name", ["auth.register", "meeting.create", "message.send"])
def test_ten_megabyte_chunked_body_is_413(world, name):
    chunk = b"a" * 65536

    def gen():
        yield b'{"x":"'
        for _ in range(BIG // len(chunk)):
            yield chunk
        yield b'"}'
    envelope(world.send(name, raw=gen()), 413, "body_too_large")


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_body_just_over_the_cap_is_413_and_just_under_is_parsed(world, name):
    pad = MAX_BODY - len(b'{"x":""}')
    envelope(world.send(name, raw=b'{"x":"' + b"a" * pad + b'"}'), 400)
    envelope(world.send(name, raw=b'{"x":"' + b"a" * (pad + 1) + b'"}'), 413, "body_too_large")


CTYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
          "application/jsonx", "application/json-patch+json", "text/json", "json",
          "application/ json", "*/*", "",
          # JSON is UTF-8: any other charset is refused, also beside a good one
          "application/json; charset=latin1", "application/json;charset=utf-16",
          'application/json; charset="iso-8859-1"', "application/json; charset=",
          "application/json; charset=utf-8; charset=latin1", "application/json; charset=utf8"]


@pytest.mark.parametrize("ctype", CTYPES)
@pytest.mark.parametrize("name", BODY_ROUTES)
def test_wrong_content_types_are_415(world, name, ctype):
    raw = json.dumps(world.valid_body(name)).encode() or b"{}"
    headers = {"Content-Type": ctype} if ctype else {}
    # requests adds no Content-Type to bytes of its own; "" sends the header empty.
    r = world.send(name, raw=raw, ctype=None, headers=headers)
    envelope(r, 415, "unsupported_media_type")


UTF8_CTYPES = ["application/json; charset=utf-8", "application/json;charset=UTF-8",
               'application/json; charset="Utf-8"', "APPLICATION/JSON; Charset=utf-8",
               "application/json; version=1"]


@pytest.mark.parametrize("ctype", UTF8_CTYPES)
def test_json_in_utf8_is_accepted_whatever_the_case(stack, ctype):
    u = stack.new_user()
    body = {"title": "utf-8", "start_time": "2030-01-01T10:00:00Z",
            "end_time": "2030-01-01T11:00:00Z", "max_participants": 5, "meeting_type": "video"}
    r = stack.api("POST", "/meetings", token=u["token"], data=json.dumps(body).encode(),
                  headers={"Content-Type": ctype})
    assert r.status_code == 201, (ctype, r.text)


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_content_type_without_any_header_is_415(world, name):
    r = world.send(name, raw=b"{}", ctype=None)
    assert "Content-Type" not in r.request.headers
    envelope(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("name", NO_BODY_ROUTES)
def test_hostile_bodies_on_routes_without_one_are_never_5xx(world, name):
    """GET and DELETE ignore a body; the upload takes media. Whatever they
    answer, it is not a 5xx, and a 4xx is in the envelope."""
    if name in ("meeting.delete", "webhook.delete"):
        path = world.path(name, ids=[I64_MAX])   # never the world's meeting or webhook
    else:
        path = None
    for raw in [BAD_JSON["nested-arrays-10000"], BAD_JSON["invalid-utf8"], b"\x00" * 1000]:
        r = world.send(name, raw=raw, path=path)
        assert r.status_code < 500, (name, r.status_code, r.text[:200])
        if r.status_code >= 400 and r.request.method != "HEAD":
            envelope(r)


# ------------------------------------------------------------ 3. ids in paths

BAD_IDS = ["0", "-1", "00", "1.5", "1e3", "+1", "0x10", " 1", "1 ", "abc", "9223372036854775808",
           "99999999999999999999", "18446744073709551617", "1" * 40, "NaN", "٣"]


def id_cases():
    cases = []
    for name in ID_ROUTES:
        n_ids = route(name)["pattern"].count(":id")
        for pos in range(n_ids):
            for bad in BAD_IDS:
                cases.append(pytest.param(name, pos, bad, id=f"{name}-id{pos}-{bad!r}"))
    return cases


@pytest.mark.parametrize("name,pos,bad", id_cases())
def test_bad_path_ids_are_404(world, name, pos, bad):
    ids = [world.mid, world.member["user_id"]]
    ids[pos] = requests.utils.quote(bad, safe="%")
    body = world.valid_body(name) if name in BODY_TABLES else None
    r = world.send(name, body=body, path=world.path(name, ids=ids),
                   ctype="video/webm" if name == "recording.upload" else "application/json")
    envelope(r, 404, "not_found")


@pytest.mark.parametrize("name", ID_ROUTES)
def test_a_real_id_with_a_leading_zero_is_404(world, name):
    """/meetings/01 is not /meetings/1: an id is written one way only."""
    for pos in range(route(name)["pattern"].count(":id")):
        ids = [world.mid, world.member["user_id"]]
        ids[pos] = f"0{ids[pos]}"
        body = world.valid_body(name) if name in BODY_TABLES else None
        r = world.send(name, body=body, path=world.path(name, ids=ids),
                       ctype="video/webm" if name == "recording.upload" else "application/json")
        envelope(r, 404, "not_found")


@pytest.mark.parametrize("name", ID_ROUTES)
def test_largest_ids_are_routed_and_answer_404(world, name):
    """2^63-1 is a valid id: it reaches the database and names nothing."""
    n_ids = route(name)["pattern"].count(":id")
    for pos in range(n_ids):
        ids = [world.mid, world.member["user_id"]]
        ids[pos] = I64_MAX
        if name == "participant.add":
            body = {"user_id": I64_MAX}
        else:
            body = world.valid_body(name) if name in BODY_TABLES else None
        r = world.send(name, body=body, path=world.path(name, ids=ids),
                       ctype="video/webm" if name == "recording.upload" else "application/json")
        envelope(r, 404)
    if name == "participant.add":
        r = world.send(name, body={"user_id": I64_MAX})
        envelope(r, 404, "not_found", "user_id")


BAD_RECS = ["rec_", "rec_G", "REC_ab", "rec_AB", "rec_" + "a" * 65, "rec_-1", "rec_a%00",
            "rec_a.b", "..", "rec_%2e%2e"]


@pytest.mark.parametrize("bad", BAD_RECS)
@pytest.mark.parametrize("name", ["recording.upload", "recording.download"])
def test_bad_recording_ids_are_404(world, name, bad):
    r = world.send(name, raw=b"x", ctype="video/webm", path=world.path(name, rec=bad))
    # %00 and encoded dots are refused by httpd's URL decoding before the
    # module; a 404 either way, in the envelope when the module answers.
    assert r.status_code == 404, r.text[:200]
    if r.headers.get("Content-Type", "").startswith("application/json"):
        envelope(r, 404)


def test_a_recording_of_another_meeting_is_404(world, stack):
    other_mid = ok(stack.api("POST", "/meetings", token=world.host["token"], json={
        "title": "other", "start_time": "2030-01-01T10:00:00Z",
        "end_time": "2030-01-01T11:00:00Z", "max_participants": 5,
        "meeting_type": "video"}), 201)["meeting_id"]
    for name in ["recording.upload", "recording.download"]:
        r = world.send(name, raw=b"x", ctype="video/webm",
                       path=world.path(name, ids=[other_mid]))
        envelope(r, 404, "not_found")


# ------------------------------------------------------------ 4. query strings

BAD_PAGES = ["-1", "0", "1e9", "99999999999999999999", "", "abc", " 1", "1 ", "+1", "0x10",
             "1.0", "%FF", "%", "%0", "%zz", "1%00", "\u0661", "10000001", "9" * 13]


@pytest.mark.parametrize("value", BAD_PAGES)
@pytest.mark.parametrize("param", ["page", "page_size"])
@pytest.mark.parametrize("name", ["meeting.list", "message.list"])
def test_bad_page_values_are_400(world, name, param, value):
    good = {"page": "1", "page_size": "10"}
    good[param] = value
    query = "&".join(f"{k}={requests.utils.quote(v, safe='%')}" for k, v in good.items())
    r = world.send(name, path=world.path(name) + "?" + query)
    envelope(r, 400, "invalid_field", param)


@pytest.mark.parametrize("query,field", [
    ("keyword=%FF%FE", "keyword"), ("keyword=%C0%AF", "keyword"), ("keyword=%ED%A0%80", "keyword"),
    ("keyword=a%00b", "keyword"), ("keyword=" + "a" * 101, "keyword"),
    ("keyword=" + "%E4%BC%9A" * 101, "keyword"), ("keyword=" + "a" * 5000, "keyword"),
    ("status=%FF", "status"), ("status=ONGOING", "status"), ("status=ongoing%00", "status"),
    ("status=" + "s" * 5000, "status"),
])
def test_bad_filters_are_400(world, query, field):
    r = world.send("meeting.list", path="/meetings?page=1&page_size=10&" + query)
    envelope(r, 400, "invalid_field", field)


def raw_http(stack, data, timeout=30):
    """Sends bytes as they are and reads the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return out


def parse_raw(out):
    while re.match(rb"HTTP/1\.[01] 1\d\d ", out):     # 100 Continue and the like
        out = out.partition(b"\r\n\r\n")[2]
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        plain = b""
        while body:
            size, _, rest = body.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            plain += rest[:n]
            body = rest[n + 2:]
        body = plain
    return status, headers, body


def raw_envelope(status, headers, body, want=None):
    assert 400 <= status < 500, (status, body[:300])
    if want:
        assert status == want, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    j = json.loads(body)
    assert j["code"] == status and j["error"] and j["message"], j


@pytest.mark.parametrize("query", [b"keyword=\xff\xfe", b"keyword=\xc3", b"keyword=%", b"keyword=%f", b"keyword=ab\xed\xa0\x80",
                                   b"page=\xff&page_size=1", b"page=1&page_size=\xd9\xa1"])
def test_raw_invalid_utf8_in_the_query_string_is_400(world, stack, query):
    q = b"page=1&page_size=10&" + query if not query.startswith(b"page") else query
    req = (b"GET /api/v1/meetings?" + q + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Authorization: Bearer " + world.host["token"].encode() + b"\r\n\r\n")
    raw_envelope(*parse_raw(raw_http(stack, req)), want=400)


JUNK_QUERIES = ["?%FF%FE=%FF", "?a=%00", "?%zz", "?" + "&" * 2000, "?page=1&page=-1&page=x",
                "?" + "x=1&" * 1000, "?keyword=%27%3B%20DROP%20TABLE%20users%3B--",
                "?expires=1&sig=", "?expires=99999999999999999999&sig=00",
                "?expires=-1&sig=zz", "?sig=" + "0" * 5000]


@pytest.mark.parametrize("query", JUNK_QUERIES)
@pytest.mark.parametrize("name", GET_ROUTES)
def test_junk_query_strings_on_every_get_route_are_never_5xx(world, name, query):
    path = world.path(name) + query
    r = world.send(name, path=path)
    assert r.status_code < 500, r.text[:300]
    if r.status_code >= 400:
        envelope(r)


@pytest.mark.parametrize("query", ["?expires=1&sig=" + "0" * 64, "?expires=&sig=",
                                   "?expires=99999999999&sig=%FF", "?sig=abc",
                                   "?expires=4102444800", "?expires=4102444800&sig=" + "g" * 64,
                                   "?expires=4102444800&sig=%00"])
def test_bad_download_signatures_are_403_without_a_token(world, query):
    r = world.send("recording.download", path=world.path("recording.download") + query,
                   token=False)
    envelope(r, 403, "forbidden")


# ------------------------------------------------------------------- 5. methods

@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "PROPFIND", "MKCOL", "BREW", "LOCK"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_other_methods_are_405_with_allow(world, pattern, method):
    name = next(r["name"] for r in ROUTES if r["pattern"] == pattern)
    r = world.send(name, method=method, body={})
    envelope(r, 405, "method_not_allowed")
    allowed = {x.strip() for x in r.headers["Allow"].split(",")}
    routed = {x["method"] for x in ROUTES if x["pattern"] == pattern}
    assert routed <= allowed and method not in allowed


@pytest.mark.parametrize("name", GET_ROUTES)
def test_head_answers_like_get_without_a_body(world, name):
    get = world.send(name, method="GET")
    head = world.send(name, method="HEAD")
    assert head.status_code == get.status_code < 500
    assert head.content == b""


@pytest.mark.parametrize("pattern", [p for p in PATTERNS
                                     if not any(r["pattern"] == p and r["method"] == "GET"
                                                for r in ROUTES)])
def test_head_where_there_is_no_get_is_405(world, pattern):
    name = next(r["name"] for r in ROUTES if r["pattern"] == pattern)
    r = world.send(name, method="HEAD")
    assert r.status_code == 405 and r.content == b""
    assert "GET" not in r.headers["Allow"]


def test_trace_is_refused(world, stack):
    req = (b"TRACE /api/v1/users/profile HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Authorization: Bearer " + world.host["token"].encode() + b"\r\n\r\n")
    status, headers, body = parse_raw(raw_http(stack, req))
    assert world.host["token"].encode() not in body
    assert 400 <= status < 500


# -------------------------------------------- 6. framing, slow and header-only

# Requests httpd's protocol layer refuses before the module sees them.
PROTOCOL = {
    "unknown-transfer-encoding":
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "content-length-not-a-number":
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "content-length-negative":
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "content-length-twice":
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}",
    "content-length-huge":
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999"
        b"\r\n\r\n",
    "header-over-8k":
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    "bearer-over-8k":
        b"GET /api/v1/users/profile HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + b"a" * 9000 + b"\r\n\r\n",
    "too-many-headers":
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n",
    "control-char-in-header":
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
    "nul-in-header":
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "nul-in-path": b"GET /api/v1/meetings/%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "encoded-slash": b"GET /api/v1/meetings/1%2fparticipants HTTP/1.1\r\nHost: x\r\n\r\n",
    "no-host": b"GET /api/v1/health HTTP/1.1\r\n\r\n",
    "garbage-request-line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "uri-over-8k": b"GET /api/v1/meetings?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
}
@pytest.mark.parametrize("case", sorted(PROTOCOL))
def test_protocol_errors_are_4xx_and_the_server_stays_up(stack, case):
    data = PROTOCOL[case]
    if b"Connection:" not in data:
        data = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    out = raw_http(stack, data)
    status, headers, body = parse_raw(out)
    assert 400 <= status < 500, out[:300]
    assert requests.get(stack.url + "/api/v1/health", timeout=10).status_code == 200


# httpd refuses these while reading the request line and headers (or decoding the URL),
# before <Location /api/v1> applies: the server-scope ErrorDocuments (400, 404, 408,
# 414) and AllowEncodedSlashes of conf/httpd.conf.in make them the JSON envelope.
@pytest.mark.parametrize("case", sorted(PROTOCOL))
def test_protocol_errors_under_the_api_are_json(stack, case):
    data = PROTOCOL[case].replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    raw_envelope(*parse_raw(raw_http(stack, data)))


# What each answer says: the machine code names what httpd found, not JSON.
PROTOCOL_CODES = {
    "unknown-transfer-encoding": (400, "bad_request"),
    "content-length-not-a-number": (400, "bad_request"),
    "content-length-negative": (400, "bad_request"),
    "content-length-twice": (400, "bad_request"),
    "content-length-huge": (400, "bad_request"),
    "header-over-8k": (400, "header_too_large"),
    "bearer-over-8k": (400, "header_too_large"),
    "too-many-headers": (400, "header_too_large"),
    "control-char-in-header": (400, "bad_request"),
    "nul-in-header": (400, "bad_request"),
    "nul-in-path": (404, "not_found"),
    "encoded-slash": (404, "not_found"),
    "no-host": (400, "bad_request"),
    "garbage-request-line": (400, "bad_request"),
    "uri-over-8k": (414, "uri_too_long"),
}


@pytest.mark.parametrize("case", sorted(PROTOCOL))
def test_protocol_errors_say_what_happened(stack, case):
    data = PROTOCOL[case].replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    status, headers, body = parse_raw(raw_http(stack, data))
    want_status, want_code = PROTOCOL_CODES[case]
    raw_envelope(status, headers, body, want=want_status)
    assert json.loads(body)["error"] == want_code, body


def test_bad_chunked_framing_is_400_json(stack):
    for body in [b"zz\r\n{}\r\n0\r\n\r\n", b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
                 b"2\r\n{}\r\n1\r\n", b"-1\r\n{}\r\n0\r\n\r\n"]:
        req = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        out = raw_http(stack, req, timeout=40)
        status, headers, answer = parse_raw(out)
        raw_envelope(status, headers, answer)     # 400, or 413 for a chunk size past any limit
        if status == 400:
            assert json.loads(answer)["error"] == "bad_request", answer


class Drip:
    """A client that sends its request a byte at a time, one byte every `every`
    seconds, and records when and how the server answers."""

    def __init__(self, stack, head, body=b"", every=1.0):
        self.stack, self.head, self.body, self.every = stack, head, body, every
        self.out, self.sent, self.elapsed = b"", 0, None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.stack.port), timeout=90) as s:
            s.sendall(self.head)
            s.settimeout(self.every)
            while time.monotonic() - start < 80:
                try:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    self.out += chunk
                except socket.timeout:
                    if self.sent < len(self.body):
                        try:
                            s.sendall(self.body[self.sent:self.sent + 1])
                            self.sent += 1
                        except OSError:
                            break
                except OSError:
                    break
        self.elapsed = time.monotonic() - start


@pytest.fixture(scope="module")
def drips(stack, world):
    """Slow and header-only clients on several routes at once (mod_reqtimeout in the
    shipped conf: header=10-20,MinRate=500 body=20,MinRate=500)."""
    auth = b"Authorization: Bearer " + world.host["token"].encode() + b"\r\n"
    body = json.dumps({"content": "x" * 200}).encode()

    def post(path, length=None, chunked=False, extra=b""):
        h = b"POST /api/v1" + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth + extra
        h += b"Content-Type: application/json\r\n"
        h += b"Transfer-Encoding: chunked\r\n" if chunked else \
            b"Content-Length: %d\r\n" % (len(body) if length is None else length)
        return h + b"\r\n"
    msg = f"/meetings/{world.mid}/messages"
    d = {
        "body-drip-messages": Drip(stack, post(msg), body),
        "body-drip-register": Drip(stack, post("/auth/register"), body),
        "body-drip-chunked": Drip(stack, post(msg, chunked=True), b"400\r\n" + body),
        "header-only-content-length": Drip(stack, post(msg, length=1000)),
        "header-only-expect-continue": Drip(stack, post(msg, length=100,
                                                        extra=b"Expect: 100-continue\r\n")),
        "header-drip": Drip(stack, b"GET /api/v1/users/profile HTTP/1.1\r\n",
                            b"Host: x\r\n" + auth + b"X-Slow: " + b"s" * 100),
        "request-line-drip": Drip(stack, b"", b"GET /api/v1/health HTTP/1.1\r\n"),
    }
    for c in d.values():
        c.thread.join(100)
    return d


BODY_DRIPS = ["body-drip-messages", "body-drip-register", "body-drip-chunked",
              "header-only-content-length", "header-only-expect-continue"]


@pytest.mark.parametrize("case", BODY_DRIPS + ["header-drip", "request-line-drip"])
def test_slow_clients_are_cut_off_with_a_4xx(drips, case):
    c = drips[case]
    assert c.elapsed is not None and c.elapsed < 40, c.elapsed
    if case == "request-line-drip" and c.out == b"":
        return      # httpd hangs up on a request line that never ends: no answer owed
    status, headers, body = parse_raw(c.out)
    assert 400 <= status < 500, c.out[:300]
    if case in BODY_DRIPS:
        raw_envelope(status, headers, body)     # the module answered


@pytest.mark.parametrize("case", BODY_DRIPS)
def test_slow_bodies_answer_408(drips, case):
    raw_envelope(*parse_raw(drips[case].out), want=408)


@pytest.mark.parametrize("case", ["header-drip"])
def test_slow_headers_answer_408_json(drips, case):
    raw_envelope(*parse_raw(drips[case].out), want=408)


# ----------------------------------------------------------- 7. authentication

def test_token_of_a_user_deleted_from_the_database(stack, world):
    u = stack.new_user()
    assert stack.api("GET", "/users/profile", token=u["token"]).status_code == 200
    stack.sql("DELETE FROM users WHERE user_id = %s", u["user_id"])
    for method, path in [("GET", "/users/profile"), ("PUT", "/users/profile"),
                         ("POST", "/meetings"), ("GET", "/meetings?page=1&page_size=1"),
                         ("POST", "/auth/logout"), ("GET", f"/meetings/{world.mid}"),
                         ("POST", f"/meetings/{world.mid}/join")]:
        r = stack.api(method, path, token=u["token"], json={})
        envelope(r, 401, "unauthorized")
    r = stack.api("POST", "/auth/refresh", json={"refresh_token": u["refresh_token"]})
    envelope(r, 401, "unauthorized")
    r = stack.api("POST", "/auth/login", json={"username": u["username"], "password": "secret123"})
    envelope(r, 401, "unauthorized")


def test_token_of_a_disabled_user(stack):
    u = stack.new_user()
    stack.sql("UPDATE users SET status = 'disabled' WHERE user_id = %s", u["user_id"])
    envelope(stack.api("GET", "/users/profile", token=u["token"]), 401)
    envelope(stack.api("POST", "/auth/refresh", json={"refresh_token": u["refresh_token"]}), 401)
    envelope(stack.api("POST", "/auth/login",
                       json={"username": u["username"], "password": "secret123"}), 401)


def test_a_deleted_member_vanishes_from_the_meeting(stack, world):
    u = stack.new_user()
    ok(stack.api("POST", f"/meetings/{world.mid}/participants", token=world.host["token"],
                 json={"user_id": u["user_id"]}))
    ok(stack.api("POST", f"/meetings/{world.mid}/join", token=u["token"]))
    stack.sql("DELETE FROM users WHERE user_id = %s", u["user_id"])
    d = ok(stack.api("GET", f"/meetings/{world.mid}/participants", token=world.host["token"]))
    assert u["user_id"] not in {p["user_id"] for p in d["participants"]}


def refresh(stack, token):
    return stack.api("POST", "/auth/refresh", json={"refresh_token": token})


def test_refresh_replay_across_logout(stack):
    u = stack.new_user()
    r1 = ok(refresh(stack, u["refresh_token"]))           # R0 -> R1 (R0 now rotated)
    assert stack.api("POST", "/auth/logout", token=r1["token"]).status_code == 200
    # Every token of before the logout is dead: the rotated one, the live one, and
    # the access tokens of the log-in and of the refresh.
    for rt in (u["refresh_token"], r1["refresh_token"]):
        envelope(refresh(stack, rt), 401, "unauthorized")
    for at in (u["token"], r1["token"]):
        envelope(stack.api("GET", "/users/profile", token=at), 401)
    # A new log-in is a new family: replaying the old tokens does not touch it.
    fresh = stack.login(u["username"])
    for rt in (u["refresh_token"], r1["refresh_token"]):
        envelope(refresh(stack, rt), 401)
    r2 = ok(refresh(stack, fresh["refresh_token"]))
    assert stack.api("GET", "/users/profile", token=r2["token"]).status_code == 200


def test_concurrent_replay_of_one_refresh_token_admits_one(stack):
    u = stack.new_user()
    results = []
    barrier = threading.Barrier(16)

    def go():
        barrier.wait()
        results.append(requests.post(stack.url + "/api/v1/auth/refresh", timeout=30,
                                     json={"refresh_token": u["refresh_token"]}))
    threads = [threading.Thread(target=go) for _ in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [401] * 15, codes
    for r in results:
        if r.status_code == 401:
            envelope(r, 401, "unauthorized")
    # The replays revoked the family: the winner's new refresh token is dead too.
    winner = next(r for r in results if r.status_code == 200).json()["data"]
    envelope(refresh(stack, winner["refresh_token"]), 401)


def test_a_signaling_ticket_is_neither_an_access_nor_a_refresh_token(stack, world):
    d = ok(stack.api("POST", f"/meetings/{world.mid}/join", token=world.member["token"]))
    ticket = parse_qs(urlsplit(d["room_url"]).query)["token"][0]
    envelope(stack.api("GET", "/users/profile", token=ticket), 401)
    envelope(refresh(stack, ticket), 401)
    # Nor is an access token a ticket's stand-in for a download signature.
    r = world.send("recording.download", token=False,
                   path=world.path("recording.download") + "?expires=4102444800&sig="
                   + world.host["token"])
    envelope(r, 403)


def odd_claims(uid):
    now = int(time.time())
    base = access_claims(uid)
    cases = {
        "sub-negative": {"sub": "-1"}, "sub-zero": {"sub": "0"}, "sub-word": {"sub": "abc"},
        "sub-number": {"sub": uid}, "sub-float": {"sub": f"{uid}.0"},
        "sub-overflow": {"sub": "9223372036854775808"}, "sub-exp": {"sub": "1e3"},
        "sub-space": {"sub": f" {uid}"}, "sub-trailing": {"sub": f"{uid}x"},
        "sub-missing": {"sub": None}, "sub-null": {"sub": "\u0000"},
        "sub-leading-zero": {"sub": f"0{uid}"},
        "exp-string": {"exp": str(now + 600)}, "exp-float": {"exp": now + 600.5},
        "exp-huge": {"exp": 10 ** 30}, "exp-missing": {"exp": None},
        "iat-missing": {"iat": None},
        "gen-huge": {"gen": 2 ** 70}, "gen-missing": {"gen": None},
        "typ-missing": {"typ": None}, "typ-array": {"typ": ["access"]},
        "iss-missing": {"iss": None}, "nbf-future": {"nbf": now + 10 ** 6},
        "jti-huge": {"jti": "j" * 5000},
        "iat-string": {"iat": "now"}, "gen-string": {"gen": "0"},
    }
    out = {}
    for label, over in cases.items():
        c = dict(base)
        for k, v in over.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        out[label] = c
    return out


def test_signed_tokens_with_odd_claims_are_401(stack):
    """Tokens signed with the real key but with claims of the wrong shape: only a
    holder of the key could make them, but none is taken, and none is a 500."""
    u = stack.new_user()
    secret = secret_of(stack)
    for label, claims in odd_claims(u["user_id"]).items():
        if label in STRING_NUMBERS:
            continue
        r = stack.api("GET", "/users/profile", token=sign(secret, claims))
        assert r.status_code == 401, (label, r.text)
        envelope(r, 401)
    for label, header in {"kid-path": {"kid": "../../../../etc/passwd"},
                          "jku": {"jku": "http://127.0.0.1:1/keys"},
                          "crit": {"crit": ["exp"]}, "typ-other": {"typ": "at+jwt"}}.items():
        r = stack.api("GET", "/users/profile",
                      token=sign(secret, access_claims(u["user_id"]), header=header))
        assert r.status_code in (200, 401), (label, r.text)
        if r.status_code == 401:
            envelope(r, 401)
    # A payload that is not a JSON object.
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    for payload in [b"[]", b"null", b"1", b"\xff", b'{"sub":"1"', b""]:
        signing = head + "." + b64url(payload)
        mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
        envelope(stack.api("GET", "/users/profile", token=signing + "." + b64url(mac)), 401)


STRING_NUMBERS = ["iat-string", "gen-string"]


@pytest.mark.parametrize("label", STRING_NUMBERS)
def test_numeric_claims_of_the_wrong_type_are_401(stack, label):
    u = stack.new_user()
    claims = odd_claims(u["user_id"])[label]
    r = stack.api("GET", "/users/profile", token=sign(secret_of(stack), claims))
    envelope(r, 401)


AUTH_HEADERS = ["Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Token abc",
                "Bearer a.b", "Bearer a.b.c.d", "Bearer ..", "Bearer ...", "Bearer " + "a" * 8000,
                "Bearer eyJhbGciOiJIUzI1NiJ9", "Bearer \u00e9\u00e9", "Bearer %00",
                "Bearer e30.e30.", "Bearer e30.e30.e30", "Negotiate YII=", "Bearer\ttoken"]


@pytest.mark.parametrize("value", AUTH_HEADERS, ids=[v[:30] for v in AUTH_HEADERS])
def test_malformed_authorization_headers_are_401(world, value):
    r = world.send("profile.get", token=False,
                   headers={"Authorization": value.encode("utf-8")})
    envelope(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


# ----------------------------------------- 7b. Idempotency-Key, If-Match, If-None-Match

KEYED_ROUTES = [r["name"] for r in ROUTES if r["method"] == "POST" and r["auth"] == "MM_AUTH_JWT"]
BAD_KEYS = {"empty": b"", "overlong": b"k" * 256, "far overlong": b"k" * 8000,
            "non-ascii": "cl\u00e9".encode("utf-8"), "invalid utf-8": b"\xff\xfe\xfd",
            "space": b"two words", "tab": b"a\tb", "del": b"a\x7f"}


def keys_of(stack, user):
    return stack.sql("SELECT count(*) FROM idempotency_keys WHERE user_id = %s",
                     user["user_id"])[0][0]


@pytest.mark.parametrize("case", sorted(BAD_KEYS))
@pytest.mark.parametrize("name", KEYED_ROUTES)
def test_malformed_idempotency_keys_are_400(world, stack, name, case):
    before = keys_of(stack, world.host)
    r = world.send(name, body=world.valid_body(name),
                   headers={"Idempotency-Key": BAD_KEYS[case]})
    if case == "del":  # httpd's own header parser refuses control characters first
        envelope(r, 400)
    else:
        envelope(r, 400, "invalid_field", "Idempotency-Key")
    assert keys_of(stack, world.host) == before


@pytest.mark.parametrize("name", ["meeting.create", "message.send", "meeting.join"])
def test_a_repeated_idempotency_key_header_is_400(world, stack, name):
    """Two headers are one list ("a, b": a space), whatever their values."""
    body = json.dumps(world.valid_body(name)).encode()
    out = raw_http(stack, (
        f"POST /api/v1{world.path(name)} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {world.host['token']}\r\n"
        "Content-Type: application/json\r\nIdempotency-Key: one\r\n"
        f"Idempotency-Key: two\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n").encode() + body)
    status, headers, rbody = parse_raw(out)
    raw_envelope(status, headers, rbody, 400)
    assert json.loads(rbody)["field"] == "Idempotency-Key"


def test_a_keyed_body_over_the_cap_is_413_and_stores_nothing(world, stack):
    before = keys_of(stack, world.host)
    r = world.send("message.send", raw=b'{"content":"' + b"x" * BIG + b'"}',
                   headers={"Idempotency-Key": "too-big-" + unique()})
    envelope(r, 413)
    assert keys_of(stack, world.host) == before


CONDITIONS = ["", "*,*", "W/", '"', '""', '"a" "b"', "W/W/\"a\"", "\"" + "a" * 8000 + "\"",
              "\u00e9", '"\u00e9"', ",,,,", '"a",', "null"]


@pytest.mark.parametrize("value", CONDITIONS, ids=[v[:20] for v in CONDITIONS])
def test_odd_conditions_are_never_5xx(world, value):
    """A malformed If-Match matches nothing (412); a malformed If-None-Match is
    ignored (200)."""
    h = value.encode("utf-8")
    envelope(world.send("meeting.update", body={}, headers={"If-Match": h}), 412,
             "precondition_failed")
    r = world.send("meeting.get", headers={"If-None-Match": h})
    assert r.status_code == 200, (r.status_code, r.text[:300])
    envelope(world.send("meeting.delete", headers={"If-Match": h}), 412, "precondition_failed")


# ------------------------------------------------------ 8. SQL injection strings

INJECTIONS = [
    "'; DROP TABLE users; --",
    "\" OR \"1\"=\"1",
    "' OR '1'='1' --",
    "Robert'); DROP TABLE meetings;--",
    "$$; SELECT pg_sleep(5); $$",
    "1; DELETE FROM messages",
    "%_\\' UNION SELECT password_hash FROM users --",
    "E'\\x27' || chr(39)",
    "\\'; COMMIT; DROP TABLE participants; --",
    "/* */ OR 1=1 /*",
    "${jndi:ldap://127.0.0.1/a}",
    "<script>alert('x')</script>",
    "\u02bc OR 1=1 --",
    "'||(SELECT version())||'",
    "%s%s%s%n",
    "\\\\\\\"",
]
SHORT = [s for s in INJECTIONS if len(s) <= 50]


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def test_sql_injection_strings_are_stored_and_returned_verbatim(stack):
    counts = {t: stack.sql(f"SELECT count(*) FROM {t}")[0][0]
              for t in ("users", "meetings", "participants", "messages")}
    # Accounts: nickname and password (any text), an e-mail local part with quotes.
    for i, s in enumerate(SHORT):
        name = unique("inj")
        email = f"o'brien+{i}--{name}@example.com"
        reg = ok(stack.api("POST", "/auth/register", json={
            "username": name, "email": email, "password": s.ljust(6, "!"), "nickname": s}))
        assert reg["nickname"] == s and reg["email"] == email
        login = ok(stack.api("POST", "/auth/login",
                             json={"username": name, "password": s.ljust(6, "!")}))
        token = login["token"]
        assert login["user"]["nickname"] == s
        url = "https://cdn.example.com/" + requests.utils.quote(s, safe="") + "?q='--"
        prof = ok(stack.api("PUT", "/users/profile", token=token,
                            json={"nickname": s[::-1], "avatar_url": url}))
        assert prof["nickname"] == s[::-1] and prof["avatar_url"] == url
        (row,) = stack.sql("SELECT md5(nickname), md5(avatar_url), md5(email) FROM users "
                           "WHERE user_id = %s", reg["user_id"])
        assert row == [md5(s[::-1]), md5(url), md5(email)]
    # Meetings, passwords, chat and search.
    host = stack.new_user()
    for s in INJECTIONS:
        d = ok(stack.api("POST", "/meetings", token=host["token"], json={
            "title": s, "description": s * 3, "start_time": "2030-01-01T10:00:00Z",
            "end_time": "2030-01-01T11:00:00Z", "max_participants": 5,
            "meeting_type": "video", "password": s[:50]}), 201)
        mid = d["meeting_id"]
        assert d["title"] == s and d["description"] == s * 3
        got = ok(stack.api("GET", f"/meetings/{mid}", token=host["token"]))
        assert got["title"] == s and got["has_password"] is True
        (row,) = stack.sql("SELECT md5(title), md5(description) FROM meetings "
                           "WHERE meeting_id = %s", mid)
        assert row == [md5(s), md5(s * 3)]
        found = ok(stack.api("GET", "/meetings", token=host["token"],
                             params={"page": 1, "page_size": 100, "keyword": s}))
        assert mid in [m["meeting_id"] for m in found["meetings"]]
        msg = ok(stack.api("POST", f"/meetings/{mid}/messages", token=host["token"],
                           json={"content": s}))
        page = ok(stack.api("GET", f"/meetings/{mid}/messages", token=host["token"]))
        assert page["messages"][0]["content"] == s
        (row,) = stack.sql("SELECT md5(content) FROM messages WHERE message_id = %s",
                           msg["message_id"])
        assert row == [md5(s)]
        # The meeting password works verbatim, and only verbatim.
        ok(stack.api("POST", f"/meetings/{mid}/start", token=host["token"]))
        guest = stack.new_user()
        r = stack.api("POST", f"/meetings/{mid}/join", token=guest["token"],
                      json={"password": "' OR '1'='1"})
        if s[:50] != "' OR '1'='1":
            envelope(r, 403, "wrong_password")
        ok(stack.api("POST", f"/meetings/{mid}/join", token=guest["token"],
                     json={"password": s[:50]}))
    # Nothing was dropped, and every table only grew.
    for t, before in counts.items():
        (after,), = stack.sql(f"SELECT count(*) FROM {t}")
        assert int(after) >= int(before)


def test_like_metacharacters_in_keywords_match_literally(stack):
    host = stack.new_user()
    for title in ["100% sure", "a_b", "back\\slash", "end with \\"]:
        ok(stack.api("POST", "/meetings", token=host["token"], json={
            "title": title, "start_time": "2030-01-01T10:00:00Z",
            "end_time": "2030-01-01T11:00:00Z", "max_participants": 5,
            "meeting_type": "video"}), 201)
    for kw, want in [("%", ["100% sure"]), ("_", ["a_b"]), ("\\", ["back\\slash", "end with \\"]),
                     ("\\\\", []), ("%%", []), ("'", [])]:
        d = ok(stack.api("GET", "/meetings", token=host["token"],
                         params={"page": 1, "page_size": 100, "keyword": kw}))
        assert sorted(m["title"] for m in d["meetings"]) == sorted(want), kw


# ------------------------------------------------------------------ afterwards

def test_after_all_of_it_the_server_is_whole(stack, world):
    """Runs last in this file: the stack that took every request above still
    answers, its children never crashed, and the access log counts the requests."""
    assert requests.get(stack.url + "/api/v1/health", timeout=10).status_code == 200
    assert ok(stack.api("GET", f"/meetings/{world.mid}", token=world.host["token"]))["status"] \
        == "ongoing"
    log = stack.log_text()
    assert not re.search(r"AH00052|AH00051|Segmentation fault|\[meeting:crit\]", log)
    with open(world.access_log, "rb") as f:
        f.seek(world.access_offset)
        access = f.read().decode("latin-1").splitlines()
    statuses = collections.Counter(m.group(1) for m in
                                   (re.search(r'" (\d{3}) [-\d]', line) for line in access) if m)
    print(f"\n[hostile] requests in the access log: {len(access)}, by status: "
          f"{dict(sorted(statuses.items()))}")
    assert not [s for s in statuses if s.startswith("5")], statuses
