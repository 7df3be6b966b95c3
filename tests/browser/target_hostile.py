# -*- coding: utf-8 -*-
"""Target for tests/browser/run.sh: Python names that try to break out of SVG, HTML and JSON.

    python target_hostile.py [DURATION [IGNORED...]]

Runs for DURATION seconds (default 1.5), busy in functions, a file and a
thread whose names are markup, entities, quotes, a CDATA end, a JSON
escape, control characters, non-ASCII text and a lone surrogate (the nearest
a Python str comes to invalid UTF-8).  None of these can be written as a
Python identifier, so the code objects are renamed with code.replace()
(3.8+) and the file name is given to compile().  The tools that render a
capture of this program must show every name as text and run no script
from it.  Arguments after DURATION are ignored: they are there to put
markup into the command line that the tools show.  Python 3.8+
(co_qualname is renamed too on 3.11+).
"""
import sys
import threading
import time

# The names the browser tests look for (keep in sync with tests/browser/*.mjs):
# the substring "<script>alert(1)</script>" must appear as text, never run.
FUNC_NAMES = [
    '<script>alert(1)</script>',
    '&amp;&lt;"quoted"\'single\'&#x41;',
    ']]><script>alert(3)</script><![CDATA[',
    '</title></text></g></svg><svg onload=alert(4)>',
    '\\u0022 "}]} \\ back\\slash',
    'ctl\x01\x1b[31m\ttab',
    'na\u00efve \u65e5\u672c \U0001F600',
    'lone\udcffsurrogate',
]
THREAD_NAME = '<script>alert(2)</script>'
FILE_NAME = '<b>&"\'</b>.py'

SRC = '''
def busy(n):
    x = 0
    for i in range(n):
        x += i * i % 7
    return x
'''


def renamed(fn, name):
    code = fn.__code__
    kw = {'co_name': name}
    if hasattr(code, 'co_qualname'):
        kw['co_qualname'] = name
    return type(fn)(code.replace(**kw), fn.__globals__, name)


def make_funcs():
    ns = {}
    exec(compile(SRC, FILE_NAME, 'exec'), ns)
    busy = ns['busy']
    funcs = [renamed(busy, n) for n in FUNC_NAMES]

    # an outer hostile frame calling an inner one, so names nest in the graph
    outer_src = '''
def outer(inner, n):
    return inner(n)
'''
    ns2 = {}
    exec(compile(outer_src, FILE_NAME, 'exec'), ns2)
    outer = renamed(ns2['outer'], FUNC_NAMES[0] + ' outer')
    return funcs, outer


def work(end, funcs, outer):
    while time.time() < end:
        for f in funcs:
            outer(f, 20000)


def main():
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5
    funcs, outer = make_funcs()
    end = time.time() + duration
    t = threading.Thread(name=THREAD_NAME, target=work, args=(end, funcs, outer))
    t.start()
    work(end, funcs[::-1], outer)
    t.join()


if __name__ == '__main__':
    main()
