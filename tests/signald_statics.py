#!/usr/bin/python3
"""signald keeps no state in file-level statics: its state hangs off one
sd_ctx (mod_meeting/signald/context.h), passed explicitly. Lists every
file-scope static variable of signald's .c files that is neither const (a
table, an SQL text: not state) nor the volatile sig_atomic_t a signal
handler may set, and exits 1 when there is one.

    tests/signald_statics.py        check (scripts/test.sh runs this)
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "mod_meeting" / "signald"
# A file-scope declaration starts in column 0.
STATIC = re.compile(r"^static\b(?P<rest>.*)$")
FUNC_POINTER = re.compile(r"\(\s*\*\s*\w+\s*\)")


def is_variable(rest):
    """A static that is state: not a function (a name followed by its
    parameters), not const, not the signal handler's flag."""
    head = rest.split("=", 1)[0]
    if re.match(r"\s*const\b", rest) or "volatile sig_atomic_t" in rest:
        return False
    if FUNC_POINTER.search(head):
        return True
    return "(" not in head


def main():
    found = []
    for path in sorted(SRC.glob("*.c")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = STATIC.match(line)
            if m and is_variable(m.group("rest")):
                found.append(f"{path.relative_to(SRC.parent.parent)}:{n}: {line.strip()}")
    for f in found:
        print("STATIC", f)
    print(f"signald statics: {len(found)} file-level static variable(s) outside sd_ctx")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
