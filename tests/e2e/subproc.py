#!/usr/bin/env python3
"""End-to-end test of --subprocesses (pyspy-sample, pyspy-fold, pyspy-svg,
pyspy-speedscope, pyspy-top, pyspy-dump) against process trees of every
CPython found.

Per interpreter:
  pool      pyspy-sample -s -- python target_subproc.py pool: a
            multiprocessing.Pool(2) whose workers spin in hot_a and hot_b
            while the parent spins in hot_parent; each function appears
            under its own pid (roots "process PID: ..."), the parent's
            under the target's; fold roots by process without --pids,
            svg has the roots, speedscope names carry the pids
  chain     pyspy-sample -s -- python target_subproc.py chain: a child
            and a grandchild started late by subprocess (caught, each
            under its own pid and command line), a `sleep` child (ignored
            without a word: stderr is the summary line only), children
            exiting before the target (no errors counted)
  tree-*    a Pool tree that outlives the tools: pyspy-sample -s --pid
            (to --duration, and to a Ctrl-C: a complete stream),
            pyspy-fold --subprocesses --pid (live), pyspy-top -s --pid
            (plain tables), pyspy-dump -s --pid (text and --json); after
            each, no thread of the tree is left stopped

Standard library only; meant for Debian's python3.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ beside common.py
import common  # noqa: E402
from common import run_tool, short  # noqa: E402

TARGET = os.path.join(HERE, 'target_subproc.py')
COLS = ['pool', 'chain', 'tree-sample', 'tree-sigint', 'tree-fold',
        'tree-top', 'tree-dump', 'tree-json']
READY_TIMEOUT = 20.0
MIN_HOT = 10          # samples of each hot function, at least
BIN = {}
WORK = None


def tmp(name):
    return os.path.join(WORK, name)


def tool(name):
    return BIN[name]


# ---------------------------------------------------------------------------
# Reading the outputs

ROOT_RE = re.compile(r'^process (\d+):((?: [^;]*)?)$')


def fold_by_pid(text):
    """{pid: (command, {function: samples})} from folded lines rooted by
    process; ValueError when a line is not. A pid may have two commands: a
    child caught between fork and exec is its parent's copy for a moment;
    the command kept is the one its hot functions ran under."""
    out, hot_by_cmd = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(' ', 1)
        frames = stack.split(';')
        m = ROOT_RE.match(frames[0])
        if not m:
            raise ValueError('no process root: %s' % short(line, 120))
        pid, cmd = int(m.group(1)), m.group(2).strip()
        _, funcs = out.setdefault(pid, (cmd, {}))
        names = set(fr.split(' (')[0] for fr in frames[1:])
        for f in names:
            funcs[f] = funcs.get(f, 0) + int(count)
        if any(f.startswith('hot') for f in names):
            per = hot_by_cmd.setdefault(pid, {})
            per[cmd] = per.get(cmd, 0) + int(count)
    for pid, per in hot_by_cmd.items():
        out[pid] = (max(per, key=per.get), out[pid][1])
    return out


def pids_with(by_pid, func):
    return sorted(p for p, (_, funcs) in by_pid.items()
                  if funcs.get(func, 0) >= MIN_HOT)


def describe(by_pid):
    return '; '.join('%d: %s' % (p, ', '.join(
        '%s=%d' % kv for kv in sorted(f.items()) if kv[0].startswith('hot')))
        for p, (_, f) in sorted(by_pid.items()))


def summary_problems(r, tool_name, error_share=0.0):
    """The run ended well and said nothing but its summary line; errors at
    most `error_share` of the samples (three CPU-bound processes paused one
    after another on two cores: on a loaded machine a pause can time out,
    which is counted, rightly, as an error)."""
    if r.timed_out:
        return ['timed out']
    if r.rc != 0:
        return ['exit %s: %s' % (r.rc, short(r.err))]
    lines = [l for l in r.err.splitlines() if l.strip()]
    if len(lines) != 1 or not lines[0].startswith(tool_name + ': '):
        return ['stderr is not one summary line: %s' % short(r.err)]
    m = re.search(r' (\d+) errors', lines[0])
    n = re.search(r': (\d+) samples', lines[0])
    if not m or not n or int(m.group(1)) > error_share * int(n.group(1)):
        return ['errors counted: %s' % lines[0]]
    return []


def fold_file(stream, *args):
    r = run_tool(tool('pyspy-fold'), list(args) + [stream])
    if r.rc != 0:
        raise ValueError('pyspy-fold exit %s: %s' % (r.rc, short(r.err)))
    return r.out


def header_pid(stream):
    """The target's pid, from the speedscope name "... (pid N)"."""
    r = run_tool(tool('pyspy-speedscope'), [stream])
    doc = json.loads(r.out)
    m = re.search(r'\(pid (\d+)\)$', doc.get('name', ''))
    return int(m.group(1)) if m else None, doc


