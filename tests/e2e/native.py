#!/usr/bin/env python3
"""End-to-end test of native frames (--native) against live CPython.

    python3 tests/e2e/native.py --bin build/bin [--only 3.12]

Per interpreter found (pyenv 2.7 and 3.6-3.13, Debian's python3.11; a missing
one, or one without its C headers, is reported as skipped), the C extension
native/native_ext.c is built against the interpreter's own headers and
native/app.py runs main() -> native_ext.call_back(callback) (C) ->
callback() -> native_ext.spin() (C, burning CPU):

  dump     `pyspy-dump --native`: the main thread reads, innermost first,
           spin (native_ext.so), callback (app.py), call_back
           (native_ext.so), main (app.py), <module>, with nothing of the
           interpreter's own (no libpython or python frame, no eval loop)
  json     the same in --json, native frames with "kind": "native" and
           "object": "native_ext.so", Python ones with "kind": "python"
  fold     `pyspy-sample --native -d 1.5 | pyspy-fold`: >= 30 samples, >= 80 % of the
           samples have main;call_back;callback;spin in that order (root
           first), and the sampler counts few errors
  running  after that, no thread of the target is stopped and it still
           burns CPU
  stripped a stripped copy of the extension (no .symtab, its functions
           static): the dump still shows frames of native_ext.so, in place
           between main and callback and below callback

Once: --native with --nonblocking is a usage error (exit 2, one line) for
pyspy-sample, pyspy-dump and pyspy-top; pyspy-svg and pyspy-speedscope show
the native frames of a recorded stream as "spin (native_ext.so)", and so does
`pyspy-top --native` (plain tables) live.

Prints PASS/FAIL per case, a matrix and `e2e-native: N passed, M failed,
K skipped`; exits non-zero if anything failed. Standard library only.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import common
from common import TargetError, run_tool, short

HERE = os.path.dirname(os.path.abspath(__file__))
EXT_SRC = os.path.join(HERE, 'native', 'native_ext.c')
APP = os.path.join(HERE, 'native', 'app.py')
CASES = ['dump', 'json', 'fold', 'running', 'stripped']
WORK = None
BIN = {}


def tmp(*names):
    return os.path.join(WORK, *names)


# ---------------------------------------------------------------------------
# Building the extension

def include_dir(python):
    r = subprocess.run([python, '-c', 'import sysconfig; '
                        'print(sysconfig.get_paths()["include"])'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    inc = r.stdout.decode().strip()
    return inc if r.returncode == 0 and os.path.exists(
        os.path.join(inc, 'Python.h')) else None


def build_ext(name, python):
    """(dir with native_ext.so, dir with a stripped copy) or None when the
    interpreter has no headers; raises TargetError if the build fails."""
    inc = include_dir(python)
    if not inc:
        return None
    d, s = tmp(name, 'ext'), tmp(name, 'stripped')
    os.makedirs(d)
    os.makedirs(s)
    so = os.path.join(d, 'native_ext.so')
    r = subprocess.run(['gcc', '-shared', '-fPIC', '-O0', '-g',
                        '-fno-omit-frame-pointer', '-I' + inc, '-o', so, EXT_SRC],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    if r.returncode != 0:
        raise TargetError('cannot build native_ext.so: %s'
                          % short(r.stdout.decode('utf-8', 'replace')))
    stripped = os.path.join(s, 'native_ext.so')
    r = subprocess.run(['strip', '--strip-all', '-o', stripped, so],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise TargetError('cannot strip: %s' % short(r.stdout.decode()))
    return d, s


class App(common.Target):
    """app.py with the extension of `ext_dir`, spinning for `seconds`."""

    def __init__(self, python, ext_dir, tag, seconds=60):
        ready = tmp(tag + '.ready')
        common.Target.__init__(self, [python, APP, ready, str(seconds)], WORK,
                               tmp(tag + '.out'), tmp(tag + '.err'),
                               env={'PYTHONPATH': ext_dir})
        self.wait_ready(ready, ('app exited (%s): %s', 'app not ready in %s s: %s'),
                        30, 0.02)
        time.sleep(0.2)  # well inside spin()


# ---------------------------------------------------------------------------
# Reading stacks

def is_app(frame, func):
    return frame == func or frame.startswith(func + ' (' + APP)


def is_ext(frame, func):
    return frame == '%s (native_ext.so)' % func


def dump_main_stack(out):
    """The frames of the dump's first thread holding spin/callback: the
    lines under a "Thread" header, stripped."""
    stacks, cur = [], None
    for line in out.split('\n'):
        if line.startswith('Thread '):
            cur = []
            stacks.append(cur)
        elif cur is not None and line.startswith('    ') and \
                not line.startswith('    ('):
            cur.append(line.strip())
    for s in stacks:
        if any(is_app(f, 'callback') for f in s):
            return s
    return stacks[0] if stacks else []


def order_problems(frames, want, label):
    """want: [(predicate, description)] innermost first; each must be found
    after the previous one, and nothing between but what `between` allows."""
    p, at = [], -1
    for pred, desc in want:
        idx = [i for i, f in enumerate(frames) if i > at and pred(f)]
        if not idx:
            p.append('%s: no %s after position %d in %s'
                     % (label, desc, at, short(' | '.join(frames), 600)))
            return p
        at = idx[0]
    return p


EXPECTED = [
    (lambda f: is_ext(f, 'spin'), 'spin (native_ext.so)'),
    (lambda f: is_app(f, 'callback'), 'callback (app.py)'),
    (lambda f: is_ext(f, 'call_back'), 'call_back (native_ext.so)'),
    (lambda f: is_app(f, 'main'), 'main (app.py)'),
    (lambda f: is_app(f, '<module>'), '<module> (app.py)'),
]


def interpreter_frames(frames, python):
    """Frames of libpython or the python executable, or of the eval loop:
    what must have been dropped."""
    exe = os.path.basename(os.path.realpath(python))
    bad = []
    for f in frames:
        if 'libpython' in f or '(%s)' % exe in f or 'EvalFrame' in f:
            bad.append(f)
    return bad


def check_dump(app, python, stripped=False):
    r = run_tool(BIN['dump'], ['--pid', str(app.pid), '--native'])
    if r.rc != 0:
        return ['exit %s: %s' % (r.rc, short(r.err))]
    frames = dump_main_stack(r.out)
    if stripped:
        # the static functions have no symbol left: only the object name
        want = [(lambda f: f.endswith('(native_ext.so)'), 'a native_ext.so frame'),
                EXPECTED[1],
                (lambda f: f.endswith('(native_ext.so)'), 'a native_ext.so frame'),
                EXPECTED[3]]
        p = order_problems(frames, want, 'stripped dump')
        if any(is_ext(f, 'spin') or is_ext(f, 'call_back') for f in frames):
            p.append('symbols of a stripped object: %s' % short(' | '.join(frames)))
        return p
    p = order_problems(frames, EXPECTED, 'dump')
    bad = interpreter_frames(frames, python)
    if bad:
        p.append('interpreter frames not dropped: %s' % short(' | '.join(bad)))
    if 'native frames left out' in r.out:
        p.append('a thread was not merged: %s' % short(r.out, 600))
    return p


def check_json(app):
    r = run_tool(BIN['dump'], ['--pid', str(app.pid), '--native', '--json'])
    if r.rc != 0:
        return ['exit %s: %s' % (r.rc, short(r.err))]
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        return ['not JSON (%s): %s' % (e, short(r.out))]
    for t in doc.get('threads', []):
        names = []
        for f in t.get('frames', []):
            if f.get('kind') == 'native':
                names.append('%s (%s)' % (f.get('function'), f.get('object')))
            elif f.get('kind') == 'python':
                names.append('%s (%s:%s)' % (f.get('function'), f.get('file'),
                                             f.get('line')))
            else:
                return ['frame without a kind: %r' % f]
        if any(is_app(n, 'callback') for n in names):
            return order_problems(names, EXPECTED, 'json')
    return ['no thread with callback in %s' % short(r.out)]


def check_fold(app):
    """Sample through a pipe into pyspy-fold."""
    cmd = '%s --native -q -d 1.5 -r 100 --pid %d | %s' % (
        BIN['sample'], app.pid, BIN['fold'])
    p = common.spawn(['sh', '-c', cmd], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        common.reap(p)
        return ['timed out']
    common.reap(p)
    if p.returncode != 0:
        return ['exit %s: %s' % (p.returncode, short(err.decode()))]
    total = good = 0
    for line in out.decode('utf-8', 'replace').split('\n'):
        if not line.strip():
            continue
        stack, _, count = line.rpartition(' ')
        n = int(count)
        total += n
        frames = stack.split(';')[::-1]  # innermost first
        if any(is_ext(f, 'spin') for f in frames) and \
                not order_problems(frames, EXPECTED, 'fold'):
            good += n
    if total < 30:  # 150 asked for; a loaded machine gives fewer
        return ['only %d samples' % total]
    if good < 0.8 * total:
        return ['%d of %d samples have the merged stack; the fold:\n%s'
                % (good, total, short(out.decode(), 1500))]
    return []


def cpu_ticks(pid):
    f = common.stat_fields('/proc/%d/stat' % pid)
    return int(f[11]) + int(f[12])  # utime + stime


def check_running(app):
    p = []
    if app.proc.poll() is not None:
        return ['the target exited (%s)' % app.proc.returncode]
    for _ in range(5):
        stopped = app.stopped_tasks()
        if stopped:
            p.append('stopped threads: %s' % stopped)
            break
        time.sleep(0.05)
    # it spins: its CPU time grows (within 3 s: a loaded machine may not
    # give it a core at once)
    t0 = cpu_ticks(app.pid)
    deadline = time.time() + 3
    while cpu_ticks(app.pid) <= t0:
        if time.time() > deadline:
            p.append('the target does not run any more (CPU time stuck at %s ticks)' % t0)
            break
        time.sleep(0.1)
    return p


# ---------------------------------------------------------------------------

def test_interpreter(name, python):
    res = dict.fromkeys(CASES)
    try:
        dirs = build_ext(name, python)
    except TargetError as e:
        return dict.fromkeys(CASES, ['%s' % e])
    if not dirs:
        print('SKIPPED native %s: no C headers (Python.h) for %s  <<<<<<<<<<'
              % (name, python))
        return res
    app = None
    try:
        app = App(python, dirs[0], name)
        res['dump'] = check_dump(app, python)
        res['json'] = check_json(app)
        res['fold'] = check_fold(app)
        res['running'] = check_running(app)
    except TargetError as e:
        for c in CASES[:4]:
            res[c] = res[c] or ['target: %s' % e]
    finally:
        if app:
            app.close()
    try:
        app = App(python, dirs[1], name + '-stripped')
        res['stripped'] = check_dump(app, python, stripped=True)
        app.close()
    except TargetError as e:
        res['stripped'] = ['target: %s' % e]
    return res


def test_usage():
    out = []
    for tool, args in (('sample', ['--native', '--nonblocking', '--pid', '1']),
                       ('dump', ['--native', '--nonblocking', '--pid', '1']),
                       ('top', ['--native', '--nonblocking', '--pid', '1'])):
        r = run_tool(BIN[tool], args)
        out.append(('native usage %s --native --nonblocking' % tool,
                    common.check_failure(r, 2, 'pyspy-' + tool,
                                         mention=('nonblocking', '--nonblocking'))))
    return out


def test_renderers(name, python):
    """A recorded stream with native frames, through svg and speedscope."""
    try:
        dirs = build_ext(name + '-render', python)
    except TargetError as e:
        return [('native render', ['%s' % e])]
    if not dirs:
        return [('native render', None)]
    stream = tmp('render.pss')
    app = App(python, dirs[0], 'render')
    try:
        r = run_tool(BIN['sample'], ['--native', '-q', '-d', '1', '-o', stream,
                                     '--pid', str(app.pid)])
        # pyspy-top's plain tables (stdout is no terminal)
        top = run_tool(BIN['top'], ['--native', '-d', '1.5', '-n', '20',
                                    '--pid', str(app.pid)])
        # the front command, py-spy's spelling
        raw = tmp('front-native.txt')
        front = run_tool(BIN['front'], ['record', '-n', '-f', 'raw', '-d', '1', '-o', raw,
                                        '--pid', str(app.pid)])
    finally:
        app.close()
    top_rows = [l for l in top.out.split('\n') if l.endswith('spin (native_ext.so)')]
    top_problems = [] if top.rc == 0 and top_rows else [
        'exit %s, no row "spin (native_ext.so)" in: %s' % (top.rc, short(top.out + top.err))]
    if r.rc != 0:
        return [('native render', ['sampler exit %s: %s' % (r.rc, short(r.err))])]
    out = [('native render top', top_problems)]
    p = []
    try:
        with open(raw) as f:
            text = f.read()
        merged = ';call_back (native_ext.so);callback (%s:' % APP
        if front.rc != 0 or not any(merged in l and ');spin (native_ext.so)' in l
                                    for l in text.split('\n')):
            p.append('pyspy record -n: exit %s, no merged stack in: %s'
                     % (front.rc, short(text + front.err, 600)))
    except OSError as e:
        p.append('pyspy record -n wrote nothing: %s (%s)' % (e, short(front.err)))
    out.append(('native front record -n', p))
    svg = run_tool(BIN['svg'], [stream])
    out.append(('native render svg', [] if svg.rc == 0 and
                'spin (native_ext.so)' in svg.out else
                ['exit %s, no "spin (native_ext.so)" in the svg' % svg.rc]))
    ss = run_tool(BIN['speedscope'], [stream])
    p = []
    try:
        frames = json.loads(ss.out)['shared']['frames']
        if not any(f.get('name') == 'spin' and f.get('file') == 'native_ext.so'
                   for f in frames):
            p.append('no frame {name: spin, file: native_ext.so} in %s'
                     % short(json.dumps(frames), 400))
    except (ValueError, KeyError, TypeError) as e:
        p.append('speedscope output unreadable (%s, exit %s): %s'
                 % (e, ss.rc, short(ss.err)))
    out.append(('native render speedscope', p))
    return out


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default='build/bin', help='directory of the tools')
    ap.add_argument('--only', action='append', default=[],
                    help='run only this interpreter (2.7, 3.12, debian-3.11)')
    args = ap.parse_args()
    common.setup_driver()
    t0 = time.time()
    for t in ('sample', 'dump', 'top', 'fold', 'svg', 'speedscope'):
        BIN[t] = os.path.abspath(os.path.join(args.bin, 'pyspy-' + t))
    BIN['front'] = os.path.abspath(os.path.join(args.bin, 'pyspy'))
    if common.missing_binary(BIN.values(), 'e2e-native'):
        return 1
    if not shutil.which('gcc') or not shutil.which('strip'):
        print('FAIL: gcc and strip are needed to build the test extension')
        print('e2e-native: 0 passed, 1 failed, 0 skipped')
        return 1
    WORK = tempfile.mkdtemp(prefix='pyspy-e2e-native-')
    interpreters, missing = common.select_interpreters(ap, args.only)
    tally = common.Tally()
    matrix = {}
    try:
        for name in missing:
            common.not_found(name)
            matrix[name] = dict((c, 'SKIP') for c in CASES)
            tally.skipped += len(CASES)
        for name, python in interpreters:
            ti = time.time()
            res = test_interpreter(name, python)
            row = matrix.setdefault(name, {})
            for c in CASES:
                row[c] = tally('native %s %s' % (name, c), res[c])
            print('    (%s took %.1f s)' % (name, time.time() - ti))
        for label, problems in test_usage():
            tally(label, problems)
        if interpreters:
            for label, problems in test_renderers(*interpreters[-1]):
                tally(label, problems)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    if matrix:
        common.print_matrix(matrix, CASES)
    return tally.finish('e2e-native', t0)


if __name__ == '__main__':
    sys.exit(main())
