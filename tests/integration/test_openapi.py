"""docs/openapi.yaml describes what the code does: the same routes as the table
in mod_meeting/core/routes.def, each with its rate limit, authentication and the
request-body fields of the C field tables, and the error codes the code emits.

Static: reads the sources only, starts no server."""
import re

import pytest
import yaml

from conftest import ROOT
from route_table import c_choices, body_table, field_table, routes, row_ids

SRC = ROOT / "mod_meeting"
DOC_PATH = ROOT / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# The OpenAPI name of each C path parameter, by the segment before it.
PARAM_NAMES = {(":id", "meetings"): "meeting_id", (":id", "participants"): "user_id",
               (":id", "waiting"): "user_id", (":rec", "recordings"): "recording_id",
               (":id", "webhooks"): "webhook_id", (":id", "deliveries"): "delivery_id"}

RL_KEYS = {"MM_RL_NONE": "none", "MM_RL_IP": "ip", "MM_RL_USER": "user"}

# ------------------------------------------------------------------ sources

def openapi_path(pattern):
    segs = pattern.split("/")
    out = []
    for i, seg in enumerate(segs):
        if seg.startswith(":"):
            key = (seg, segs[i - 1])
            assert key in PARAM_NAMES, f"no OpenAPI name for {seg} after {segs[i - 1]!r}"
            out.append("{" + PARAM_NAMES[key] + "}")
        else:
            out.append(seg)
    return "/".join(out)


def error_codes_in_code():
    """Every machine error code the module and its SQL can answer."""
    codes = set()
    for path in SRC.rglob("*.c"):
        text = path.read_text()
        codes |= set(re.findall(r'mm_error\(\s*[^,]+,\s*[^,]+,\s*"(\w+)"', text))
        codes |= set(re.findall(r'unauthorized\(\s*[^,]+,\s*"(\w+)"', text))
        codes |= set(re.findall(r'refuse\(\s*e,\s*[^,]+,\s*"(\w+)"', text))
        codes |= set(re.findall(r'fail\(\s*err,\s*"(\w+)"', text))
        codes |= set(re.findall(r'->code\s*=\s*"(\w+)"', text))
        codes |= set(re.findall(r'res->error \? res->error : "(\w+)"', text))
        codes |= set(re.findall(r'\{\s*HTTP_\w+,\s*"(\w+)"', text))  # reply.c's status table
    for path in (ROOT / "sql").glob("*.sql"):
        codes |= set(re.findall(r"mm_fail\(\s*\d+,\s*'(\w+)'", path.read_text()))
    return codes


# ------------------------------------------------------------------ document

@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(DOC_PATH.read_text())


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations(doc):
    """(METHOD, path) -> (operation, path item)."""
    return {(m.upper(), path): (item[m], item)
            for path, item in doc["paths"].items() for m in METHODS if m in item}


def op_for(doc, route):
    return operations(doc)[(route["method"], openapi_path(route["pattern"]))][0]


def schema_types(schema):
    t = schema.get("type")
    return set(t) if isinstance(t, list) else {t}


def flatten(doc, schema):
    """A schema with its allOf branches merged (enough for the shapes used here)."""
    schema = dict(resolve(doc, schema))
    for part in schema.pop("allOf", []):
        for k, v in flatten(doc, part).items():
            schema.setdefault(k, v)
    return schema


ROUTES = routes()
ROUTE_IDS = [r["name"] for r in ROUTES]
# The field table each route validates its JSON body against.
BODY_TABLES = {r["name"]: body_table(r) for r in ROUTES if r["body"]}


# ------------------------------------------------------------------ tests

def test_router_table_is_parsed_whole():
    ids = ["MM_R_" + r for r in row_ids()]
    assert ids and [r["id"] for r in ROUTES] == ids


def test_document_is_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        **doc["components"]["securitySchemes"]["bearerAuth"],
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def test_operations_are_the_router_table(doc):
    documented = set(operations(doc))
    routed = {(r["method"], openapi_path(r["pattern"])) for r in ROUTES}
    assert documented == routed, (
        f"only in openapi.yaml: {sorted(documented - routed)}; "
        f"only in routes.def: {sorted(routed - documented)}")