# ---------------------------------------------------------------------------
# Launch mode

def case_pool(python):
    stream = tmp('pool.pss')
    r = run_tool(tool('pyspy-sample'), ['-s', '-o', stream, '--', python,
                                        TARGET, 'pool', '1'])
    p = summary_problems(r, 'pyspy-sample', 0.01)
    if p:
        return p
    try:
        by_pid = fold_by_pid(fold_file(stream, '--pids'))
        auto = fold_file(stream)
        root, doc = header_pid(stream)
    except ValueError as e:
        return [str(e)]
    a, b, par = (pids_with(by_pid, f) for f in ('hot_a', 'hot_b',
                                                 'hot_parent'))
    if len(a) != 1 or len(b) != 1 or par != [root]:
        p.append('hot_a under %s, hot_b under %s, hot_parent under %s '
                 '(target %s): %s' % (a, b, par, root, describe(by_pid)))
    elif len(set(a + b + par)) != 3:
        p.append('hot functions share a process: %s' % describe(by_pid))
    if 'process ' not in auto.split('\n')[0]:
        p.append('fold without --pids does not root by process: %s'
                 % short(auto, 150))
    svg = run_tool(tool('pyspy-svg'), [stream])
    if svg.rc != 0 or 'process %s:' % root not in svg.out:
        p.append('svg has no root "process %s:" (exit %s)' % (root, svg.rc))
    names = [pr.get('name', '') for pr in doc.get('profiles', [])]
    pids = set(re.findall(r'pid (\d+),', ' '.join(names)))
    if len(pids) < 3:
        p.append('speedscope profile names carry %d pids: %s'
                 % (len(pids), short(' | '.join(names), 200)))
    return p


def case_chain(python):
    stream = tmp('chain.pss')
    r = run_tool(tool('pyspy-sample'), ['-s', '-o', stream, '--', python,
                                        TARGET, 'chain'])
    p = summary_problems(r, 'pyspy-sample')
    if p:
        return p
    try:
        by_pid = fold_by_pid(fold_file(stream))
    except ValueError as e:
        return [str(e)]
    want = (('hot_after_children', ' chain'), ('hot_child', ' child'),
            ('hot_grandchild', ' grandchild'))
    seen = []
    for func, arg in want:
        pids = pids_with(by_pid, func)
        if len(pids) != 1 or not by_pid[pids[0]][0].endswith(arg):
            p.append('%s not under one process "...%s": %s'
                     % (func, arg, describe(by_pid)))
        seen += pids
    if not p and len(set(seen)) != 3:
        p.append('the three hot functions share a process: %s'
                 % describe(by_pid))
    sleepers = [pid for pid, (cmd, _) in by_pid.items() if 'sleep' in cmd]
    if sleepers:
        p.append('the sleep child was sampled: %s' % sleepers)
    return p


# ---------------------------------------------------------------------------
# A tree that outlives the tools (--pid)

def tree_pids(root):
    """The root and its live descendants, by a /proc scan."""
    parent = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                fields = common.stat_fields('/proc/%s/stat' % d)
            except OSError:
                continue
            if fields[0] not in ('Z', 'X'):
                parent[int(d)] = int(fields[1])
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += [c for c, pp in parent.items() if pp == pid]
    return out


