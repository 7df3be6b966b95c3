# -*- coding: utf-8 -*-
"""Target for tests/e2e/hostile.py: many idle threads and one ticker.

    python target_many.py THREADS SECONDS READY_FILE REPORT_FILE

Starts THREADS threads that wait on an event (idle, no GIL), then a ticker
(the main thread) sleeps 1 ms at a time for SECONDS and records how late
each wake-up was: a sampler that pauses the process shows as late
wake-ups. Writes READY_FILE once every thread runs, and REPORT_FILE at the
end as JSON {"ticks", "max_ms", "p99_ms", "over_10ms"}. Runs on Python 2.7
and 3.6+.
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


def main():
    n, seconds, ready, report = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    stop = threading.Event()
    threads = []
    for i in range(n):
        t = threading.Thread(target=stop.wait, name='idle-%d' % i)
        t.daemon = True
        t.start()
        threads.append(t)
    write(ready, str(os.getpid()))
    lates = []
    end = clock() + seconds
    while True:
        t0 = clock()
        if t0 >= end:
            break
        time.sleep(0.001)
        lates.append(clock() - t0 - 0.001)
    stop.set()
    lates.sort()
    write(report, json.dumps({
        'ticks': len(lates),
        'max_ms': lates[-1] * 1e3 if lates else 0,
        'p99_ms': lates[int(len(lates) * 0.99)] * 1e3 if lates else 0,
        'over_10ms': sum(1 for x in lates if x > 0.010),
    }))


main()
