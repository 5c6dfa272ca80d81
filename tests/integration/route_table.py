"""The route table as the module has it, read from its sources: the rows of
mod_meeting/core/routes.def and the C field tables of the bodies they take. The
tests that attack or document every endpoint derive their lists from here, so
a new row is covered without editing them."""
import re

from conftest import ROOT

SRC = ROOT / "mod_meeting"
ROUTES_DEF = SRC / "core" / "routes.def"
FIELDS_FILE = SRC / "core" / "routes.c"

ROW = re.compile(r'^ROUTE\(\s*(\w+),\s*(\w+),\s*"([^"]*)",\s*"([^"]*)",\s*(\w+),\s*(\w+),'
                 r'\s*(\d+),\s*(\w+),\s*(?:FIELDS\((\w+)\)|(NO_BODY)),\s*(\w+),', re.M)


def row_ids():
    """Every row's id, by the row's first word alone (to check the parse)."""
    return re.findall(r"^ROUTE\((\w+),", ROUTES_DEF.read_text(), re.M)


def routes():
    """One dict per row: id (MM_R_...), method, pattern, name, auth (MM_AUTH_...),
    rl (MM_RL_...), per_minute, need, body (the x of FIELDS(x); None: NO_BODY)."""
    return [{"id": "MM_R_" + r[0], "method": r[1], "pattern": r[2], "name": r[3],
             "auth": "MM_AUTH_" + r[4], "rl": "MM_RL_" + r[5], "per_minute": int(r[6]),
             "need": r[7], "body": r[8] or None} for r in ROW.findall(ROUTES_DEF.read_text())]


def c_choices(text):
    """NULL-terminated string arrays: name -> [choices]."""
    arrays = re.findall(r'static const char \*const (\w+)\[\]\s*=\s*\{([^}]*)\};', text)
    return {name: re.findall(r'"([^"]*)"', body) for name, body in arrays}


def field_table(table, path=FIELDS_FILE):
    """A C mm_field table: name -> dict(kind, required, nullable, min, max,
    choices, fields)."""
    text = path.read_text()
    m = re.search(r'(?:static )?const mm_field ' + table + r'\[\]\s*=\s*\{(.*?)\n\};', text, re.S)
    assert m, f"{table} not found in {path.name}"
    choices = c_choices(text)
    fields = {}
    for name, rest in re.findall(r'\{\s*"(\w+)",([^{}]*)\}', m.group(1)):
        kind, flags, lo, hi, ch, sub = [p.strip() for p in rest.split(",")[:6]]
        flag_set = set() if flags == "0" else {f.strip() for f in flags.split("|")}
        fields[name] = {
            "kind": kind, "required": "MM_F_REQUIRED" in flag_set,
            "nullable": "MM_F_NULLABLE" in flag_set,
            "min": int(lo.rstrip("LlUu")), "max": int(hi.rstrip("LlUu")),
            "choices": None if ch == "NULL" else choices[ch],
            "fields": None if sub == "NULL" else field_table(sub, path),
        }
    return fields


def body_table(route):
    """The name of the field table route's body is checked against, or None."""
    return route["body"] + "_fields" if route["body"] else None
