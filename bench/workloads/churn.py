"""Churning workload for sampler benchmarks and soak runs: for SECONDS it keeps
creating and ending threads, compiling and dropping fresh code objects, and
deepening and unwinding its stack, so a sampler sees code, frames and threads
that were freed a moment ago (its caches and its memory must stay bounded).
Runs on CPython 2.7 and 3.6-3.13.
Usage: python churn.py [SECONDS]   (prints rounds and elapsed_s on stderr)
"""
import random
import sys
import threading
import time

SOURCE = """
def fresh_%d(n):
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) %% 1000003
    return acc
"""


def fresh_code(k):
    # a new code object (and a new function name) every time, dropped at once
    ns = {}
    exec(compile(SOURCE % k, "<churn-%d>" % k, "exec"), ns)
    return ns["fresh_%d" % k](2000)


def deep(d, k):
    if d > 0:
        return deep(d - 1, k) + 1
    return fresh_code(k)


def short_thread(k):
    deep(random.randint(1, 40), k)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    random.seed(1)
    t0 = time.time()
    rounds = 0
    live = []
    while time.time() - t0 < seconds:
        rounds += 1
        deep(random.randint(1, 60), rounds)
        if rounds % 5 == 0:
            t = threading.Thread(target=short_thread, args=(rounds,),
                                 name="churn-%d" % rounds)
            t.start()
            live.append(t)
        if len(live) > 8:
            live.pop(0).join()
    for t in live:
        t.join()
    sys.stderr.write("rounds=%d elapsed_s=%.4f\n" % (rounds, time.time() - t0))


if __name__ == "__main__":
    main()
