# -*- coding: utf-8 -*-
"""Target for tests/e2e/sample.py: a main thread with a known profile.

    python target_hot.py [DURATION [EXIT_CODE [READY_FILE]]]

The main thread loops calling hot() and cold() for DURATION seconds (default
2; 0 means until killed, with a safety limit of 300 s), then exits with
EXIT_CODE (default 3).  hot() runs the same loop body as cold() three times
as often, so a sampler should see hot in 75 % of the samples that are in
either.  A round takes tens of milliseconds, several sampling periods, so
that the sampling cannot lock onto the phase of the loop.  The loop lines are marked "# loop: NAME" and "# body: NAME" so the
test can find them.  Once the first round of hot() and cold() is done, the
pid is written to READY_FILE (atomically), so the test knows that the
interpreter is up and the loop is running.  Runs on Python 2.7 and 3.6+.
"""
import os
import sys
import time

try:
    range = xrange  # Python 2: no list, so the work is linear in n
except NameError:
    pass

COLD_N = 60000
HOT_N = 3 * COLD_N


def hot():
    x = 0
    for i in range(HOT_N):  # loop: hot
        x += i * i % 7  # body: hot
    return x


def cold():
    x = 0
    for i in range(COLD_N):  # loop: cold
        x += i * i % 7  # body: cold
    return x


def write_ready(path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % os.getpid())
    os.rename(tmp, path)


def main():
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    code = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ready = sys.argv[3] if len(sys.argv) > 3 else None
    if duration <= 0:
        duration = 300.0
    end = time.time() + duration
    while True:
        hot()
        cold()
        if ready:
            write_ready(ready)
            ready = None
        if time.time() >= end:
            break
    sys.exit(code)


if __name__ == '__main__':
    main()