def test_path_parameters_are_declared(doc):
    for (method, path), (op, item) in operations(doc).items():
        params = [resolve(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)
        for p in params:
            if p["in"] != "path":
                continue
            schema = resolve(doc, p["schema"])
            if p["name"] == "recording_id":
                assert re.fullmatch(schema["pattern"], "rec_" + "0a" * 16)
                assert not re.search(schema["pattern"], "rec_XYZ")
            else:
                assert schema["type"] == "integer" and schema["minimum"] == 1


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_each_operation_documents_its_rate_limit(doc, route):
    op = op_for(doc, route)
    assert op.get("x-rate-limit") == route["per_minute"], route["name"]
    assert op.get("x-rate-limit-key") == RL_KEYS[route["rl"]], route["name"]
    assert op.get("x-route-name") == route["name"]
    responses = op["responses"]
    if route["rl"] == "MM_RL_NONE":
        assert "429" not in responses
        return
    r429 = resolve(doc, responses["429"])
    for h in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert resolve(doc, r429["headers"][h]).get("required") is True, (route["name"], h)
    success = [c for c in responses if c.startswith("2")]
    assert success, route["name"]
    for code in success:
        headers = resolve(doc, responses[code]).get("headers", {})
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= \
            set(headers), (route["name"], code)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_each_operation_documents_its_authentication(doc, route):
    op = op_for(doc, route)
    security = op.get("security", doc.get("security"))
    responses = op["responses"]
    if route["auth"] == "MM_AUTH_NONE":
        assert security == [], route["name"]
    elif route["auth"] == "MM_AUTH_JWT":
        assert security == [{"bearerAuth": []}], route["name"]
        assert "401" in responses
    else:  # MM_AUTH_JWT_OR_SIGNED: a Bearer token, or the signed URL alone
        assert {"bearerAuth": []} in security
        signed = [s for s in security if "bearerAuth" not in s]
        assert len(signed) == 1
        names = {resolve(doc, doc["components"]["securitySchemes"][k])["name"]
                 for k in signed[0]}
        assert names == {"expires", "sig"}
        assert {"401", "403"} <= set(responses)
        query = {p["name"] for p in map(lambda p: resolve(doc, p), op.get("parameters", []))
                 if p["in"] == "query"}
        assert {"expires", "sig"} <= query


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_each_operation_documents_its_status_codes(doc, route):
    op = op_for(doc, route)
    codes = set(op["responses"])
    assert "405" in codes  # every path answers other methods with 405 and Allow
    assert "503" in codes  # every route may find the database unreachable
    if "{" in route["pattern"] or ":" in route["pattern"]:
        assert "404" in codes, route["name"]
    if route["name"] in BODY_TABLES:
        assert {"400", "413", "415"} <= codes, route["name"]
    for code, response in op["responses"].items():
        response = resolve(doc, response)
        for media, content in response.get("content", {}).items():
            if media != "application/json":
                continue
            schema = flatten(doc, content["schema"])
            props = schema["properties"]
            assert "code" in schema["required"], (route["name"], code)
            if code.startswith("2"):
                assert set(schema["required"]) <= {"code", "message", "data"}
                assert props["code"]["const"] == int(code), (route["name"], code)
            else:
                assert {"code", "message", "error"} <= set(schema["required"])
                assert set(props) == {"code", "message", "error", "field", "request_id"}


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_request_bodies_follow_the_field_tables(doc, route):
    op = op_for(doc, route)
    table = BODY_TABLES.get(route["name"])
    body = resolve(doc, op.get("requestBody", {}))
    if route["name"] == "recording.upload":
        types = set(body["content"])
        c = (SRC / "resources" / "recordings.c").read_text()
        assert types == set(c_choices(c)["media_types"])
        return
    if table is None:
        assert not body, f"{route['name']} reads no JSON body"
        return
    assert set(body["content"]) == {"application/json"}, route["name"]
    schema = resolve(doc, body["content"]["application/json"]["schema"])
    check_object(doc, schema, field_table(table), route["name"])


def check_object(doc, schema, fields, where):
    assert schema["type"] == "object" and schema.get("additionalProperties") is False, where
    props = schema.get("properties", {})
    assert set(props) == set(fields), where
    assert set(schema.get("required", [])) == {n for n, f in fields.items() if f["required"]}, \
        where
    for name, f in fields.items():
        s = flatten(doc, props[name])
        here = f"{where}.{name}"
        types = schema_types(s)
        assert ("null" in types) == f["nullable"], here
        kind = f["kind"]
        if kind in ("MM_F_STRING", "MM_F_EMAIL", "MM_F_USERNAME", "MM_F_URL"):
            assert "string" in types, here
            limit = 1000 if here.endswith("message.send.content") else f["max"]
            assert s["maxLength"] == limit, here
            if f["min"] > 0 and kind == "MM_F_STRING":
                assert s["minLength"] == f["min"], here
        elif kind == "MM_F_INT":
            assert types == {"integer"}, here
            assert (s["minimum"], s["maximum"]) == (f["min"], f["max"]), here
        elif kind == "MM_F_BOOL":
            assert types == {"boolean"}, here
        elif kind == "MM_F_TIME":
            assert "string" in types and s["format"] == "date-time", here
        elif kind == "MM_F_ENUM":
            assert s["enum"] == f["choices"], here
        elif kind == "MM_F_ENUM_SET":
            assert types == {"array"} and s["uniqueItems"] is True, here
            assert (s["minItems"], s["maxItems"]) == (f["min"], f["max"]), here
            assert flatten(doc, s["items"])["enum"] == f["choices"], here
        elif kind == "MM_F_OBJECT":
            check_object(doc, s, f["fields"], here)
        else:
            pytest.fail(f"{here}: unknown field kind {kind}")
        if kind == "MM_F_EMAIL":
            assert s["format"] == "email", here
        if kind == "MM_F_USERNAME":
            assert s["pattern"] == "^[A-Za-z0-9_.-]{3,50}$", here


def test_error_codes_are_the_codes_the_code_answers(doc):
    documented = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    assert documented == error_codes_in_code()


def test_success_messages_are_the_codes_messages(doc):
    sources = "".join(p.read_text() for p in SRC.rglob("*.c"))
    for (method, path), (op, _) in operations(doc).items():
        for code, response in op["responses"].items():
            if not code.startswith("2"):
                continue
            for content in resolve(doc, response).get("content", {}).values():
                msg = flatten(doc, content["schema"]).get("properties", {}).get("message")
                if msg:
                    assert f'"{msg["const"]}"' in sources, (method, path, msg["const"])
