#!/usr/bin/env python3
"""End-to-end test of pyspy-sample and pyspy-fold against live CPython.

    python3 tests/e2e/sample.py --bin build/bin [--only 3.12] [--all-pid]
                                [--part quiet|shared]

Per interpreter found (pyenv 2.7 and 3.6-3.13, Debian's python3.11; a missing
one is reported as skipped):

  launch   `pyspy-sample -r 200 -o F -- PY target_hot.py 2 3` exits 3 (the
           command's status); in the fold, hot() has 75 % +- 7 points of the
           samples in hot() or cold() (it does 3x the work), the fold is
           sorted and well formed
  lines    hot's and cold's frames are innermost, at lines of their loops,
           called from main() at the call lines, under <module>
  nolines  --no-lines has no ":LINE)", is the line fold with lines removed
           and re-aggregated (same total, no more lines)
  svg      pyspy-svg on the same stream is well-formed XML whose hot boxes
           hold hot's share of the fold's samples (within 1 point)
  speedscope  pyspy-speedscope on it parses, has a profile, and hot's share
           of the busiest profile's weight is the fold's within 5 points
  threads  target_threads.py (worker-a spins in func_a, worker-b sleeps in
           func_b, main waits in join), recorded 1 s by --pid: --threads
           roots are "thread TID: NAME" with the target's own thread ids
  idle     func_b (sleeping) is (nearly) absent by default, present with
           --idle, as is the main thread's join
  idle-nb  the same, recorded with --nonblocking (thread states are then
           read after the walk, the GIL holder's skipped)
  gil      --gil keeps (nearly) only worker-a's samples
  tid      --tid TID keeps only that thread (worker-a; worker-b with --idle)
  from-to  --from 0.3 --to 0.65 keeps 20-47 % of a 1 s recording

and for a subset (2.7, 3.9, 3.12, 3.13, debian-3.11; all with --all-pid),
against a running target_hot.py:

  pid      --pid PID -d 1: exit 0, >= 40 samples, hot() dominant
  nonblock the same with --nonblocking
  stats    --stats, blocking and --nonblocking: one cost line after the
           summary (the form bench/compare.py parses), at most 3 remote
           reads per thread-sample in steady state (6 up to 3.10), a
           paused median no larger than the maximum (blocking), nothing
           paused (nonblocking)
  toprate  -r 1000000 -o F.db, blocking and --nonblocking: at least 200
           ticks, half the neighbouring time deltas equal or one twice the
           other (stamps on a grid the sampler keeps, lib/ps_pace.h), and
           the ticks span 90-100 % of the recording's duration
  pipe     sh -c 'pyspy-sample -d 1 --pid PID | pyspy-fold': both exit 0,
           a fold with hot(); and `pyspy-fold --pid PID --duration 1` (live)
  sigint   SIGINT to a sampler without -d: exit 0 within 2 s, a complete
           stream (fold exits 0, nothing "truncated"), the target runs on and
           no thread of it is left stopped
  sigterm  the same with SIGTERM
  sigkill  SIGKILL to the sampler after 1.5 s: the fold prints stacks, says
           "truncated" and exits non-zero; the target runs on (CPU time
           grows) and no thread of it is stopped during 0.3 s
  exit     the target exits by itself mid-capture (its parent reaps it at
           once): the sampler exits 0 by itself with a complete stream

Once: the same with a target that stays a zombie (its parent has not reaped
it yet: "exit-unreaped"); launch mode with a command that is not Python
(one that exits at once, one that runs on: an error within 15 s, and the
command not left running); `--pid` of no process; no arguments; refusing a
terminal (with script(1) if present); every format/vectors/*.pss folded to
its .fold byte for byte; and no process left behind by any tool.

--part quiet runs only the threads and filters cases (the idle and GIL shares
need the machine to themselves: make check runs them alone) and the --pid
cases (at least so many samples in a second: on a loaded machine pauses come
late; once 2 samples in the pipe's second), --part shared the others (make
check runs them beside another suite); both by default.

Prints PASS/FAIL per case, a matrix per interpreter and a final line
`e2e-sample: N passed, M failed, K skipped`; exits non-zero if anything
failed.  Uses the discovery, process, tool and reporting helpers of
common.py, as run.py does (every process started is killed on every path;
this process is also made a child subreaper, so what a tool leaves behind is
found and killed too).
Standard library only; meant for Debian's python3.
"""
import argparse
import atexit
import contextlib
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ beside common.py
import common  # noqa: E402
from common import (TOOL_TIMEOUT, TargetError, ToolResult,  # noqa: E402
                    check_failure, error_lines, reap, run_tool, short, spawn)

ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET_HOT = os.path.join(HERE, 'target_hot.py')
TARGET_THREADS = os.path.join(HERE, 'target_threads.py')
TARGET_SUBPROC = os.path.join(HERE, 'target_subproc.py')
VECTORS = os.path.join(ROOT, 'format', 'vectors')

PID_SUBSET = ['2.7', '3.9', '3.12', '3.13', 'debian-3.11']
LAUNCH_CASES = ('launch', 'lines', 'nolines', 'svg', 'speedscope')
THREAD_CASES = ('threads', 'idle', 'idle-nb', 'gil', 'tid', 'from-to')
LAUNCH_COLS = list(LAUNCH_CASES + THREAD_CASES)
PID_COLS = ['pid', 'nonblock', 'stats', 'toprate', 'pipe', 'live', 'sigint', 'sigterm',
            'sigkill', 'exit']

READY_TIMEOUT = 20.0
HOT_SHARE, HOT_TOLERANCE = 0.75, 0.07
SLOW_SLEEP = '20'     # a non-Python command that outlives pyspy-sample's wait

WORK = None       # temporary directory of this run
SAMPLE = FOLD = SVG = SPEEDSCOPE = None


def tmp(name):
    return os.path.join(WORK, name)


# ---------------------------------------------------------------------------
# Orphans: a tool that leaves a process behind (e.g. the command it launched)
# reparents it to us, the subreaper; we find such processes and kill them.

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1,
                                                0, 0, 0)
    except Exception:
        pass


def orphans(zombies=True):
    """Our children that common.py's bookkeeping does not know: [(pid, cmd)]."""
    me = os.getpid()
    out = []
    for d in glob.glob('/proc/[0-9]*'):
        pid = int(os.path.basename(d))
        if common.tracked(pid):
            continue
        try:
            state, ppid = common.stat_fields(d + '/stat')[:2]
            ppid = int(ppid)
        except (OSError, ValueError, IndexError):
            continue
        if ppid != me or (state == 'Z' and not zombies):
            continue
        try:
            cmd = common.proc_cmdline(pid)
        except OSError:
            cmd = '?'
        out.append((pid, cmd))
    return out


def kill_orphans():
    found = orphans()
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid, _ in found:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
    return found


@atexit.register
def _cleanup():
    kill_orphans()
    if WORK:
        shutil.rmtree(WORK, ignore_errors=True)


# ---------------------------------------------------------------------------
# Targets

