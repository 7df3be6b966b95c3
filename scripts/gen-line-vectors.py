#!/usr/bin/env python
# Line-table test vectors taken from a real interpreter.
#
#   python gen-line-vectors.py emit      > vectors-X.Y.json
#   python gen-line-vectors.py header F... > tests/unit/line_vectors.h
#
# "emit" compiles the snippets below with the running interpreter and, for
# every code object, records its line table and the answer of the
# interpreter's own PyCode_Addr2Line (called through ctypes) for every
# instruction offset, plus one offset before the code and a few past it.
# That function is what frame.f_lineno reports for an untraced frame, so the
# C decoders must agree with it exactly. The answers are cross-checked
# against the pure-Python views of the same tables (dis.findlinestarts up to
# 3.9, code.co_lines() from 3.10), and the run fails on any disagreement.
#
# "header" turns the JSON of several interpreters into a C header.
#
# Must run unchanged on 2.7 and 3.6-3.13: keep the syntax of both.
from __future__ import print_function

import ctypes
import dis
import json
import sys

# Python 2.7's only table has unsigned line deltas; 3.6-3.9 signed ones.
KIND_LNOTAB27, KIND_LNOTAB, KIND_LT310, KIND_LOC = range(4)
KIND_NAMES = ["LV_LNOTAB27", "LV_LNOTAB", "LV_LT310", "LV_LOC"]

# Offsets past the end of the code we also ask about (in decoder units).
PAST_END = 3


def snippets():
    """(name, source) pairs; all valid on 2.7 and 3.x."""
    yield "basic", (
        "def multi(a, b):\n"
        "    x = a\n"
        "\n"
        "\n"
        "    y = b\n"
        "    if x > y:\n"
        "        return x\n"
        "    else:\n"
        "        return y\n"
        "\n"
        "def loops(n):\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        if i % 2:\n"
        "            continue\n"
        "        total += i\n"
        "    while total > 10:\n"
        "        total -= 3\n"
        "    return total\n"
        "\n"
        "sq = lambda v: (v *\n"
        "               v)\n"
        "\n"
        "def deco(f):\n"
        "    return f\n"
        "\n"
        "@deco\n"
        "@deco\n"
        "def decorated(q):\n"
        "    return [z * 2 for z in q]\n"
    )
    yield "except", (
        "def guarded(path):\n"
        "    try:\n"
        "        f = open(path)\n"
        "    except (IOError, OSError) as e:\n"
        "        return None\n"
        "    finally:\n"
        "        path = None\n"
        "    with f:\n"
        "        data = f.read()\n"
        "    return (c for c in data\n"
        "            if c)\n"
    )
    # Many lines of code: more than 255 bytes of code in the function.
    body = "".join("    x = x + %d\n" % i for i in range(70))
    yield "long_body", "def long_body(x):\n" + body + "    return x\n"
    # One line with more than 255 bytes of code: address increments that
    # need several table entries on every version.
    expr = " + ".join("a" for _ in range(140))
    yield "long_line", ("def long_line(a):\n    b = " + expr + "\n"
                        "    return b\n")
    # Line gaps: +300 (more than one unsigned and signed byte), and a call
    # spread over 300 lines, which later interpreters attribute back to its
    # first line (a large negative delta).
    blank = "\n" * 300
    yield "gaps", (
        "def gaps(a, b):\n"
        "    x = a\n" + blank +
        "    y = b\n"
        "    z = max(x,\n" + blank +
        "            y)\n"
        "    return z\n"
    )
    # Columns beyond 127 and expressions over several lines: the 3.11+
    # long form.
    pad = "(" * 1 + "0 + " * 40 + "0" + ")" * 1
    yield "columns", (
        "def columns(a):\n"
        "    v = " + pad + " + a.real + a.imag\n"
        "    w = (a +\n"
        "         a.real\n"
        "         + a.imag)\n"
        "    return v, w\n"
    )
    yield "module", (
        "import sys\n"
        "X = 1\n"
        "\n"
        "for _k in range(2):\n"
        "    X += _k\n"
        "class K(object):\n"
        "    attr = X\n"
        "    def meth(self):\n"
        "        return self.attr\n"
    )


def code_objects(co):
    """co and every code object nested in its constants, depth first."""
    yield co
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            for sub in code_objects(c):
                yield sub


def version_kind():
    v = sys.version_info[:2]
    if v < (3, 0):
        return KIND_LNOTAB27
    if v < (3, 10):
        return KIND_LNOTAB
    if v < (3, 11):
        return KIND_LT310
    return KIND_LOC


