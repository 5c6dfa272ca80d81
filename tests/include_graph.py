#!/usr/bin/python3
"""The include graph of the module's and signald's own files, and its circles.

A node is a unit: foo.c and foo.h together. An edge A -> B says a file of A
includes B's header ("..." includes only; system headers are not ours). A
circle (A -> B -> ... -> A) is two units that cannot be read, tested or
changed one without the other. Prints the graph and every circle found, and
exits 1 when there is one.

    tests/include_graph.py           check (scripts/test.sh runs this)
    tests/include_graph.py --dot     the graph for Graphviz
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "mod_meeting"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def programs():
    """Each program's files: signald and recworker have folders of their own;
    the module is every other file under mod_meeting/."""
    own = {"signald", "recworker"}
    files = [p for p in SRC.rglob("*") if p.suffix in (".c", ".h", ".def")]
    by_program = {"module": [], "signald": [], "recworker": []}
    for p in files:
        parts = p.relative_to(SRC).parts
        by_program[parts[0] if parts[0] in own else "module"].append(p)
    return by_program


def unit(path):
    """foo.c and foo.h are one unit; a .def table (routes.def) is its own."""
    rel = path.relative_to(SRC)
    return str(rel) if rel.suffix == ".def" else str(rel.with_suffix(""))


def resolve(including, name, dirs):
    """The file an #include "name" of including reads, as the compiler finds
    it: next to the including file first, then in the -I folders."""
    for d in [including.parent] + dirs:
        p = (d / name).resolve()
        if p.is_file():
            return p
    return None


def graph(files):
    dirs = sorted({p.parent for p in files})
    edges = {}
    for f in files:
        a = unit(f)
        edges.setdefault(a, set())
        for name in INCLUDE.findall(f.read_text()):
            target = resolve(f, name, dirs + [SRC])
            if target is None or SRC not in target.parents:
                continue
            b = unit(target)
            if b != a:
                edges[a].add(b)
    return edges


def circles(edges):
    """The strongly connected components of more than one unit (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main():
    dot = "--dot" in sys.argv
    bad = 0
    if dot:
        print("digraph includes {")
    for program, files in sorted(programs().items()):
        edges = graph(files)
        if dot:
            for a in sorted(edges):
                for b in sorted(edges[a]):
                    print(f'  "{a}" -> "{b}";')
            continue
        print(f"== {program}: {len(edges)} units")
        for a in sorted(edges):
            print(f"  {a} -> {', '.join(sorted(edges[a])) or '(nothing)'}")
        for c in circles(edges):
            bad += 1
            print(f"CIRCLE in {program}: {' <-> '.join(c)}")
    if dot:
        print("}")
        return 0
    print(f"include graph: {bad} circles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