class Target(common.Target):
    """A target program started by us, with a ready file."""
    count = 0

    def __init__(self, python, script, args, ready_arg, reap_at_exit=True):
        Target.count += 1
        tag = 'target%d' % Target.count
        self.ready = tmp(tag + '.ready')
        argv = [python, script] + list(args)
        if ready_arg:
            argv.append(self.ready)
        common.Target.__init__(self, argv, WORK, tmp(tag + '.stdout'),
                               tmp(tag + '.stderr'))
        if reap_at_exit:
            # like a real parent: reaped as soon as it exits (no zombie)
            threading.Thread(target=self.proc.wait, daemon=True).start()

    def wait_ready(self):
        common.Target.wait_ready(
            self, self.ready,
            ('target exited with %s before it was ready: %s',
             'target not ready after %.0f s: %s'), READY_TIMEOUT, 0.01)
        with open(self.ready) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def cpu_ticks(self):
        try:
            fields = common.stat_fields('/proc/%d/stat' % self.pid)
            return int(fields[11]) + int(fields[12])   # utime + stime
        except (OSError, ValueError, IndexError):
            return None

    def health(self, seconds=0.3):
        """Problems if the target died or a thread of it sits stopped at
        any point during `seconds`."""
        deadline = time.time() + seconds
        while True:
            if not self.alive():
                return ['target exited (status %s): %s'
                        % (self.proc.returncode, short(self.stderr()))]
            st = self.stopped_tasks()
            if st:
                return ['target threads left stopped: %s'
                        % ', '.join('%s(%s)' % x for x in st)]
            if time.time() >= deadline:
                return []
            time.sleep(0.05)


# ---------------------------------------------------------------------------
# Collapsed stacks

def parse_fold(text):
    """[(frames, count)]; raises ValueError on a malformed line."""
    out = []
    for line in text.split('\n'):
        if not line:
            continue
        stack, _, n = line.rpartition(' ')
        if not stack or not n.isdigit() or int(n) <= 0:
            raise ValueError('malformed fold line %r' % short(line, 160))
        out.append((stack.split(';'), int(n)))
    return out


FRAME_RE = re.compile(r'^(.*) \(([^()]*?)(?::(\d+))?\)$')


def parse_frame(frame):
    """(name, file, line or None); file None for a frame without one."""
    m = FRAME_RE.match(frame)
    if not m:
        return frame, None, None
    return m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None


def is_func(frame, name, script):
    n, f, _ = parse_frame(frame)
    return n == name and f is not None and \
        os.path.basename(f) == os.path.basename(script)


def total(fold):
    return sum(n for _, n in fold)


def count_with(fold, name, script):
    return sum(n for frames, n in fold
               if any(is_func(fr, name, script) for fr in frames))


def fold_tool(args, timeout=TOOL_TIMEOUT):
    """Run pyspy-fold; (ToolResult, fold or None, problems)."""
    r = run_tool(FOLD, args, timeout=timeout)
    p = []
    fold = None
    if r.timed_out:
        p.append('pyspy-fold %s timed out' % ' '.join(args))
        return r, None, p
    try:
        fold = parse_fold(r.out)
    except ValueError as e:
        p.append('pyspy-fold %s: %s' % (' '.join(args), e))
    lines = [l for l in r.out.split('\n') if l]
    if lines != sorted(lines, key=lambda s: s.encode('utf-8', 'surrogateescape')):
        p.append('pyspy-fold %s: output not sorted' % ' '.join(args))
    return r, fold, p


def fold_ok(args, timeout=TOOL_TIMEOUT):
    """pyspy-fold that must exit 0 with nothing on stderr."""
    r, fold, p = fold_tool(args, timeout)
    if not r.timed_out and (r.rc != 0 or 'truncated' in r.err.lower()):
        p.insert(0, 'pyspy-fold %s: exit %s, stderr: %s'
                 % (' '.join(args), r.rc, short(r.err) or '(empty)'))
    return fold, p


def source_lines(script):
    with open(script) as f:
        return f.read().split('\n')


def marked(script, marker):
    return [i + 1 for i, l in enumerate(source_lines(script))
            if l.rstrip().endswith('# ' + marker)]


def func_span(script, name):
    """Lines of top-level function `name`, its def line included: a frame
    caught before its first instruction runs reports the def line (f_lasti
    -1 gives co_firstlineno, as frame.f_lineno does)."""
    src = source_lines(script)
    start = [i for i, l in enumerate(src) if l.startswith('def %s(' % name)][0]
    end = start + 1
    while end < len(src) and (src[end].startswith(' ') or not src[end].strip()):
        end += 1
    while not src[end - 1].strip():
        end -= 1
    return range(start + 1, end + 1)


def call_lines(script, caller, callee):
    span = func_span(script, caller)
    src = source_lines(script)
    return [n for n in span if src[n - 1].strip() == '%s()' % callee]


def hot_share(fold):
    hot = count_with(fold, 'hot', TARGET_HOT)
    cold = count_with(fold, 'cold', TARGET_HOT)
    return hot, cold, (float(hot) / (hot + cold) if hot + cold else 0.0)


def summary_errors(err):
    """The error count of pyspy-sample's summary line, or None."""
    m = re.search(r'(\d+) samples in [\d.]+ s \([\d.]+ Hz\), (\d+) errors', err)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_sampler_summary(r, what='pyspy-sample', max_errors=0):
    p = []
    s = summary_errors(r.err)
    if s is None:
        p.append('%s printed no summary line: %s' % (what, short(r.err) or '(empty)'))
    elif s[1] > max_errors:
        p.append('%s: %d errors in %d samples (%s)' % (what, s[1], s[0], short(r.err, 200)))
    return p


def sampler_failed(r):
    """Problems of a run of pyspy-sample that must exit 0."""
    if r.timed_out:
        return ['pyspy-sample timed out']
    if r.rc != 0:
        return ['pyspy-sample exit %s: %s' % (r.rc, short(r.err))]
    return []


# ---------------------------------------------------------------------------
# Per interpreter: launch mode

