"""Process trees for tests/e2e/subproc.py (Python 2.7 and 3.6+).

    target_subproc.py pool SECONDS [READY]
        a multiprocessing.Pool(2): one worker spins in hot_a, the other in
        hot_b, the parent in hot_parent, all for SECONDS; READY is written
        (with the pids) once all three spin.
    target_subproc.py chain
        the parent waits a little, runs `sleep` (not python) and this script
        as `child` (which, a little later, runs it as `grandchild`), then
        spins on after they exited: every process has its own hot function.
"""
import multiprocessing
import os
import subprocess
import sys
import time


# Each hot function spins itself (no helper): it is the innermost frame.


def announce(ready_dir, what):
    if ready_dir:
        open(os.path.join(ready_dir, '%s.%d' % (what, os.getpid())), 'w').close()


def hot_a(seconds, ready_dir):
    announce(ready_dir, 'a')
    end = time.time() + seconds
    while time.time() < end:
        pass


def hot_b(seconds, ready_dir):
    announce(ready_dir, 'b')
    end = time.time() + seconds
    while time.time() < end:
        pass


def hot_parent(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass


def pool(seconds, ready):
    ready_dir = ready and ready + '.d'
    if ready_dir:
        os.mkdir(ready_dir)
    p = multiprocessing.Pool(2)
    ra = p.apply_async(hot_a, (seconds, ready_dir))
    rb = p.apply_async(hot_b, (seconds, ready_dir))
    if ready:
        while len(os.listdir(ready_dir)) < 2:
            time.sleep(0.01)
        with open(ready + '.tmp', 'w') as f:
            f.write(' '.join([str(os.getpid())] + sorted(os.listdir(ready_dir))))
        os.rename(ready + '.tmp', ready)
    hot_parent(seconds)
    ra.get()
    rb.get()
    p.close()
    p.join()


def hot_grandchild():
    end = time.time() + 1.0
    while time.time() < end:
        pass


def hot_child():
    end = time.time() + 0.5   # the grandchild starts late too
    while time.time() < end:
        pass
    subprocess.call([sys.executable, __file__, 'grandchild'])


def hot_after_children():
    end = time.time() + 0.5
    while time.time() < end:
        pass


def chain():
    time.sleep(0.4)   # the children start after sampling began
    sleeper = subprocess.Popen(['sleep', '1'])
    subprocess.call([sys.executable, __file__, 'child'])
    sleeper.wait()
    hot_after_children()


if __name__ == '__main__':
    what = sys.argv[1]
    if what == 'pool':
        pool(float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    elif what == 'chain':
        chain()
    elif what == 'child':
        hot_child()
    elif what == 'grandchild':
        hot_grandchild()
