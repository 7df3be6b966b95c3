"""A small program for `make demo` to profile: a few named threads doing
recognisable work (computing primes, parsing, waiting on a queue)."""
import sys
import threading
import time

try:
    import queue
except ImportError:  # Python 2
    import Queue as queue


def is_prime(n):
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def count_primes(limit):
    return sum(1 for n in range(limit) if is_prime(n))


class Parser(object):
    def parse(self, text):
        return [line.split(",") for line in text.splitlines()]

    def run(self):
        text = "\n".join("a,b,c,%d" % i for i in range(2000))
        while True:
            self.parse(text)


def consumer(q):
    while True:
        q.get()


def main():
    q = queue.Queue()
    threads = [
        threading.Thread(target=Parser().run, name="parser"),
        threading.Thread(target=consumer, args=(q,), name="consumer"),
    ]
    for t in threads:
        t.daemon = True
        t.start()
    deadline = time.time() + float(sys.argv[1] if len(sys.argv) > 1 else 30)
    while time.time() < deadline:
        count_primes(20000)


if __name__ == "__main__":
    main()