def test_launch(name, python):
    res = {}
    out = tmp('%s-launch.pss' % name)
    r = run_tool(SAMPLE, ['-r', '200', '-o', out, '--', python, TARGET_HOT,
                          '2', '3'], timeout=TOOL_TIMEOUT)
    p = []
    if r.timed_out:
        p.append('pyspy-sample timed out')
    elif r.rc != 3:
        p.append('pyspy-sample exit %s, expected 3 (the command\'s): %s'
                 % (r.rc, short(r.err)))
    if p:
        return dict.fromkeys(LAUNCH_CASES, p), ''
    # a launched interpreter is also sampled while it starts and while it
    # finalizes, where a read may fail: one error is tolerated
    p += check_sampler_summary(r, max_errors=1)
    fold, fp = fold_ok([out])
    p += fp
    info = ''
    if fold is None:
        return dict.fromkeys(LAUNCH_CASES, p), ''
    hot, cold, share = hot_share(fold)
    info = ' (hot %.1f %% of %d hot+cold samples, %d in all)' % (
        100 * share, hot + cold, total(fold))
    if hot + cold < 150:
        p.append('only %d samples in hot or cold (200 Hz for 2 s)' % (hot + cold))
    elif abs(share - HOT_SHARE) > HOT_TOLERANCE:
        p.append('hot has %.1f %% of hot+cold samples (%d vs %d), expected '
                 '%.0f %% +- %.0f' % (100 * share, hot, cold, 100 * HOT_SHARE,
                                       100 * HOT_TOLERANCE))
    res['launch'] = p

    # lines
    p = []
    for fn in ('hot', 'cold'):
        loop = marked(TARGET_HOT, 'loop: ' + fn) + marked(TARGET_HOT, 'body: ' + fn)
        loop_lines = range(min(loop), max(loop) + 1)
        span = func_span(TARGET_HOT, fn)
        calls = call_lines(TARGET_HOT, 'main', fn)
        inside = outside = 0
        bad = []
        for frames, n in fold:
            idx = [i for i, fr in enumerate(frames) if is_func(fr, fn, TARGET_HOT)]
            if not idx:
                continue
            i = idx[0]
            _, _, line = parse_frame(frames[i])
            if len(idx) != 1 or i != len(frames) - 1:
                bad.append('%s is not the innermost frame: %s'
                           % (fn, short(';'.join(frames), 200)))
            elif line not in span:
                bad.append('%s at line %s, outside its body (%d-%d)'
                           % (fn, line, span[0], span[-1]))
            elif line in loop_lines:
                inside += n
            else:
                outside += n
            caller = frames[i - 1] if i else None
            if not caller or not is_func(caller, 'main', TARGET_HOT) or \
                    parse_frame(caller)[2] not in calls:
                bad.append('%s called from %s, expected main at line %s'
                           % (fn, caller, calls))
            elif i < 2 or not is_func(frames[i - 2], '<module>', TARGET_HOT):
                bad.append('main under %s, expected <module>'
                           % (frames[i - 2] if i >= 2 else '(root)'))
        p += bad[:3]
        if len(bad) > 3:
            p.append('... %d bad %s stacks' % (len(bad), fn))
        if inside + outside == 0:
            p.append('no %s samples' % fn)
        elif outside > 0.05 * (inside + outside):
            p.append('%d of %d %s samples outside its loop lines %d-%d'
                     % (outside, inside + outside, fn, loop_lines[0],
                        loop_lines[-1]))
    res['lines'] = p

    # --no-lines
    nofold, p = fold_ok(['--no-lines', out])
    if nofold is not None:
        withl = {}
        for frames, n in fold:
            key = ';'.join(re.sub(r':\d+\)$', ')', fr) for fr in frames)
            withl[key] = withl.get(key, 0) + n
        nol = dict((';'.join(frames), n) for frames, n in nofold)
        lined = [fr for frames, _ in nofold for fr in frames
                 if re.search(r':\d+\)$', fr)]
        if lined:
            p.append('--no-lines output has line numbers: %s' % lined[0])
        if total(nofold) != total(fold):
            p.append('--no-lines total %d, with lines %d'
                     % (total(nofold), total(fold)))
        if len(nofold) > len(fold):
            p.append('--no-lines has %d lines, more than %d with lines'
                     % (len(nofold), len(fold)))
        if len(nol) != len(nofold):
            p.append('--no-lines repeats a stack')
        if nol != withl:
            diff = sorted(set(nol.items()) ^ set(withl.items()))
            p.append('--no-lines differs from the line fold without lines: %s'
                     % short(repr(diff[:2]), 240))
        if count_with(nofold, 'hot', TARGET_HOT) != count_with(fold, 'hot', TARGET_HOT):
            p.append('--no-lines changes the hot count')
    res['nolines'] = p
    fold_share = count_with(fold, 'hot', TARGET_HOT) / float(max(total(fold), 1))
    res['svg'] = check_svg(out, fold_share)
    res['speedscope'] = check_speedscope(out, fold_share)
    return res, info


def check_svg(stream, fold_share):
    """The flame graph of the stream: well-formed, hot's boxes hold the
    share of samples the fold gives hot."""
    import xml.etree.ElementTree as ET
    r = run_tool(SVG, [stream], timeout=TOOL_TIMEOUT)
    if r.rc != 0:
        return ['pyspy-svg exit %s: %s' % (r.rc, short(r.err))]
    try:
        root = ET.fromstring(r.out.encode('utf-8'))
    except ET.ParseError as e:
        return ['pyspy-svg output is not well-formed XML: %s' % e]
    boxes = []
    for g in root.iter('{http://www.w3.org/2000/svg}g'):
        title = g.find('{http://www.w3.org/2000/svg}title')
        if g.get('class') == 'f' and title is not None and g.get('data-samples'):
            boxes.append((title.text.split('\n')[0], int(g.get('data-samples'))))
    if not boxes:
        return ['pyspy-svg drew no frame boxes']
    all_samples = max(n for _, n in boxes)
    hot = sum(n for name, n in boxes if name.startswith('hot ('))
    share = hot / float(all_samples)
    if abs(share - fold_share) > 0.01:
        return ['hot boxes hold %.1f %% of the samples, the fold says %.1f %%'
                % (100 * share, 100 * fold_share)]
    return []


def check_speedscope(stream, fold_share):
    """The speedscope file of the stream: parses, has profiles, and hot's
    share of the busiest profile's weight is about the fold's."""
    r = run_tool(SPEEDSCOPE, [stream], timeout=TOOL_TIMEOUT)
    if r.rc != 0:
        return ['pyspy-speedscope exit %s: %s' % (r.rc, short(r.err))]
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        return ['pyspy-speedscope output is not JSON: %s' % e]
    profiles = doc.get('profiles') or []
    if not profiles:
        return ['pyspy-speedscope wrote no profile']
    busy = profiles[doc.get('activeProfileIndex', 0)]
    hot = set(i for i, f in enumerate(doc['shared']['frames']) if f.get('name') == 'hot')
    weights = busy['weights']
    hot_w = sum(w for st, w in zip(busy['samples'], weights) if hot & set(st))
    share = hot_w / max(sum(weights), 1e-9)
    if abs(share - fold_share) > 0.05:
        return ['hot has %.1f %% of the busiest profile\'s weight, the fold says '
                '%.1f %% of samples' % (100 * share, 100 * fold_share)]
    return []


# ---------------------------------------------------------------------------
# Per interpreter: threads and filters

def check_idle_nonblocking(out, script):
    """Problems of the idle flags in a --nonblocking recording of
    target_threads.py: the sleeping func_b (nearly) absent by default and
    present with --idle, the spinning func_a dominant either way."""
    d, p = fold_ok([out])
    idle, p2 = fold_ok(['--idle', out])
    p += p2
    if d is None or idle is None:
        return p
    fa, fb = count_with(d, 'func_a', script), count_with(d, 'func_b', script)
    ifa, ifb = count_with(idle, 'func_a', script), count_with(idle, 'func_b', script)
    if total(d) < 60:
        p.append('--nonblocking: only %d samples by default in 1 s' % total(d))
    if fa < 0.8 * total(d):
        p.append('--nonblocking: func_a in %d of %d samples, expected >= 80 %%'
                 % (fa, total(d)))
    # looser than the paused case: on a loaded machine a thread woken from
    # its sleep waits runnable ('R') for a CPU, and without a pause more of
    # those moments are caught; with no idle flags at all it would be ~1/3
    if fb > 0.15 * total(d):
        p.append('--nonblocking: func_b (sleeping) in %d of %d samples without --idle'
                 % (fb, total(d)))
    if not fa <= ifa <= fa + max(3, 0.05 * fa):
        p.append('--nonblocking: func_a: %d samples with --idle, %d without' % (ifa, fa))
    if ifb < 0.5 * ifa:
        p.append('--nonblocking --idle: func_b in %d samples, func_a in %d' % (ifb, ifa))
    return p


