"""Many-threads workload for sampler benchmarks: THREADS threads (default 50),
each running its own hot function for SECONDS, so that a sample sees every
thread (most of them waiting for the GIL, one running).
Runs on CPython 2.7 and 3.6-3.13.
Usage: python threads.py [SECONDS] [THREADS]   (prints elapsed_s on stderr)
"""
import sys
import threading
import time


def work(go, stop, depth):
    # a few frames of depth per thread, so stacks are not all alike
    if depth > 0:
        return work(go, stop, depth - 1)
    go.wait()  # start spinning together: starting 50 threads among
    acc = 0    # spinning ones would take seconds
    while not stop.is_set():
        for i in range(200):
            acc = (acc * 31 + i) % 1000003
    return acc


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    go, stop = threading.Event(), threading.Event()
    threads = [threading.Thread(target=work, args=(go, stop, i % 8), name="worker-%d" % i)
               for i in range(n)]
    for t in threads:
        t.daemon = True
        t.start()
    t0 = time.time()
    go.set()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    sys.stderr.write("elapsed_s=%.4f\n" % (time.time() - t0))


if __name__ == "__main__":
    main()
