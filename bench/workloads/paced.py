"""Steady work in small units, the end time of each kept: a workload whose
progress can be read over any window of its run (bench/compare.py steady).

Usage: python paced.py deep|flat OUT
  deep: per unit, a 24-level descent through three mutually recursive
        functions with fib(16) at the bottom (about 30 frames deep, some
        150 us on 3.12 here); flat: a 3,000-iteration loop per unit.
Runs until SIGTERM, then writes the unit end times (time.time(), one a line)
to OUT and exits. CPython 2.7 and 3.6-3.13.
"""
import signal
import sys
import time


class Stop(Exception):
    pass


def stop(signum, frame):
    raise Stop()


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def outer(d):
    if d <= 0:
        return fib(16)
    return middle(d - 1) + 1


def middle(d):
    if d <= 0:
        return fib(16)
    return inner(d - 1) + 2


def inner(d):
    if d <= 0:
        return fib(16)
    return outer(d - 1) + 3


def flat():
    x = 0
    for i in range(3000):
        x += i
    return x


def run(deep, ends):
    now = time.time
    append = ends.append
    while True:
        if deep:
            outer(24)
        else:
            flat()
        append(now())


def main():
    ends = []
    signal.signal(signal.SIGTERM, stop)
    try:
        run(sys.argv[1] == 'deep', ends)
    except Stop:
        pass
    with open(sys.argv[2], 'w') as f:
        f.write('\n'.join('%.6f' % e for e in ends))
        f.write('\n')


if __name__ == '__main__':
    main()