def test_threads(name, python):
    cols = THREAD_CASES
    target = Target(python, TARGET_THREADS, ['6'], True)
    try:
        try:
            tids = json.loads(target.wait_ready())
        except (TargetError, ValueError) as e:
            return dict((c, ['target: %s' % e]) for c in cols), ''
        out = tmp('%s-threads.pss' % name)
        r = run_tool(SAMPLE, ['--pid', str(target.pid), '-d', '1', '-o', out],
                     timeout=TOOL_TIMEOUT)
        p = sampler_failed(r)
        if not p:
            p += check_sampler_summary(r)
            p += target.health(0)
        out_nb = tmp('%s-threads-nb.pss' % name)
        r_nb = run_tool(SAMPLE, ['--pid', str(target.pid), '-d', '1', '--nonblocking',
                                 '-o', out_nb], timeout=TOOL_TIMEOUT)
        p_nb = sampler_failed(r_nb)
    finally:
        target.close()
    if p and r.rc != 0:
        return dict((c, p) for c in cols), ''
    res = {}
    a, b, main = tids['worker-a'], tids['worker-b'], tids['main']
    root_a = 'thread %d: worker-a' % a
    root_b = 'thread %d: worker-b' % b
    root_main = 'thread %d: MainThread' % main

    def roots(fold):
        c = {}
        for frames, n in fold:
            c[frames[0]] = c.get(frames[0], 0) + n
        return c

    folds = {}
    problems = list(p)
    for key, args in (('default', []), ('threads', ['--threads']),
                      ('idle', ['--idle']), ('idle-threads', ['--idle', '--threads']),
                      ('gil', ['--gil', '--threads']),
                      ('tid-a', ['--tid', str(a), '--threads']),
                      ('tid-b', ['--tid', str(b), '--idle', '--threads']),
                      ('from-to', ['--from', '0.3', '--to', '0.65'])):
        fold, fp = fold_ok(args + [out])
        problems += fp
        folds[key] = fold
    if any(f is None for f in folds.values()):
        return dict((c, problems) for c in cols), ''
    d, th, idle, ith = (folds['default'], folds['threads'], folds['idle'],
                        folds['idle-threads'])
    fa = count_with(d, 'func_a', TARGET_THREADS)
    info = ' (%d samples, %d in func_a)' % (total(d), fa)

    # threads: roots
    p = list(problems)
    rt, rit = roots(th), roots(ith)
    known = set([root_a, root_b, root_main])
    for rr, what in ((rt, '--threads'), (rit, '--idle --threads')):
        other = [k for k in rr if k not in known]
        if other:
            p.append('%s roots not of the target\'s threads %s: %s'
                     % (what, sorted(known), short(', '.join(other), 200)))
    if rt.get(root_a, 0) < 60:
        p.append('--threads: %d samples under "%s" (roots %s)'
                 % (rt.get(root_a, 0), root_a, short(repr(rt), 200)))
    for root in (root_b, root_main):
        if rit.get(root, 0) < 30:
            p.append('--idle --threads: %d samples under "%s" (roots %s)'
                     % (rit.get(root, 0), root, short(repr(rit), 200)))
    if total(th) != total(d) or total(ith) != total(idle):
        p.append('--threads changes the total: %d vs %d, --idle %d vs %d'
                 % (total(th), total(d), total(ith), total(idle)))
    for frames, n in th:
        if len(frames) > 1 and frames[1:] not in [f for f, _ in d]:
            p.append('--threads stack not in the plain fold: %s'
                     % short(';'.join(frames), 200))
            break
    res['threads'] = p

    # idle
    p = []
    fb = count_with(d, 'func_b', TARGET_THREADS)
    if total(d) < 60:
        p.append('only %d samples by default in 1 s' % total(d))
    if fa < 0.8 * total(d):
        p.append('func_a in %d of %d samples, expected >= 80 %%' % (fa, total(d)))
    if fb > 0.05 * total(d):
        p.append('func_b (sleeping) in %d of %d samples without --idle'
                 % (fb, total(d)))
    ifa = count_with(idle, 'func_a', TARGET_THREADS)
    ifb = count_with(idle, 'func_b', TARGET_THREADS)
    join = sum(n for frames, n in ith if frames[0] == root_main and
               any(parse_frame(fr)[0].endswith('join') for fr in frames))
    # worker-a is now and then off the CPU (waiting for the GIL): flagged
    # idle, it counts with --idle only
    if not fa <= ifa <= fa + max(3, 0.05 * fa):
        p.append('func_a: %d samples with --idle, %d without' % (ifa, fa))
    if ifb < 0.5 * ifa:
        p.append('--idle: func_b in %d samples, func_a in %d' % (ifb, ifa))
    if join < 0.5 * ifa:
        p.append('--idle: the main thread in join in %d samples, func_a in %d'
                 % (join, ifa))
    res['idle'] = p
    res['idle-nb'] = p_nb or check_idle_nonblocking(out_nb, TARGET_THREADS)

    # gil
    p = []
    g = folds['gil']
    rg = roots(g)
    if total(g) < 0.5 * fa:
        p.append('--gil: %d samples, func_a has %d' % (total(g), fa))
    if rg.get(root_a, 0) < 0.9 * total(g):
        p.append('--gil: %d of %d samples are worker-a\'s (roots %s)'
                 % (rg.get(root_a, 0), total(g), short(repr(rg), 200)))
    if rg.get(root_main, 0):
        p.append('--gil: %d samples of the main thread (in join)'
                 % rg[root_main])
    res['gil'] = p

    # tid
    p = []
    ta, tb = folds['tid-a'], folds['tid-b']
    for fold, root, want, fn in ((ta, root_a, rt.get(root_a, 0), 'func_a'),
                                 (tb, root_b, rit.get(root_b, 0), 'func_b')):
        other = [f[0] for f, _ in fold if f[0] != root]
        if other:
            p.append('--tid for "%s" has other roots: %s'
                     % (root, short(', '.join(sorted(set(other))), 200)))
        if total(fold) != want or not want:
            p.append('--tid for "%s": %d samples, --threads had %d'
                     % (root, total(fold), want))
        if count_with(fold, fn, TARGET_THREADS) != total(fold):
            p.append('--tid for "%s": samples without %s' % (root, fn))
    res['tid'] = p

    # from-to
    p = []
    ft = folds['from-to']
    if total(d):
        frac = float(total(ft)) / total(d)
        info += ' (--from 0.3 --to 0.65: %.0f %%)' % (100 * frac)
        if not 0.20 <= frac <= 0.47:
            p.append('--from 0.3 --to 0.65 keeps %d of %d samples (%.0f %%), '
                     'expected 20-47 %%' % (total(ft), total(d), 100 * frac))
    else:
        p.append('no samples')
    res['from-to'] = p
    return res, info


# ---------------------------------------------------------------------------
# Per interpreter: --pid mode and ending

def proc_status(pid, keys):
    try:
        with open('/proc/%d/status' % pid) as f:
            lines = [l.strip().replace('\t', ' ') for l in f
                     if l.split(':')[0] in keys]
        return ', '.join(lines) or '?'
    except OSError:
        return 'gone'