def stopped_in_tree(root, seconds=0.1):
    """Threads of the tree in a stopped state at any point during
    `seconds` (a tool that left one stopped)."""
    deadline = time.time() + seconds
    while True:
        bad = []
        for pid in tree_pids(root):
            try:
                tids = os.listdir('/proc/%d/task' % pid)
            except OSError:
                continue
            for tid in tids:
                try:
                    st = common.stat_fields('/proc/%d/task/%s/stat'
                                            % (pid, tid))[0]
                except OSError:
                    continue
                if st in ('T', 't'):
                    bad.append('%d/%s(%s)' % (pid, tid, st))
        if bad:
            return ['left stopped: %s' % ', '.join(bad)]
        if time.time() >= deadline:
            return []
        time.sleep(0.05)


class Tree(object):
    count = 0

    def __init__(self, python):
        Tree.count += 1
        self.ready = tmp('tree%d.ready' % Tree.count)
        self.target = common.Target([python, TARGET, 'pool', '25',
                                     self.ready], WORK, tmp('tree.out'),
                                    tmp('tree.err'))
        self.target.wait_ready(self.ready, (
            'tree exited with %s before it was ready: %s',
            'tree not ready after %.0f s: %s'), READY_TIMEOUT, 0.02)
        with open(self.ready) as f:
            words = f.read().split()
        self.root = int(words[0])
        self.a = int(words[1][2:]) if words[1].startswith('a.') else None
        self.b = int(words[2][2:]) if words[2].startswith('b.') else None
        self.want = {'hot_parent': self.root, 'hot_a': self.a,
                     'hot_b': self.b}

    def check(self, by_pid):
        p = []
        for func, pid in sorted(self.want.items()):
            if pids_with(by_pid, func) != [pid]:
                p.append('%s not under process %s alone: %s'
                         % (func, pid, describe(by_pid)))
        return p

    def close(self):
        for pid in tree_pids(self.root)[::-1]:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        self.target.close()


def case_tree_sample(tree):
    stream = tmp('tree.pss')
    r = run_tool(tool('pyspy-sample'), ['-s', '--pid', str(tree.root),
                                        '-d', '1.0', '-o', stream])
    p = summary_problems(r, 'pyspy-sample')
    if not p:
        try:
            p = tree.check(fold_by_pid(fold_file(stream, '--pids')))
        except ValueError as e:
            p = [str(e)]
    return p + stopped_in_tree(tree.root)


def case_tree_sigint(tree):
    """Ctrl-C while the processes are paused one after another: a
    complete stream, every process in it, none left stopped."""
    stream = tmp('sigint.pss')
    p = common.spawn([tool('pyspy-sample'), '-s', '--pid', str(tree.root),
                      '-o', stream], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.6)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        common.reap(p)
        return ['pyspy-sample did not stop on SIGINT'] + \
            stopped_in_tree(tree.root)
    common.reap(p)
    err = err.decode('utf-8', 'replace')
    probs = []
    if p.returncode != 0:
        probs.append('exit %s: %s' % (p.returncode, short(err)))
    else:
        r = run_tool(tool('pyspy-fold'), ['--pids', stream])
        if r.rc != 0 or r.err.strip():
            probs.append('stream not complete: exit %s: %s'
                         % (r.rc, short(r.err)))
        else:
            try:
                by_pid = fold_by_pid(r.out)
            except ValueError as e:
                by_pid = {}
                probs.append(str(e))
            if sorted(by_pid) != sorted(tree.want.values()):
                probs.append('processes %s, expected %s'
                             % (sorted(by_pid), sorted(tree.want.values())))
    return probs + stopped_in_tree(tree.root)


def case_tree_fold(tree):
    r = run_tool(tool('pyspy-fold'), ['--subprocesses', '--pid',
                                      str(tree.root), '-d', '0.8'])
    if r.rc != 0 or r.timed_out:
        p = ['exit %s: %s' % (r.rc, short(r.err))]
    else:
        try:   # no --pids: rooted by process because there are several
            p = tree.check(fold_by_pid(r.out))
        except ValueError as e:
            p = [str(e)]
    return p + stopped_in_tree(tree.root)


def case_tree_top(tree):
    r = run_tool(tool('pyspy-top'), ['-s', '--pid', str(tree.root),
                                     '-d', '1.0', '-n', '0'])
    p = []
    if r.rc != 0 or r.timed_out:
        p.append('exit %s: %s' % (r.rc, short(r.err)))
    else:
        last = r.out.strip().split('\n== ')[-1]
        if 'processes 3 ==' not in last.split('\n')[0]:
            p.append('header does not count 3 processes: %s'
                     % short(last.split('\n')[0], 150))
        for func in sorted(tree.want):
            if not re.search(r'\s%s \(' % func, last):
                p.append('%s missing from the table: %s'
                         % (func, short(last, 300)))
    return p + stopped_in_tree(tree.root)


