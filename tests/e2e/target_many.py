# -*- coding: utf-8 -*-
"""Target for tests/e2e/hostile.py: many idle threads and one ticker.

    python target_many.py THREADS SECONDS READY_FILE REPORT_FILE [BASELINE]

Starts THREADS threads that wait on an event (idle, no GIL), then a ticker
(the main thread) sleeps 1 ms at a time and records how late each wake-up
was: a sampler that pauses the process shows as late wake-ups. The ticker
first runs BASELINE seconds (default 0) before writing READY_FILE, so that
the lateness the machine itself causes (other load) is measured apart;
then it runs SECONDS more, while the test samples it. Writes REPORT_FILE
at the end as JSON {"ticks", "max_ms", "p99_ms", "over_10ms"} for the
sampled part, plus {"base_ticks", "base_p99_ms", "base_max_ms"}. Runs on
Python 2.7 and 3.6+.
"""
import json
import os
import sys
import threading
import time

clock = getattr(time, 'monotonic', time.time)


def write(path, text):
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.rename(path + '.tmp', path)


def tick_for(seconds):
    """How late each 1 ms sleep woke up, sorted (seconds)."""
    lates = []
    end = clock() + seconds
    while True:
        t0 = clock()
        if t0 >= end:
            break
        time.sleep(0.001)
        lates.append(clock() - t0 - 0.001)
    lates.sort()
    return lates


def p99(lates):
    return lates[int(len(lates) * 0.99)] * 1e3 if lates else 0


def main():
    n, seconds, ready, report = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    baseline = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    stop = threading.Event()
    threads = []
    for i in range(n):
        t = threading.Thread(target=stop.wait, name='idle-%d' % i)
        t.daemon = True
        t.start()
        threads.append(t)
    base = tick_for(baseline)
    write(ready, str(os.getpid()))
    lates = tick_for(seconds)
    stop.set()
    write(report, json.dumps({
        'ticks': len(lates),
        'max_ms': lates[-1] * 1e3 if lates else 0,
        'p99_ms': p99(lates),
        'over_10ms': sum(1 for x in lates if x > 0.010),
        'base_ticks': len(base),
        'base_p99_ms': p99(base),
        'base_max_ms': base[-1] * 1e3 if base else 0,
    }))


main()