def check_pid_fold(fold, minimum=60):
    p = []
    hot, cold, share = hot_share(fold)
    n = total(fold)
    if n < minimum:
        p.append('%d samples, expected >= %d' % (n, minimum))
    elif hot < 0.5 * n or not 0.6 <= share <= 0.9:
        p.append('hot not dominant: %d of %d samples, %.0f %% of hot+cold'
                 % (hot, n, 100 * share))
    return p


def check_recording(out, minimum=60):
    """Problems of the recording `out` of a target_hot.py: it folds (exit
    0) and hot() is dominant in at least `minimum` samples."""
    fold, p = fold_ok([out])
    if fold is not None:
        p += check_pid_fold(fold, minimum)
    return p


@contextlib.contextmanager
def sampler(args):
    """pyspy-sample with args, running in the background: (Popen, its
    stderr file); killed and reaped when the block ends."""
    err = open(tmp('sampler.stderr'), 'wb')
    try:
        s = spawn([SAMPLE] + args, stdin=subprocess.DEVNULL,
                  stdout=subprocess.DEVNULL, stderr=err)
    except Exception:
        err.close()
        raise
    try:
        yield s, err
    finally:
        reap(s)
        err.close()


def sampler_err(err):
    err.close()
    with open(err.name, 'rb') as f:
        return f.read().decode('utf-8', 'replace')


def ran_for(s, err, seconds):
    """Let the sampler `s` run `seconds`; a problem if it exited meanwhile."""
    time.sleep(seconds)
    if s.poll() is not None:
        return ['pyspy-sample exited early with %s: %s'
                % (s.returncode, short(sampler_err(err)))]
    return []


def wait_exit(p, timeout):
    t0 = time.time()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.time() - t0
    return p.returncode, time.time() - t0


class HotTarget(object):
    """A long-running target_hot.py, restarted when a case broke it."""

    def __init__(self, python):
        self.python = python
        self.t = None

    def get(self):
        if self.t is not None and self.t.health(0):
            self.t.close()
            self.t = None
        if self.t is None:
            self.t = Target(self.python, TARGET_HOT, ['0', '0'], True)
            self.t.wait_ready()
        return self.t

    def case(self, fn, *args):
        """The problems of the case fn(p, self, *args), which adds them to
        p; a target that does not get ready is one more."""
        p = []
        try:
            fn(p, self, *args)
        except TargetError as e:
            p.append('target: %s' % e)
        return p

    def close(self):
        if self.t is not None:
            self.t.close()


def case_duration(p, ht, name, col, extra):
    """--pid PID -d 1 [extra]: on time, hot() dominant."""
    t = ht.get()
    out = tmp('%s-%s.pss' % (name, col))
    t0 = time.time()
    r = run_tool(SAMPLE, ['--pid', str(t.pid), '-d', '1', '-o', out]
                 + extra, timeout=15)
    took = time.time() - t0
    p += sampler_failed(r)
    if not p:
        if took > 4:
            p.append('-d 1 took %.1f s' % took)
        if not extra:
            p += check_sampler_summary(r)
        p += check_recording(out, 40)
        p += t.health(0.1)


STATS_RE = re.compile(r'stats: ([\d.]+) reads, ([\d.]+) bytes per thread-sample '
                      r'\((\d+) thread-samples\); ([\d.]+) reads per sample; '
                      r'([\d.]+) thread listings per sample'
                      r'(?:; paused per sample: median ([\d.]+) us, max ([\d.]+) us)?$')


def case_stats(p, ht, name):
    """--stats: what sampling cost, blocking and not."""
    t = ht.get()
    for extra in ([], ['--nonblocking']):
        what = ' '.join(['--stats'] + extra)
        r = run_tool(SAMPLE, ['--pid', str(t.pid), '-d', '1', '-r', '200', '--stats',
                              '-o', tmp('%s-stats.pss' % name)] + extra, timeout=15)
        p += sampler_failed(r)
        if p:
            return
        lines = [x for x in r.err.splitlines() if 'stats:' in x]
        m = STATS_RE.search(lines[-1]) if len(lines) == 1 else None
        if not m:
            p.append('%s: no single cost line: %s' % (what, short(r.err)))
            continue
        reads, nbytes, ts, _, _, med, mx = m.groups()
        # the form bench/compare.py looks for
        if not re.search(r'([\d.]+) reads.*?([\d.]+) bytes.*?per thread-sample', lines[0]):
            p.append('%s: bench/compare.py would not parse: %s' % (what, lines[0]))
        if int(ts) < 20:
            p.append('%s: only %s thread-samples in 1 s at 200 Hz' % (what, ts))
        # 3.11+ reads a data-stack chunk whole; up to 3.10 a frame the last
        # sample did not read (hot and cold alternate) costs a read of its own
        ver = re.search(r'(\d+)\.(\d+)', name)
        limit = 3 if ver and (int(ver.group(1)), int(ver.group(2))) >= (3, 11) else 6
        if float(reads) > limit:
            p.append('%s: %s remote reads per thread-sample, expected <= %d'
                     % (what, reads, limit))
        if extra and med is not None:
            p.append('%s: says the target was paused' % what)
        if not extra and (med is None or float(med) > float(mx) * 1.13):
            p.append('%s: paused median %s us, max %s us' % (what, med, mx))
    p += t.health(0.1)


def tick_times(db):
    """The times of a capture's ticks (a tick's samples share one), and its
    meta table."""
    import sqlite3
    c = sqlite3.connect(db)
    try:
        times = [r[0] for r in c.execute('SELECT time FROM samples ORDER BY rowid')]
        meta = dict(c.execute('SELECT key, value FROM meta'))
    finally:
        c.close()
    if any(b < a for a, b in zip(times, times[1:])):
        raise ValueError('sample times go back')
    return sorted(set(times)), meta


def case_toprate(p, ht, name):
    """-r 1000000, a rate no sampler keeps: the ticks are stamped on a grid
    the sampler can keep (lib/ps_pace.h), so that neighbouring time deltas
    are equal or one twice the other, where the instants they stood for
    before gave deltas as jittered as the ticks; and the stamps keep up with
    the clock over the second."""
    t = ht.get()
    for extra in ([], ['--nonblocking']):
        what = ' '.join(['-r 1000000'] + extra)
        db = tmp('%s-toprate.db' % name)
        if os.path.exists(db):
            os.unlink(db)
        r = run_tool(SAMPLE, ['--pid', str(t.pid), '-d', '1', '-r', '1000000', '-q',
                              '-o', db] + extra, timeout=20)
        p += sampler_failed(r)
        if p:
            return
        try:
            ticks, meta = tick_times(db)
        except (ValueError, OSError, Exception) as e:
            p.append('%s: %s' % (what, e))
            continue
        d = [b - a for a, b in zip(ticks, ticks[1:])]
        if len(d) < 200:
            p.append('%s: only %d ticks in 1 s' % (what, len(ticks)))
            continue
        fit = sum(1 for x, y in zip(d, d[1:]) if y in (x, 2 * x) or 2 * y == x)
        if fit < 0.5 * (len(d) - 1):
            p.append('%s: %d of %d neighbouring time deltas equal or one twice the other'
                     % (what, fit, len(d) - 1))
        span, dur = ticks[-1] - ticks[0], meta['duration_ns'] / 1000.0
        if not 0.9 * dur <= span <= dur + 1000:
            p.append('%s: ticks span %d us of a %d us recording' % (what, span, dur))
    p += t.health(0.1)