def dump_sections(text):
    """{pid: section text} of pyspy-dump -s output."""
    out = {}
    for part in re.split(r'(?m)^(?=Process \d+: )', text):
        m = re.match(r'Process (\d+): ', part)
        if m:
            out[int(m.group(1))] = part
    return out


def case_tree_dump(tree):
    r = run_tool(tool('pyspy-dump'), ['-s', '--pid', str(tree.root)])
    p = []
    if r.rc != 0 or r.timed_out or r.err.strip():
        p.append('exit %s, stderr: %s' % (r.rc, short(r.err)))
    else:
        sec = dump_sections(r.out)
        if sorted(sec) != sorted(tree.want.values()):
            p.append('sections for %s, expected %s'
                     % (sorted(sec), sorted(tree.want.values())))
        for func, pid in sorted(tree.want.items()):
            s = sec.get(pid, '')
            if '\nPython v' not in s or ('    %s (' % func) not in s:
                p.append('process %s: no version line or no %s: %s'
                         % (pid, func, short(s, 200)))
    return p + stopped_in_tree(tree.root)


def case_tree_json(tree):
    r = run_tool(tool('pyspy-dump'), ['-s', '-j', '--pid', str(tree.root)])
    if r.rc != 0 or r.timed_out:
        return ['exit %s: %s' % (r.rc, short(r.err))]
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        return ['not JSON: %s' % e]
    if not isinstance(doc, list):
        return ['not a list of processes: %s' % short(r.out, 100)]
    p = []
    got = dict((d.get('pid'), d) for d in doc)
    for func, pid in sorted(tree.want.items()):
        d = got.get(pid)
        funcs = [f.get('function') for t in (d or {}).get('threads', [])
                 for f in t.get('frames', [])]
        if not d or func not in funcs or not d['python'].get('version'):
            p.append('process %s: missing, no version or no %s' % (pid, func))
    if len(doc) != 3:
        p.append('%d processes, expected 3' % len(doc))
    return p + stopped_in_tree(tree.root)


TREE_CASES = (('tree-sample', case_tree_sample),
              ('tree-sigint', case_tree_sigint), ('tree-fold', case_tree_fold),
              ('tree-top', case_tree_top), ('tree-dump', case_tree_dump),
              ('tree-json', case_tree_json))


def test_interpreter(name, python, tally, row):
    for col, fn in (('pool', case_pool), ('chain', case_chain)):
        row[col] = tally('%s %s' % (name, col), fn(python))
    try:
        tree = Tree(python)
    except common.TargetError as e:
        for col, _ in TREE_CASES:
            row[col] = tally('%s %s' % (name, col), [str(e)])
        return
    try:
        for col, fn in TREE_CASES:
            row[col] = tally('%s %s' % (name, col), fn(tree))
    finally:
        tree.close()


def main():
    global WORK
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default='build/bin',
                    help='directory holding the pyspy tools')
    ap.add_argument('--only', action='append', default=[],
                    help='run only this interpreter (2.7, 3.12, debian-3.11)')
    args = ap.parse_args()
    common.setup_driver()
    for t in ('pyspy-sample', 'pyspy-fold', 'pyspy-svg', 'pyspy-speedscope',
              'pyspy-top', 'pyspy-dump'):
        BIN[t] = os.path.join(os.path.abspath(args.bin), t)
    if common.missing_binary(BIN.values(), 'subproc'):
        return 1
    interpreters, missing = common.select_interpreters(ap, args.only)
    WORK = tempfile.mkdtemp(prefix='pyspy-subproc-')
    t0 = time.time()
    tally = common.Tally()
    matrix = {}
    try:
        for name in missing:
            common.not_found(name)
            tally('%s (all cases)' % name, None)
        for name, python in interpreters:
            matrix[name] = {}
            test_interpreter(name, python, tally, matrix[name])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    if matrix:
        common.print_matrix(matrix, COLS)
    return tally.finish('subproc', t0)


if __name__ == '__main__':
    sys.exit(main())
