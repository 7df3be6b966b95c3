# -*- coding: utf-8 -*-
"""Target for tests/e2e/hostile.py: names no output may pass through raw.

    python target_badnames.py SECONDS READY_FILE

Busy in functions whose code objects come from a file name that is not
valid UTF-8 (Python 2: any bytes; Python 3: a lone surrogate, as close as
a str gets), one with a 100,000-character name (3.8+: code.replace), and
one named with newlines, semicolons and terminal escapes, in a thread whose
name has the same. Runs on Python 2.7 and 3.6+.
"""
import os
import sys
import threading
import time

PY2 = sys.version_info[0] == 2
BAD_FILE = '\xff\xfe<bad>\n.py' if PY2 else 'bad\udcff\n<file>.py'
LONG_NAME = 'L' * 100000
CTRL_NAME = 'semi;colon\nnew\x1b[2Jline\x07'

SRC = '''
def busy(n):
    x = 0
    for i in range(n):
        x += i * i % 7
    return x
'''


def make(name):
    ns = {}
    exec(compile(SRC, BAD_FILE, 'exec'), ns)
    f = ns['busy']
    code = f.__code__ if not PY2 else f.func_code
    if hasattr(code, 'replace'):
        f.__code__ = code.replace(co_name=name)
    return f


def loop(fns, stop):
    while not stop.is_set():
        for f in fns:
            f(3000)


def main():
    seconds, ready = float(sys.argv[1]), sys.argv[2]
    fns = [make('plain')]
    if sys.version_info >= (3, 8):
        fns += [make(LONG_NAME), make(CTRL_NAME)]
    stop = threading.Event()
    t = threading.Thread(target=loop, args=(fns, stop), name=CTRL_NAME)
    t.start()
    with open(ready + '.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(ready + '.tmp', ready)
    time.sleep(seconds)
    stop.set()
    t.join()


main()