def case_pipe(p, ht, name):
    """pyspy-sample piped into pyspy-fold, and live folding (its problems
    start with "live")."""
    t = ht.get()
    rcfile = tmp('%s-pipe.rc' % name)
    r = run_tool('sh', ['-c', '{ "$1" -d 1 --pid "$2"; echo $? >"$3"; } | "$4"',
                        'sh', SAMPLE, str(t.pid), rcfile, FOLD], timeout=15)
    if r.timed_out:
        p.append('the pipe timed out')
    else:
        try:
            with open(rcfile) as f:
                src = f.read().strip()
        except OSError:
            src = '(none)'
        if src != '0':
            p.append('pyspy-sample in the pipe: exit %s: %s' % (src, short(r.err)))
        if r.rc != 0:
            p.append('pyspy-fold in the pipe: exit %s: %s' % (r.rc, short(r.err)))
        try:
            fold = parse_fold(r.out)
            p += check_pid_fold(fold, 40)
        except ValueError as e:
            p.append(str(e))
    p += t.health(0)
    t = ht.get()
    t0 = time.time()
    fold, fp = fold_ok(['--pid', str(t.pid), '--duration', '1'], timeout=15)
    took = time.time() - t0
    p += ['live: %s' % x for x in fp]
    if fold is not None:
        p += ['live: %s' % x for x in check_pid_fold(fold, 40)]
    if took > 4:
        p.append('live --duration 1 took %.1f s' % took)
    p += t.health(0)


def case_signal(p, ht, name, col, sig):
    """SIGINT, SIGTERM: a complete stream, the target untouched."""
    t = ht.get()
    out = tmp('%s-%s.pss' % (name, col))
    with sampler(['--pid', str(t.pid), '-o', out]) as (s, err):
        p += ran_for(s, err, 1.0)
        if not p:
            s.send_signal(sig)
            rc, took = wait_exit(s, 2.0)
            if rc is None:
                p.append('pyspy-sample still running 2 s after %s'
                         % sig.name)
            elif rc != 0:
                p.append('pyspy-sample exit %s after %s: %s'
                         % (rc, sig.name, short(sampler_err(err))))
            else:
                p += check_recording(out, 40)
    p += t.health(0.3)


def case_sigkill(p, ht, name):
    """SIGKILL: a truncated stream that still folds, the target runs on."""
    t = ht.get()
    out = tmp('%s-sigkill.pss' % name)
    with sampler(['--pid', str(t.pid), '-o', out]) as (s, err):
        p += ran_for(s, err, 1.5)
        if not p:
            s.kill()
            wait_exit(s, 2.0)
    if not p:
        cpu0 = t.cpu_ticks()
        p += t.health(0.3)
        cpu1 = t.cpu_ticks()
        deadline = time.time() + 3   # a busy machine may not run it at once
        while not p and cpu0 is not None and cpu1 is not None and cpu1 <= cpu0 and \
                time.time() < deadline:
            time.sleep(0.05)
            cpu1 = t.cpu_ticks()
        if not p and (cpu0 is None or cpu1 is None or cpu1 <= cpu0):
            p.append('target CPU time did not grow after the sampler '
                     'was killed (%s -> %s ticks)' % (cpu0, cpu1))
        r, fold, fp = fold_tool([out])
        p += fp
        if r.rc == 0:
            p.append('pyspy-fold of a killed recording exited 0')
        if 'truncated' not in r.err.lower():
            p.append('pyspy-fold does not say "truncated": %s'
                     % (short(r.err) or '(empty stderr)'))
        if fold is not None:
            p += check_pid_fold(fold, 40)


def test_pid(name, python):
    res = {}
    ht = HotTarget(python)
    try:
        for col, extra in (('pid', []), ('nonblock', ['--nonblocking'])):
            res[col] = ht.case(case_duration, name, col, extra)
        res['stats'] = ht.case(case_stats, name)
        res['toprate'] = ht.case(case_toprate, name)
        p = ht.case(case_pipe, name)
        res['pipe'] = [x for x in p if not x.startswith('live')]
        res['live'] = [x for x in p if x.startswith('live') or x.startswith('target')]
        for col, sig in (('sigint', signal.SIGINT), ('sigterm', signal.SIGTERM)):
            res[col] = ht.case(case_signal, name, col, sig)
        res['sigkill'] = ht.case(case_sigkill, name)
    finally:
        ht.close()

    res['exit'] = test_target_exit(python, name)
    return res


def test_target_exit(python, name, reaped=True):
    """The target exits mid-capture (and is reaped at once by its parent,
    or, reaped=False, stays a zombie until the sampler is done)."""
    p = []
    t = Target(python, TARGET_HOT, ['1.2', '0'], True, reap_at_exit=reaped)
    try:
        t.wait_ready()
        out = tmp('%s-exit.pss' % name)
        with sampler(['--pid', str(t.pid), '-o', out]) as (s, err):
            rc, took = wait_exit(s, 6.0)
            if rc is None:
                p.append('pyspy-sample (pid %d) still running 6 s after the '
                         'target (1.2 s) started; the target: %s'
                         % (s.pid, proc_status(t.pid, ('State', 'TracerPid'))))
            elif rc != 0:
                p.append('pyspy-sample exit %s: %s' % (rc, short(sampler_err(err))))
            else:
                if reaped and t.proc.poll() is None:
                    p.append('pyspy-sample exited while the target runs')
                p += check_recording(out, 40)
    except TargetError as e:
        p.append('target: %s' % e)
    finally:
        t.close()
    return p


# ---------------------------------------------------------------------------
# Once: errors and vectors

def not_python(r, timed_out, exit_0):
    """Problems of pyspy-sample launching a command that is not Python: it
    must fail, and say why in one line (messages `timed_out` and `exit_0`
    for the ways it may not)."""
    if r.timed_out:
        return [timed_out]
    if r.rc == 0:
        return [exit_0]
    return error_lines(r, 'pyspy-sample', mention=('python', 'python'))


class Background(object):
    """A slow tool run, started now and checked later: a thread waits for
    it (at most `timeout` s, then kills it), times it, and right after it
    exits kills and lists the orphans whose command line contains
    `leftover` (what the tool left running)."""

    def __init__(self, argv, timeout, leftover):
        self.err = open(tmp('bg.stderr'), 'w+b')
        self.leftover = leftover
        self.left = []
        self.t0 = time.time()
        self.took = None
        self.p = spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=self.err)
        self.thread = threading.Thread(target=self._wait, args=(timeout,))
        self.thread.daemon = True
        self.thread.start()

    def _wait(self, timeout):
        rc, _ = wait_exit(self.p, timeout)
        self.took = time.time() - self.t0
        self.timed_out = rc is None
        reap(self.p)
        time.sleep(0.1)
        for pid, cmd in orphans():
            if self.leftover in cmd:
                self.left.append((pid, cmd))
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass

    def result(self):
        self.thread.join(60)
        self.err.seek(0)
        err = self.err.read().decode('utf-8', 'replace')
        self.err.close()
        return ToolResult(self.p.returncode, '', err,
                          self.timed_out), self.took


