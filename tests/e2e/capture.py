#!/usr/bin/env python3
"""End-to-end test of indexed captures (sqlite3): pyspy-sample -o run.db,
pyspy-index, and every consumer reading a .db.

    python3 tests/e2e/capture.py --bin build/bin [--only 3.12] [--all]

Per interpreter of a subset (2.7, 3.12, debian-3.11; every one with --all;
a missing one is reported as skipped):

  record     `pyspy-sample -r 200 -o run.db -- PY target_hot.py 2 3` exits 3
             and `-o run.pss` the same; the folds of both have hot() with
             75 % +- 7 points of the hot+cold samples
  index      pyspy-index run.pss -o idx.db (and from stdin): pyspy-fold of
             idx.db equals pyspy-fold of run.pss byte for byte, also with
             --idle --threads and --no-lines; pyspy-svg and pyspy-speedscope
             read idx.db; --info of the two says the same
  filters    target_threads.py recorded 1.5 s, indexed: for windows, --tid,
             --only-pid, --gil, --idle and mixes, fold(db) == fold(stream),
             and the sample total equals a brute-force count over every row
             of the database (Python's sqlite3)
  clock      --from/--to as local times (HH:MM:SS.ffffff, with a date, with
             a T) give the fold of the same seconds from the start
  top-dump   pyspy-top --summary and pyspy-dump --at (text and --json) on
             idx.db print what they print on run.pss

Once (the newest interpreter):

  concurrent pyspy-fold of a capture being written (--pid, no -d) exits 0,
             notes it is incomplete, and sees more samples 1.5 s later; after
             SIGINT the capture is complete (no note) with at least as many
  kill9      SIGKILL to the sampler 2.5 s in: the capture opens (exit 0, a
             note), and its last sample is at most 1.5 s older than the kill
  errors     a foreign sqlite database, a newer schema, overwritten pages, a
             cut file and a text file named .db: exit 1, one line naming it;
             a truncated stream indexed: exit 1 "truncated", the capture
             opens with the samples before the cut

Prints PASS/FAIL per case and `e2e-capture: N passed, M failed, K skipped`.
Standard library only; meant for Debian's python3.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import common  # noqa: E402
from common import TargetError, check_failure, run_tool, short, spawn  # noqa: E402

TARGET_HOT = os.path.join(HERE, 'target_hot.py')
TARGET_THREADS = os.path.join(HERE, 'target_threads.py')
SUBSET = ['2.7', '3.12', 'debian-3.11']
CASES = ['record', 'index', 'filters', 'clock', 'top-dump']
HOT_SHARE, HOT_TOLERANCE = 0.75, 0.07

B = {}
WORK = None


def tmp(name):
    return os.path.join(WORK, name)


def tool(name, args, **kw):
    return run_tool(B[name], args, **kw)


def fold(args):
    """(fold text, problems) of pyspy-fold ARGS, which must exit 0."""
    r = tool('pyspy-fold', args)
    if r.timed_out or r.rc != 0:
        return None, ['pyspy-fold %s: exit %s: %s' % (' '.join(args), r.rc, short(r.err))]
    return r.out, []


def fold_total(text):
    return sum(int(line.rsplit(' ', 1)[1]) for line in text.splitlines() if line)


def hot_share(text):
    hot = cold = 0
    for line in text.splitlines():
        frames, n = line.rsplit(' ', 1)
        last = frames.split(';')[-1]
        if last.startswith('hot ('):
            hot += int(n)
        elif last.startswith('cold ('):
            cold += int(n)
    return hot, cold


def start_target(python, script, args, tag):
    ready = tmp(tag + '.ready')
    t = common.Target([python, script] + args + [ready], WORK, tmp(tag + '.out'),
                      tmp(tag + '.err'))
    t.wait_ready(ready, ('target exited with %s: %s', 'target not ready in %.0f s: %s'),
                 20, 0.01)
    with open(ready) as f:
        return t, f.read()


def check_hot(text, what):
    hot, cold = hot_share(text)
    if hot + cold < 150:
        return ['%s: only %d samples in hot or cold' % (what, hot + cold)]
    share = float(hot) / (hot + cold)
    if abs(share - HOT_SHARE) > HOT_TOLERANCE:
        return ['%s: hot has %.1f %% of hot+cold samples' % (what, 100 * share)]
    return []


def record(name, python, out, extra=()):
    r = tool('pyspy-sample', ['-q', '-r', '200', '-o', out] + list(extra) +
             ['--', python, TARGET_HOT, '2', '3'])
    if r.timed_out or r.rc != 3:
        return ['pyspy-sample -o %s: exit %s, expected 3: %s'
                % (os.path.basename(out), r.rc, short(r.err))]
    return []


def case_record(name, python):
    db, pss = tmp(name + '-run.db'), tmp(name + '-run.pss')
    p = record(name, python, db) + record(name, python, pss)
    p += record(name, python, tmp(name + '-fmt.capture'), ['--format', 'sqlite'])
    if p:
        return p
    for path in (db, pss, tmp(name + '-fmt.capture')):
        text, fp = fold([path])
        p += fp or check_hot(text, os.path.basename(path))
    with open(tmp(name + '-fmt.capture'), 'rb') as f:
        if not f.read(16).startswith(b'SQLite format 3'):
            p.append('--format sqlite did not write an sqlite database')
    return p


def same_fold(a, b, args):
    ta, pa = fold(args + [a])
    tb, pb = fold(args + [b])
    if pa or pb:
        return pa + pb
    if ta != tb:
        return ['fold %s differs between %s (%d samples) and %s (%d samples)'
                % (' '.join(args), os.path.basename(a), fold_total(ta),
                   os.path.basename(b), fold_total(tb))]
    if not ta and '--to' not in args:
        return ['empty fold %s' % ' '.join(args)]
    return []


def case_index(name, python):
    pss, idx, sidx = tmp(name + '-run.pss'), tmp(name + '-idx.db'), tmp(name + '-stdin.db')
    r = tool('pyspy-index', ['-q', pss, '-o', idx])
    if r.rc != 0:
        return ['pyspy-index: exit %s: %s' % (r.rc, short(r.err))]
    with open(pss, 'rb') as f:
        s = subprocess.run([B['pyspy-index'], '-q', '-o', sidx], stdin=f,
                           stderr=subprocess.PIPE, timeout=30)
    p = [] if s.returncode == 0 else ['pyspy-index from stdin: exit %s' % s.returncode]
    for args in ([], ['--idle', '--threads'], ['--no-lines', '--pids']):
        p += same_fold(pss, idx, args)
    p += same_fold(pss, sidx, ['--idle'])
    for t, extra in (('pyspy-svg', []), ('pyspy-speedscope', ['-o', '-'])):
        r = tool(t, extra + [idx])
        if r.rc != 0 or len(r.out) < 500:
            p.append('%s on a capture: exit %s, %d bytes: %s' % (t, r.rc, len(r.out), short(r.err)))
    a, b = tool('pyspy-index', ['--info', pss]), tool('pyspy-index', ['--info', idx])
    la, lb = a.out.splitlines()[1:], b.out.splitlines()[1:]
    if a.rc or b.rc or la != lb or not any(l.startswith('samples per minute') for l in la):
        p.append('--info differs between the stream and its capture: %s | %s'
                 % (short(a.out + a.err, 150), short(b.out + b.err, 150)))
    return p


def brute_count(db, origin_filter):
    """Samples of every row of db accepted by origin_filter(time_s, tid,
    pid, flags), counted here in Python."""
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    threads = dict((i, (pid, tid)) for i, pid, tid in
                   con.execute('SELECT id, pid, tid FROM threads'))
    n = 0
    for t, th, stack, flags in con.execute('SELECT time, thread, stack, flags FROM samples'):
        pid, tid = threads[th]
        if stack and origin_filter(t / 1e6, tid, pid, flags):
            n += 1
    con.close()
    return n


def case_filters(name, python):
    pss, db = tmp(name + '-thr.pss'), tmp(name + '-thr.db')
    t, info = start_target(python, TARGET_THREADS, ['0'], name + '-thr')
    try:
        tids = json.loads(info)
        r = tool('pyspy-sample', ['-q', '-r', '200', '-d', '1.5', '-o', pss,
                                  '--pid', str(t.pid)])
    finally:
        t.close()
    if r.rc != 0:
        return ['pyspy-sample: exit %s: %s' % (r.rc, short(r.err))]
    r = tool('pyspy-index', ['-q', pss, '-o', db])
    if r.rc != 0:
        return ['pyspy-index: exit %s: %s' % (r.rc, short(r.err))]
    a, b = str(tids['worker-a']), str(tids['worker-b'])
    pid = str(tids['pid'])
    sets = [
        (['--from', '0.5', '--to', '1.0'], lambda s, tid, p, f: 0.5 <= s < 1.0 and not f & 2),
        (['--from', '0.25'], lambda s, tid, p, f: s >= 0.25 and not f & 2),
        (['--to', '0.7', '--idle'], lambda s, tid, p, f: s < 0.7),
        (['--tid', a], lambda s, tid, p, f: tid == int(a) and not f & 2),
        (['--tid', b, '--idle', '--from', '0.3', '--to', '1.2'],
         lambda s, tid, p, f: tid == int(b) and 0.3 <= s < 1.2),
        (['--only-pid', pid, '--idle'], lambda s, tid, p, f: p == int(pid)),
        (['--gil', '--from', '0.1'], lambda s, tid, p, f: f & 1 and s >= 0.1 and not f & 2),
        (['--from', '5', '--to', '9'], lambda s, tid, p, f: False),
    ]
    p = []
    nonempty = 0
    for args, accept in sets:
        p += same_fold(pss, db, args)
        text, fp = fold(args + [db])
        if fp:
            p += fp
            continue
        want = brute_count(db, accept)
        if fold_total(text) != want:
            p.append('fold %s: %d samples, brute force %d' % (' '.join(args), fold_total(text), want))
        nonempty += want > 0
    # a loaded machine may leave gaps, but not in every window
    if nonempty < len(sets) // 2:
        p.append('only %d of %d filters selected anything' % (nonempty, len(sets)))
    return p


def local_text(ns, fmt):
    d = datetime.datetime.fromtimestamp(ns / 1e9)
    return d.strftime(fmt) + ('.%06d' % d.microsecond)


def case_clock(name, python):
    db = tmp(name + '-thr.db')
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    start = dict(con.execute("SELECT key, value FROM meta"))['wall_start_ns']
    con.close()
    p = []
    # away from a sample time: a 200 Hz capture samples every 5 ms
    a_ns, b_ns = start + 402500000, start + 1102500000
    for fmt in ('%H:%M:%S', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S'):
        ta, pa = fold(['--idle', '--from', local_text(a_ns, fmt), '--to', local_text(b_ns, fmt), db])
        tb, pb = fold(['--idle', '--from', '0.4025', '--to', '1.1025', db])
        p += pa + pb
        if not pa and not pb and (ta != tb or not ta):
            p.append('--from/--to %s: %d samples, seconds: %d'
                     % (fmt, fold_total(ta or ''), fold_total(tb or '')))
    r = tool('pyspy-fold', ['--from', '25:00', db])
    p += check_failure(r, 2, 'pyspy-fold', mention=('25:00', 'the bad time'))
    return p


def case_top_dump(name, python):
    pss, idx = tmp(name + '-thr.pss'), tmp(name + '-thr.db')
    p = []
    a = tool('pyspy-top', ['--summary', pss])
    b = tool('pyspy-top', ['--summary', idx])
    if a.rc or b.rc or a.out != b.out or 'func_a' not in a.out:
        p.append('pyspy-top --summary: stream %s, capture %s: %s | %s'
                 % (a.rc, b.rc, short(a.out + a.err, 150), short(b.out + b.err, 150)))
    for extra in ([], ['--json']):
        a = tool('pyspy-dump', extra + ['--at', '0.8', pss])
        b = tool('pyspy-dump', extra + ['--at', '0.8', idx])
        if a.rc or b.rc or a.out.replace(pss, idx) != b.out:
            p.append('pyspy-dump --at %s: stream %s, capture %s: %s | %s'
                     % (' '.join(extra), a.rc, b.rc, short(a.out + a.err, 150),
                        short(b.out + b.err, 150)))
            continue
        if extra:
            doc = json.loads(b.out)
            names = sorted(t['name'] for t in doc['threads'])
            con = sqlite3.connect('file:%s?mode=ro' % idx, uri=True)
            first = con.execute('SELECT min(time) FROM samples WHERE time >= 800000').fetchone()[0]
            con.close()
            if names != ['MainThread', 'worker-a', 'worker-b'] or \
                    not all(t['frames'] for t in doc['threads']) or \
                    abs(doc['time'] - first / 1e6) > 1e-6:
                p.append('pyspy-dump --at 0.8 --json: threads %s at %s, first sample at %s'
                         % (names, doc['time'], first / 1e6))
        elif 'func_a' not in b.out or 'func_b' not in b.out:
            p.append('pyspy-dump --at: no func_a/func_b: %s' % short(b.out))
    return p


def samples_of(db):
    text, p = fold(['--idle', db])
    return (fold_total(text) if text is not None else -1), p


def case_concurrent(python):
    t, _ = start_target(python, TARGET_HOT, ['0', '0'], 'conc')
    db = tmp('live.db')
    p = []
    s = spawn([B['pyspy-sample'], '-q', '-r', '100', '-o', db, '--pid', str(t.pid)],
              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(2.5)
        r1 = tool('pyspy-fold', [db])
        n1 = fold_total(r1.out) if r1.rc == 0 else -1
        if r1.rc != 0 or 'incomplete' not in r1.err or n1 < 50:
            p.append('mid-capture: exit %s, %d samples: %s' % (r1.rc, n1, short(r1.err)))
        time.sleep(1.5)
        r2 = tool('pyspy-fold', [db])
        n2 = fold_total(r2.out) if r2.rc == 0 else -1
        if r2.rc != 0 or n2 < n1 + 80:
            p.append('1.5 s later: exit %s, %d samples (before: %d)' % (r2.rc, n2, n1))
        s.send_signal(signal.SIGINT)
        rc = s.wait(timeout=10)
        r3 = tool('pyspy-fold', [db])
        n3 = fold_total(r3.out) if r3.rc == 0 else -1
        if rc != 0 or r3.rc != 0 or 'incomplete' in r3.err or n3 < n2:
            p.append('after SIGINT: sampler exit %s, fold exit %s, %d samples: %s'
                     % (rc, r3.rc, n3, short(r3.err)))
    finally:
        common.reap(s)
        t.close()
    return p


def case_kill9(python):
    t, _ = start_target(python, TARGET_HOT, ['0', '0'], 'kill9')
    db = tmp('killed.db')
    p = []
    s = spawn([B['pyspy-sample'], '-q', '-r', '100', '-o', db, '--pid', str(t.pid)],
              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    try:
        time.sleep(2.5)
        s.kill()
        elapsed = time.time() - t0
        s.wait(timeout=10)
        r = tool('pyspy-fold', [db])
        if r.rc != 0 or 'incomplete' not in r.err or fold_total(r.out) < 50:
            p.append('fold of a killed capture: exit %s: %s' % (r.rc, short(r.err)))
        info = tool('pyspy-index', ['--info', db])
        last = [l for l in info.out.splitlines() if l.startswith('samples:')]
        try:
            last_s = float(last[0].split('last at ')[1].split(' ')[0])
        except (IndexError, ValueError):
            return p + ['--info: no last sample time: %s' % short(info.out + info.err)]
        # the sampler started before t0's clock did not: elapsed bounds the capture
        if last_s < elapsed - 1.5:
            p.append('last sample at %.2f s, killed at %.2f s: more than 1.5 s lost'
                     % (last_s, elapsed))
        if 'incomplete' not in info.out:
            p.append('--info does not say incomplete: %s' % short(info.out, 100))
    finally:
        common.reap(s)
        t.close()
    return p


def case_errors(name):
    src = tmp(name + '-thr.db')
    p = []
    foreign = tmp('foreign.db')
    con = sqlite3.connect(foreign)
    con.execute('CREATE TABLE t (x)')
    con.commit()
    con.close()
    newer = tmp('newer.db')
    shutil.copy(src, newer)
    con = sqlite3.connect(newer)
    con.execute('PRAGMA user_version = 2')
    con.commit()
    con.close()
    size = os.path.getsize(src)
    overwritten = tmp('overwritten.db')
    shutil.copy(src, overwritten)
    with open(overwritten, 'r+b') as f:
        for at in range(4096, size, 4096):
            f.seek(at)
            f.write(b'\xa5' * 4096)
    cut = tmp('cut.db')
    shutil.copy(src, cut)
    with open(cut, 'r+b') as f:
        f.truncate(size // 2)
    text = tmp('text.db')
    with open(text, 'w') as f:
        f.write('hello\n')
    for path, word in ((foreign, 'not a pyspy capture'), (newer, 'newer'),
                       (overwritten, 'corrupt'), (cut, 'corrupt'), (text, 'not a pyspy stream')):
        for t in ('pyspy-fold', 'pyspy-index'):
            args = ['--info', path] if t == 'pyspy-index' else [path]
            r = tool(t, args)
            p += ['%s %s: %s' % (t, os.path.basename(path), x)
                  for x in check_failure(r, 1, t, mention=(word, '"%s"' % word))]
    # a truncated stream (the conformance vector), indexed
    trunc = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'format', 'vectors',
                         'truncated.pss')
    r = tool('pyspy-index', [trunc, '-o', tmp('trunc.db')])
    p += ['index of a truncated stream: %s' % x
          for x in check_failure(r, 1, 'pyspy-index', mention=('truncated', '"truncated"'))]
    r = tool('pyspy-fold', ['--idle', tmp('trunc.db')])
    s = tool('pyspy-fold', ['--idle', trunc])
    if r.rc != 0 or 'incomplete' not in r.err or r.out != s.out or fold_total(r.out) < 100:
        p.append('capture of a truncated stream: exit %s, %d samples (stream: %d): %s'
                 % (r.rc, fold_total(r.out), fold_total(s.out), short(r.err)))
    return p


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default='build/bin')
    ap.add_argument('--only', action='append', default=[])
    ap.add_argument('--all', action='store_true', help='every interpreter')
    args = ap.parse_args()
    common.setup_driver()
    t0 = time.time()
    names = ['pyspy-sample', 'pyspy-fold', 'pyspy-index', 'pyspy-svg', 'pyspy-speedscope',
             'pyspy-top', 'pyspy-dump']
    for n in names:
        B[n] = os.path.abspath(os.path.join(args.bin, n))
    if common.missing_binary(list(B.values()), 'e2e-capture'):
        return 1
    WORK = tempfile.mkdtemp(prefix='pyspy-e2e-capture-')
    tally = common.Tally()
    try:
        interpreters, missing = common.select_interpreters(ap, args.only)
        if not args.all:
            interpreters = [i for i in interpreters if i[0] in SUBSET]
            missing = [m for m in missing if m in SUBSET]
        for name in missing:
            common.not_found(name)
            tally.skipped += len(CASES)
        for name, python in interpreters:
            for case in CASES:
                fn = globals()['case_' + case.replace('-', '_')]
                try:
                    problems = fn(name, python)
                except (TargetError, subprocess.TimeoutExpired, OSError,
                        sqlite3.Error, ValueError) as e:
                    problems = ['%s: %s' % (type(e).__name__, e)]
                tally('capture %s %s' % (name, case), problems)
        if interpreters:
            name, python = interpreters[-1]
            for label, fn, arg in (('concurrent', case_concurrent, python),
                                   ('kill9', case_kill9, python),
                                   ('errors', case_errors, name)):
                try:
                    problems = fn(arg)
                except (TargetError, subprocess.TimeoutExpired, OSError,
                        sqlite3.Error, ValueError) as e:
                    problems = ['%s: %s' % (type(e).__name__, e)]
                tally('capture %s %s' % (name, label), problems)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return tally.finish('e2e-capture', t0)


if __name__ == '__main__':
    sys.exit(main())