def addr2line_fn():
    fn = ctypes.pythonapi.PyCode_Addr2Line
    fn.argtypes = [ctypes.py_object, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def unit_layout(kind):
    """(step of the decoder input, bytes per input unit)."""
    if kind == KIND_LNOTAB27:
        return 1, 1        # byte offsets; instructions are 1 or 3 bytes
    if kind == KIND_LOC:
        return 1, 2        # code units
    return 2, 1            # wordcode byte offsets


def table_of(co, kind):
    if kind in (KIND_LNOTAB27, KIND_LNOTAB):
        return bytearray(co.co_lnotab)
    return bytearray(co.co_linetable)


def lines_from_linestarts(co, offsets):
    """Line of each offset, from dis.findlinestarts: the last start at or
    before it (firstlineno before the first)."""
    starts = sorted(dis.findlinestarts(co))
    out = []
    for off in offsets:
        line = co.co_firstlineno
        for s, ln in starts:
            if s <= off:
                line = ln
        out.append(line)
    return out


def lines_from_co_lines(co, byte_offsets):
    """Line of each byte offset from co_lines(); -1 where none."""
    ranges = list(co.co_lines())
    out = []
    for off in byte_offsets:
        line = -1
        if off < 0:
            line = co.co_firstlineno
        for start, end, ln in ranges:
            if start <= off < end:
                line = -1 if ln is None else ln
        out.append(line)
    return out


def vector_for(co, kind, addr2line):
    step, unit_bytes = unit_layout(kind)
    n_units = len(co.co_code) // unit_bytes
    inputs = list(range(-step, n_units + PAST_END * step, step))
    byte_offsets = [i * unit_bytes for i in inputs]
    got = [addr2line(co, off) for off in byte_offsets]
    if kind in (KIND_LNOTAB27, KIND_LNOTAB):
        ref = lines_from_linestarts(co, byte_offsets)
    else:
        ref = lines_from_co_lines(co, byte_offsets)
    bad = [(o, g, r) for o, g, r in zip(inputs, got, ref) if g != r]
    if bad:
        sys.exit("%s: %s: PyCode_Addr2Line disagrees with %s at %r" % (
            sys.version.split()[0], co.co_name,
            "findlinestarts" if kind <= KIND_LNOTAB else "co_lines",
            bad[:5]))
    return {
        "name": co.co_name,
        "firstlineno": co.co_firstlineno,
        "table": list(table_of(co, kind)),
        "first": inputs[0],
        "step": step,
        "lines": got,
    }


def emit():
    kind = version_kind()
    addr2line = addr2line_fn()
    out = {"version": "%d.%d" % sys.version_info[:2], "kind": kind,
           "vectors": []}
    for sname, src in snippets():
        top = compile(src, "<%s>" % sname, "exec")
        for co in code_objects(top):
            out["vectors"].append(vector_for(co, kind, addr2line))
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    n = sum(len(v["lines"]) for v in out["vectors"])
    sys.stderr.write("%s: %d code objects, %d offsets\n" % (
        out["version"], len(out["vectors"]), n))


def c_ints(vals, per_line=16):
    rows = []
    for i in range(0, len(vals), per_line):
        rows.append("\t" + ", ".join(str(v) for v in vals[i:i + per_line])
                    + ",")
    return "\n".join(rows) if rows else "\t0,"


HEADER_TOP = """\
/* GENERATED by scripts/gen-line-vectors.sh (scripts/gen-line-vectors.py):
 * do not edit. Line tables of code objects compiled by real interpreters,
 * with the line their own PyCode_Addr2Line gives for each decoder input
 * first + i * step, i < count (byte offsets for LV_LNOTAB27/LV_LNOTAB/
 * LV_LT310, code units for LV_LOC). */
#ifndef LINE_VECTORS_H
#define LINE_VECTORS_H

#include <stddef.h>
#include <stdint.h>

enum { LV_LNOTAB27, LV_LNOTAB, LV_LT310, LV_LOC };

struct line_vector {
	const char *version;
	const char *name;
	int kind;
	int firstlineno;
	const uint8_t *table;
	size_t table_len;
	int first;
	int step;
	size_t count;
	const int *lines;
};
"""


def header(paths):
    docs = []
    for p in paths:
        with open(p) as f:
            docs.append(json.load(f))
    docs.sort(key=lambda d: tuple(int(x) for x in d["version"].split(".")))
    out = [HEADER_TOP]
    entries = []
    for d in docs:
        tag = d["version"].replace(".", "_")
        for i, v in enumerate(d["vectors"]):
            base = "lv_%s_%d" % (tag, i)
            out.append("static const uint8_t %s_tab[] = {\n%s\n};" % (
                base, c_ints(v["table"])))
            out.append("static const int %s_lines[] = {\n%s\n};" % (
                base, c_ints(v["lines"])))
            entries.append(
                '\t{ "%s", "%s", %s, %d, %s_tab, %d, %d, %d, %d, %s_lines },'
                % (d["version"], v["name"], KIND_NAMES[d["kind"]],
                   v["firstlineno"], base, len(v["table"]), v["first"],
                   v["step"], len(v["lines"]), base))
    out.append("static const struct line_vector line_vectors[] = {")
    out.extend(entries)
    out.append("};\n\n#endif")
    sys.stdout.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "emit":
        emit()
    elif len(sys.argv) >= 3 and sys.argv[1] == "header":
        header(sys.argv[2:])
    else:
        sys.exit("usage: gen-line-vectors.py emit | header FILE...")


if __name__ == "__main__":
    main()