def test_errors(slow):
    results = []
    notes = []

    # launch mode, a command that is not Python and exits at once
    out = tmp('nonpython.pss')
    t0 = time.time()
    r = run_tool(SAMPLE, ['-o', out, '--', '/bin/sleep', '0.5'], timeout=15)
    took = time.time() - t0
    p = not_python(r, 'still running after 15 s',
                   'exit 0 (stderr: %s), expected non-zero and an error about '
                   'python' % (short(r.err) or '(empty)'))
    results.append(('sample errors launch-not-python (sleep 0.5, %.1f s)' % took, p))

    # launch mode, a command that is not Python and keeps running
    r, took = slow.result()
    p = not_python(r, 'still running after 15 s (killed)',
                   'exit 0, expected non-zero: %s' % short(r.err))
    if took > 5:
        notes.append('NOTE sample errors launch-not-python (sleep %s): took '
                     '%.1f s to give up (it waits for the command to become '
                     'python)' % (SLOW_SLEEP, took))
    results.append(('sample errors launch-not-python (sleep %s, %.1f s)'
                    % (SLOW_SLEEP, took), p))
    results.append(('sample errors launch-not-python leaves no process',
                    ['pyspy-sample failed and left its command running: pid '
                     '%d (%s)' % x for x in slow.left]))

    # a pid that does not exist
    pid = common.unused_pid()
    r = run_tool(SAMPLE, ['--pid', str(pid), '-o', tmp('nopid.pss')], timeout=15)
    results.append(('sample errors no-such-pid',
                    check_failure(r, 1, 'pyspy-sample',
                                  mention=(str(pid), 'pid %d' % pid))))

    # no arguments
    r = run_tool(SAMPLE, [], timeout=15)
    results.append(('sample errors no-arguments',
                    check_failure(r, 2, 'pyspy-sample', 'first')))

    # a terminal on stdout is refused
    script = shutil.which('script')
    if script:
        cmd = '%s -d 0.5 --pid %d' % (SAMPLE, os.getpid())
        r = run_tool(script, ['-qec', cmd, '/dev/null'], timeout=15)
        p = []
        if r.timed_out:
            p.append('timed out')
        elif r.rc != 2:
            p.append('exit %s, expected 2 (output: %s)' % (r.rc, short(r.out + r.err)))
        elif 'terminal' not in (r.out + r.err):
            p.append('no message about the terminal: %s' % short(r.out + r.err))
        results.append(('sample errors terminal', p))
    else:
        results.append(('sample errors terminal', None))
    return results, notes


def test_front(python):
    """The pyspy front command: record in each format, dump, refusals."""
    front = os.path.join(os.path.dirname(SAMPLE), 'pyspy')
    results = []
    svg = tmp('front.svg')
    r = run_tool(front, ['record', '-o', svg, '-r', '200', '--', python, TARGET_HOT,
                         '1.5', '5'], timeout=TOOL_TIMEOUT)
    p = []
    if r.rc != 5:
        p.append('pyspy record exit %s, expected 5 (the command\'s): %s'
                 % (r.rc, short(r.err)))
    elif 'wrote %s' % svg not in r.err:
        p.append('pyspy record does not say where the file went: %s' % short(r.err))
    else:
        import xml.etree.ElementTree as ET
        try:
            with open(svg, 'rb') as f:
                text = f.read()
            ET.fromstring(text)
            if b'hot (' not in text:
                p.append('the flame graph has no hot frame')
        except (OSError, ET.ParseError) as e:
            p.append('pyspy record wrote no well-formed SVG: %s' % e)
    results.append(('front record flamegraph', p))

    raw = tmp('front.txt')
    r = run_tool(front, ['record', '-f', 'raw', '--nolineno', '-o', raw, '--', python,
                         TARGET_HOT, '1', '0'], timeout=TOOL_TIMEOUT)
    p = []
    try:
        with open(raw) as f:
            fold = parse_fold(f.read())
        if r.rc != 0 or not fold:
            p.append('pyspy record -f raw: exit %s, %d lines' % (r.rc, len(fold)))
        elif any(re.search(r':\d+\)$', fr) for frames, _ in fold for fr in frames):
            p.append('--nolineno output has line numbers')
    except OSError as e:
        p.append('pyspy record -f raw wrote nothing: %s (%s)' % (e, short(r.err)))
    results.append(('front record raw', p))

    ss = tmp('front.json')
    r = run_tool(front, ['record', '-f', 'speedscope', '-o', ss, '--', python,
                         TARGET_HOT, '1', '0'], timeout=TOOL_TIMEOUT)
    p = []
    try:
        with open(ss) as f:
            doc = json.load(f)
        if r.rc != 0 or not doc.get('profiles'):
            p.append('pyspy record -f speedscope: exit %s, no profile' % r.rc)
    except (OSError, ValueError) as e:
        p.append('pyspy record -f speedscope: %s (%s)' % (e, short(r.err)))
    results.append(('front record speedscope', p))

    db = tmp('front.db')
    r = run_tool(front, ['record', '-f', 'sqlite', '-o', db, '-t', '-i', '--', python,
                         TARGET_HOT, '1', '4'], timeout=TOOL_TIMEOUT)
    p = []
    if r.rc != 4:
        p.append('pyspy record -f sqlite: exit %s, expected 4 (the command\'s): %s'
                 % (r.rc, short(r.err)))
    elif 'wrote %s' % db not in r.err:
        p.append('pyspy record -f sqlite does not say where the file went: %s' % short(r.err))
    else:
        with open(db, 'rb') as f:
            if not f.read(16).startswith(b'SQLite format 3'):
                p.append('pyspy record -f sqlite wrote no SQLite file')
        _, fold, fp = fold_tool([db])
        p += ['folding the capture: %s' % x for x in fp]
        if fold is not None and count_with(fold, 'hot', TARGET_HOT) < 40:
            p.append('the capture has %d samples in hot()' % count_with(fold, 'hot', TARGET_HOT))
    results.append(('front record sqlite', p))

    # -f pss onto a pipe: rename() would replace it, so the stream is copied in
    fifo, got = tmp('front.fifo'), tmp('front-fifo.pss')
    os.mkfifo(fifo)
    reader = spawn(['sh', '-c', 'cat "$1" >"$2"', 'sh', fifo, got],
                   stdin=subprocess.DEVNULL)
    r = run_tool(front, ['record', '-f', 'pss', '-o', fifo, '--', python, TARGET_HOT,
                         '1', '0'], timeout=TOOL_TIMEOUT)
    rc, _ = wait_exit(reader, 10)
    reap(reader)
    p = []
    if r.rc != 0 or rc != 0:
        p.append('pyspy record -f pss -o FIFO: exit %s, the reader\'s %s: %s'
                 % (r.rc, rc, short(r.err)))
    elif not stat.S_ISFIFO(os.lstat(fifo).st_mode):
        p.append('pyspy record -f pss replaced the FIFO')
    else:
        fold, fp = fold_ok([got])
        p += ['what came through the FIFO: %s' % x for x in fp]
        # any will do (the copy is checked, not the sampling): a loaded
        # machine gave 38 of the ~75 once
        if fold is not None and count_with(fold, 'hot', TARGET_HOT) < 10:
            p.append('what came through the FIFO has %d samples in hot()'
                     % count_with(fold, 'hot', TARGET_HOT))
    results.append(('front record pss into a pipe', p))

    # -s: a Pool(2) whose workers spin in hot_a and hot_b, rooted by process
    sub = tmp('front-sub.txt')
    r = run_tool(front, ['record', '-s', '-f', 'raw', '-o', sub, '--', python,
                         TARGET_SUBPROC, 'pool', '2'], timeout=TOOL_TIMEOUT)
    p = []
    try:
        with open(sub) as f:
            fold = parse_fold(f.read())
        roots = set(frames[0] for frames, _ in fold if frames)
        funcs = set(parse_frame(fr)[0] for frames, _ in fold for fr in frames)
        if r.rc != 0:
            p.append('pyspy record -s: exit %s: %s' % (r.rc, short(r.err)))
        if len([x for x in roots if x.startswith('process ')]) < 3:
            p.append('pyspy record -s: %d process roots, expected 3: %s'
                     % (len(roots), sorted(roots)[:4]))
        for fn in ('hot_a', 'hot_b', 'hot_parent'):
            if fn not in funcs:
                p.append('pyspy record -s: no %s in the profile' % fn)
    except (OSError, ValueError) as e:
        p.append('pyspy record -s wrote nothing usable: %s (%s)' % (e, short(r.err)))
    results.append(('front record subprocesses', p))

    p = []
    for args, want in ((['record', '--format', 'bogus', '--pid', '1'], 2),
                       (['record', '--rate', 'fast', '--pid', '1'], 2),
                       (['frobnicate'], 2)):
        r = run_tool(front, args, timeout=TOOL_TIMEOUT)
        if r.rc != want or len(r.err.strip().splitlines()) != 1:
            p.append('pyspy %s: exit %s (want %d), stderr %r'
                     % (' '.join(args), r.rc, want, short(r.err)))
    results.append(('front refusals', p))
    return results


