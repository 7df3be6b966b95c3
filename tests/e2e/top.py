#!/usr/bin/env python3
"""End-to-end test of pyspy-top, driven in tmux, and of its plain-text mode.

    python3 tests/e2e/top.py --bin build/bin

In a 120x30 tmux pane: start `pyspy-top -- PY target_hot.py 30 0`, check the
hot function is on top with a plausible %Own; press L (rows by line: file:LINE
appears), 2 (sorted by %Total: <module> first), ? (help shown), T (a thread
selected), I (idle on), R (counts reset), P (paused), q (it exits
and the terminal is left as it was: the shell's screen, not the full-screen
view). Then `pyspy-top --pid PID -d 2 | cat` must print parseable tables, and
`pyspy top --summary FILE` (the front command) the final table of a recording.
Ends with one line `e2e-top: N passed, M failed, K skipped`.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, 'target_hot.py')
ROW = re.compile(r'^\s*([\d.]+)%\s+([\d.]+)%\s+[\d.]+s\s+[\d.]+s\s+(\S+) \((.*)\)\s*$')


def python():
    for p in ('/root/.pyenv/versions/3.12.1/bin/python', shutil.which('python3')):
        if p and os.access(p, os.X_OK):
            return p
    return None


def tmux(*args):
    # a server of our own: runs of this suite side by side (worktrees) must
    # neither share a session nor kill each other's server
    return subprocess.run(['tmux', '-L', 'pyspy-e2e-%d' % os.getpid()] + list(args),
                          capture_output=True, text=True, timeout=10)


def pane():
    return tmux('capture-pane', '-p', '-t', 'top').stdout


def rows(text):
    return [m.groups() for m in (ROW.match(l) for l in text.splitlines()) if m]


def wait_for(pred, timeout=8.0):
    end = time.time() + timeout
    while time.time() < end:
        text = pane()
        if pred(text):
            return text
        time.sleep(0.2)
    return pane()


def test_tmux(top, py, results):
    tmux('kill-server')
    tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '30',
         '%s -- %s %s 30 0' % (top, py, TARGET))
    tmux('set-option', '-t', 'top', 'remain-on-exit', 'on')
    try:
        def enough(t):
            m = re.search(r'Samples: (\d+)', t)
            return len(rows(t)) >= 2 and m and int(m.group(1)) >= 200
        text = wait_for(enough, timeout=10)
        r = rows(text)
        p = []
        if not r or r[0][2] != 'hot':
            p.append('hot is not on top: %r' % (r[:3],))
        elif not 55 <= float(r[0][0]) <= 95:
            p.append('hot has %s%% Own, expected about 75' % r[0][0])
        results.append(('top live: hot on top', p))

        tmux('send-keys', '-t', 'top', 'L')
        text = wait_for(lambda t: 'Rows: lines' in t)
        p = [] if any(re.search(r':\d+$', x[3]) for x in rows(text)) else \
            ['no file:LINE rows after L: %r' % rows(text)[:3]]
        results.append(('top key L (lines)', p))

        tmux('send-keys', '-t', 'top', '2')
        text = wait_for(lambda t: 'Sort: %Total' in t)
        r = rows(text)
        p = [] if r and float(r[0][1]) >= 90 else ['after 2, first row %r' % (r[:1],)]
        results.append(('top key 2 (sort by %Total)', p))

        tmux('send-keys', '-t', 'top', '?')
        text = wait_for(lambda t: 'help' in t.lower() and 'quit' in t.lower())
        p = [] if 'quit' in text.lower() else ['no help screen after ?']
        results.append(('top key ? (help)', p))
        tmux('send-keys', '-t', 'top', 'Escape')

        tmux('send-keys', '-t', 'top', 'T')
        text = wait_for(lambda t: re.search(r'Thread: \d+', t))
        p = [] if re.search(r'Thread: \d+', text) else ['T did not select a thread']
        results.append(('top key T (thread filter)', p))

        tmux('send-keys', '-t', 'top', 'I')
        text = wait_for(lambda t: 'Idle: on' in t)
        p = [] if 'Idle: on' in text else ['I did not turn idle on']
        results.append(('top key I (idle)', p))

        def samples(t):
            m = re.search(r'Samples: (\d+)', t)
            return int(m.group(1)) if m else -1
        before = samples(wait_for(lambda t: samples(t) >= 0))
        tmux('send-keys', '-t', 'top', 'R')
        text = wait_for(lambda t: 0 <= samples(t) < before)
        after = samples(text)
        p = [] if 0 <= after < before else \
            ['R did not reset: %d then %d samples' % (before, after)]
        results.append(('top key R (reset)', p))

        tmux('send-keys', '-t', 'top', 'P')
        text = wait_for(lambda t: 'paused' in t)
        p = [] if 'paused' in text else ['P shows no pause']
        results.append(('top key P (pause)', p))
        tmux('send-keys', '-t', 'top', 'P')

        tmux('send-keys', '-t', 'top', 'q')
        end = time.time() + 8
        dead = ''
        while time.time() < end:
            dead = tmux('display-message', '-p', '-t', 'top', '#{pane_dead}').stdout.strip()
            if dead == '1':
                break
            time.sleep(0.2)
        text = pane()
        p = []
        if dead != '1':
            p.append('pyspy-top still running after q')
        elif 'Rows:' in text and 'Sort:' in text:
            p.append('the full-screen view is still on the terminal after q')
        results.append(('top key q (exits, terminal restored)', p))
    finally:
        tmux('kill-server')
        subprocess.run(['pkill', '-f', '%s 30 0' % TARGET])


def test_plain(top, front, py, results):
    t = subprocess.Popen([py, TARGET, '6', '0'])
    try:
        time.sleep(0.5)
        r = subprocess.run([top, '--pid', str(t.pid), '-d', '2.2'], capture_output=True,
                           text=True, timeout=20)
        tables = [b for b in r.stdout.split('==') if rows(b)]
        p = []
        if r.returncode != 0 or len(tables) < 2:
            p.append('exit %s, %d tables: %r' % (r.returncode, len(tables), r.stderr[-200:]))
        elif rows(tables[-1])[0][2] != 'hot':
            p.append('hot is not first in the plain table: %r' % rows(tables[-1])[:2])
        results.append(('top plain tables when not on a terminal', p))

        pss = '/tmp/pyspy-e2e-top-%d.pss' % os.getpid()
        subprocess.run([os.path.join(os.path.dirname(top), 'pyspy-sample'), '-q', '-d', '1.5',
                        '--pid', str(t.pid), '-o', pss], timeout=20)
        r = subprocess.run([front, 'top', '--summary', pss], capture_output=True, text=True,
                           timeout=20)
        p = [] if r.returncode == 0 and rows(r.stdout) and rows(r.stdout)[0][2] == 'hot' else \
            ['pyspy top --summary: exit %s, %r' % (r.returncode, r.stdout[:200])]
        results.append(('top --summary through the front command', p))

        r = subprocess.run([front, 'dump', '--pid', str(t.pid)], capture_output=True,
                           text=True, timeout=20)
        p = [] if r.returncode == 0 and 'Thread %d' % t.pid in r.stdout and \
            'target_hot.py' in r.stdout else \
            ['pyspy dump: exit %s, %r' % (r.returncode, r.stdout[:200])]
        results.append(('dump through the front command', p))
    finally:
        t.kill()
        t.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', default='build/bin')
    args = ap.parse_args()
    top = os.path.abspath(os.path.join(args.bin, 'pyspy-top'))
    front = os.path.abspath(os.path.join(args.bin, 'pyspy'))
    py = python()
    results, skipped = [], 0
    if not shutil.which('tmux') or not py:
        print('!!! SKIPPED e2e-top: tmux or python not found')
        skipped = 1
    else:
        test_tmux(top, py, results)
        test_plain(top, front, py, results)
    failed = 0
    for label, p in results:
        print('%s %s%s' % ('PASS' if not p else 'FAIL', label, '' if not p else ': ' + '; '.join(p)))
        failed += bool(p)
    print('e2e-top: %d passed, %d failed, %d skipped' % (len(results) - failed, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
