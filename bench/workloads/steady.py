"""A deep stack that stays put: 45 frames of recursion through three
functions, then a busy loop at the bottom that never returns. The stack a
sampler sees is the same at every sample (only the leaf's line moves
between the loop's two lines), the case where a stream should cost next to
nothing whatever the depth (bench/compare.py bytes, "steady deep").

Usage: python steady.py [SECONDS]   (default: until killed)
CPython 2.7 and 3.6-3.13.
"""
import sys
import time

DEPTH = 45


def spin(seconds):
    stop = time.time() + seconds if seconds else None
    x = 0
    while True:
        x += 1
        if x % 1000000 == 0 and stop and time.time() > stop:
            return x


def a(d, seconds):
    return spin(seconds) if d <= 0 else b(d - 1, seconds)


def b(d, seconds):
    return spin(seconds) if d <= 0 else c(d - 1, seconds)


def c(d, seconds):
    return spin(seconds) if d <= 0 else a(d - 1, seconds)


if __name__ == '__main__':
    a(DEPTH - 3, float(sys.argv[1]) if len(sys.argv) > 1 else 0)