def test_vectors():
    results = []
    pss = sorted(glob.glob(os.path.join(VECTORS, '*.pss')))
    if not pss:
        return [('fold vectors', ['no vectors in %s' % VECTORS])]
    for path in pss:
        base = os.path.basename(path)[:-4]
        p = []
        try:
            with open(path[:-4] + '.fold', 'rb') as f:
                want = f.read()
        except OSError as e:
            results.append(('fold vector %s' % base, ['no .fold: %s' % e]))
            continue
        r = run_tool(FOLD, [path], timeout=15, text=False)
        if r.timed_out:
            results.append(('fold vector %s' % base, ['timed out']))
            continue
        out, err = r.out, r.err
        if base in ('truncated', 'v1-truncated'):   # v1-: as the 1.1 writer wrote it
            if r.rc == 0:
                p.append('exit 0 for a truncated stream')
            if 'truncated' not in err.lower():
                p.append('stderr does not say truncated: %s' % (short(err) or '(empty)'))
        elif r.rc != 0 or err.strip():
            p.append('exit %s, stderr: %s' % (r.rc, short(err) or '(empty)'))
        if out != want:
            ol, wl = out.split(b'\n'), want.split(b'\n')
            i = 0
            while i < min(len(ol), len(wl)) and ol[i] == wl[i]:
                i += 1
            p.append('output differs from %s.fold (%d vs %d bytes); line %d: '
                     'got %r, expected %r'
                     % (base, len(out), len(want), i + 1,
                        ol[i][:120] if i < len(ol) else None,
                        wl[i][:120] if i < len(wl) else None))
        results.append(('fold vector %s' % base, p))
    return results


# ---------------------------------------------------------------------------

def main():
    global WORK, SAMPLE, FOLD, SVG, SPEEDSCOPE
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default='build/bin',
                    help='directory holding pyspy-sample and pyspy-fold')
    ap.add_argument('--only', action='append', default=[],
                    help='run only this interpreter (2.7, 3.12, debian-3.11)')
    ap.add_argument('--all-pid', action='store_true',
                    help='run the --pid cases on every interpreter, not only '
                    '%s' % ', '.join(PID_SUBSET))
    ap.add_argument('--part', choices=('quiet', 'shared'),
                    help='only the cases that need the machine to themselves '
                    '(threads, filters, --pid), or only the others')
    args = ap.parse_args()
    quiet = args.part != 'shared'
    shared = args.part != 'quiet'

    common.setup_driver()
    become_subreaper()

    t0 = time.time()
    SAMPLE = os.path.abspath(os.path.join(args.bin, 'pyspy-sample'))
    FOLD = os.path.abspath(os.path.join(args.bin, 'pyspy-fold'))
    SVG = os.path.abspath(os.path.join(args.bin, 'pyspy-svg'))
    SPEEDSCOPE = os.path.abspath(os.path.join(args.bin, 'pyspy-speedscope'))
    if common.missing_binary([SAMPLE, FOLD], 'e2e-sample'):
        return 1
    WORK = tempfile.mkdtemp(prefix='pyspy-e2e-sample-')

    interpreters, missing = common.select_interpreters(ap, args.only)

    def pid_cols(n):
        return PID_COLS if quiet and (args.all_pid or n in PID_SUBSET) else []

    def cols(n):
        return ((list(LAUNCH_CASES) if shared else []) +
                (list(THREAD_CASES) if quiet else []) + pid_cols(n))

    tally = common.Tally()
    matrix = {}

    def record(row, name, res, cases, info=''):
        # `info` goes with the first case
        for c in cases:
            row[c] = tally('sample %s %s%s' % (name, c, info if c == cases[0]
                                               else ''), res[c])

    for name in missing:
        common.not_found(name)
        matrix[name] = dict((c, 'SKIP') for c in cols(name))
        tally.skipped += len(matrix[name])

    # the slow error case runs meanwhile
    slow = shared and Background([SAMPLE, '-o', tmp('nonpython-long.pss'), '--',
                                  '/bin/sleep', SLOW_SLEEP], 15, '/bin/sleep ' + SLOW_SLEEP)
    try:
        for name, python in interpreters:
            row = matrix.setdefault(name, {})
            ti = time.time()
            if shared:
                try:
                    res, info = test_launch(name, python)
                except TargetError as e:
                    res, info = dict.fromkeys(LAUNCH_CASES, ['target: %s' % e]), ''
                record(row, name, res, LAUNCH_CASES, info)
            if quiet:
                res, info = test_threads(name, python)
                record(row, name, res, THREAD_CASES, info)
            if pid_cols(name):
                record(row, name, test_pid(name, python), PID_COLS)
            print('    (%s took %.1f s)' % (name, time.time() - ti))

        if interpreters and quiet:
            # a target that exits but that its parent does not reap (yet)
            name, python = ([i for i in interpreters if i[0] == 'debian-3.11'] +
                            interpreters)[0]
            tally('sample %s exit-unreaped' % name,
                  test_target_exit(python, name + '-unreaped', reaped=False))
        results, notes = test_errors(slow) if shared else ([], [])
        for label, problems in results:
            tally(label, problems)
        for label, problems in test_vectors() if shared else []:
            tally(label, problems)
        if interpreters and shared:
            for label, problems in test_front(interpreters[-1][1]):
                tally(label, problems)
        for n in notes:
            print(n)
    finally:
        if slow:
            reap(slow.p)

    left = orphans(zombies=False)
    kill_orphans()
    if left:
        tally('sample no process left behind',
              ['left running: %s' % ', '.join('%d (%s)' % x for x in left)])

    if matrix:
        common.print_matrix(matrix, [c for c in LAUNCH_COLS + PID_COLS
                                     if any(c in row for row in matrix.values())])
    return tally.finish('e2e-sample', t0)


if __name__ == '__main__':
    sys.exit(main())
