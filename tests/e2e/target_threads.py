# -*- coding: utf-8 -*-
"""Target for tests/e2e/sample.py: two named threads and a waiting main.

    python target_threads.py DURATION READY_FILE

Thread "worker-a" spins in func_a (pure Python, holds the GIL), thread
"worker-b" sleeps in func_b (time.sleep in a loop: idle, without the GIL),
and the main thread waits in Thread.join.  After DURATION seconds (0: 300 s)
the workers return and the process exits 0.  Once both workers run, it
writes {"pid", "main", "worker-a", "worker-b"} (OS thread ids) to
READY_FILE as JSON (atomically).  Runs on Python 2.7 and 3.6+.
"""
import ctypes
import json
import os
import sys
import threading
import time

SYS_gettid = 186  # x86-64

tids = {}


def gettid():
    get = getattr(threading, 'get_native_id', None)
    if get is not None:
        return get()
    return ctypes.CDLL(None).syscall(SYS_gettid)


def func_a(end):
    tids['worker-a'] = gettid()
    x = 0
    while time.time() < end:
        for i in range(2000):  # spin: a
            x += i % 3  # spin: a
    return x


def func_b(end):
    tids['worker-b'] = gettid()
    # long sleeps: each wake-up is a moment where the thread is runnable
    # (not idle), longer on a loaded machine where it waits for a CPU;
    # at 50 a second those moments were 7 % of its samples under load
    while time.time() < end:
        time.sleep(0.1)  # sleep: b


def main():
    duration = float(sys.argv[1])
    ready = sys.argv[2]
    if duration <= 0:
        duration = 300.0
    end = time.time() + duration
    tids['main'] = gettid()
    a = threading.Thread(target=func_a, args=(end,), name='worker-a')
    b = threading.Thread(target=func_b, args=(end,), name='worker-b')
    a.daemon = b.daemon = True
    a.start()
    b.start()
    while 'worker-a' not in tids or 'worker-b' not in tids:
        time.sleep(0.005)
    info = dict(tids)
    info['pid'] = os.getpid()
    tmp = ready + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(info, f)
    os.rename(tmp, ready)
    a.join()
    b.join()


if __name__ == '__main__':
    main()
