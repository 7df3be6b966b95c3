#!/usr/bin/env python3
"""End-to-end test of pyspy-dump against live CPython processes.

    python3 tests/e2e/run.py --bin build/bin [--only 3.12] [--mode MODE]
                             [--keep] [--self-test]

For every interpreter found (pyenv 2.7 and 3.6-3.13, Debian's python3.11) this
starts tests/e2e/target_dump.py (again only if a mode left it dead or with a
thread stopped), which parks a set of threads at known places and writes what
`sys._current_frames()` sees (frames, names, ids, expected locals) to a JSON
file.  Then, for every mode (default i.e. blocking, --nonblocking,
--force-scan), it runs `pyspy-dump --pid PID --json --locals [MODE]` and
compares its view with the target's own, thread by thread.  Per
interpreter it also checks the text output; once, it checks the error paths
(a process that is not Python, a pid that does not exist, a bad option).

--self-test runs only the targets and checks their reports (no pyspy-dump
needed): useful after editing target_dump.py.  --keep leaves each target
running and prints its pid.  Standard library only; meant for Debian's python3.
The process, discovery, tool and reporting helpers are in common.py.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ beside common.py
import common  # noqa: E402
from common import (TOOL_TIMEOUT, TargetError, check_failure,  # noqa: E402
                    proc_cmdline, reap, run_tool, short, spawn)

TARGET = os.path.join(HERE, 'target_dump.py')

MODES = [('default', []), ('--nonblocking', ['--nonblocking']),
         ('--force-scan', ['--force-scan'])]
BLOCKING_MODES = ('default', '--force-scan')
COLUMNS = [m for m, _ in MODES] + ['text']
MODE_ALIASES = {'default': 'default', 'blocking': 'default',
                'nonblocking': '--nonblocking', '--nonblocking': '--nonblocking',
                'force-scan': '--force-scan', '--force-scan': '--force-scan',
                'text': 'text'}

TARGET_READY_TIMEOUT = 20.0
ATTEMPTS = 3

# Function names that the text output must mention (per Python version).
TEXT_FUNCTIONS = ['recurse', 'nap', 'gen_body', '<lambda>', 'with_locals',
                  'raw_body', 'spin', 'main_wait']


# ---------------------------------------------------------------------------
# Targets

class Target(common.Target):
    """target_dump.py in a directory of its own; its report is `expected`."""

    def __init__(self, python, keep=False):
        self.python = python
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix='pyspy-e2e-')
        self.outfile = os.path.join(self.dir, 'out.json')
        common.Target.__init__(
            self, [python, TARGET, self.outfile], self.dir,
            os.path.join(self.dir, 'stdout'), os.path.join(self.dir, 'stderr'),
            keep=keep,
            env={'PYSPY_E2E_TARGET_TIMEOUT': '3600' if keep else '300'})
        self.expected = None

    def wait_ready(self):
        common.Target.wait_ready(
            self, self.outfile,
            ('target exited with %s before reporting: %s',
             'no report from the target after %.0f s: %s'),
            TARGET_READY_TIMEOUT, 0.02, clip=False)
        with open(self.outfile, encoding='utf-8') as f:
            self.expected = json.load(f)
        # The reporter thread is gone once the task count matches.
        want = len(self.expected['threads'])
        deadline = time.time() + 5
        while True:
            n = len(self.tasks())
            if n == want:
                break
            if time.time() > deadline:
                raise TargetError('target has %d threads, its report %d'
                                  % (n, want))
            time.sleep(0.01)
        return self.expected

    def close(self):
        if self.keep:
            print('KEPT target pid %d (%s), report %s'
                  % (self.pid, self.python, self.outfile))
            return
        reap(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Comparison

def proc_libpython(pid):
    try:
        with open('/proc/%d/maps' % pid) as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if os.path.basename(path).startswith('libpython'):
                        return path
    except OSError:
        pass
    return None


def same_path(a, b):
    if a is None or b is None:
        return a is b
    return os.path.realpath(a) == os.path.realpath(b)


def fmt_frame(f):
    if not isinstance(f, dict):
        return repr(f)
    q = f.get('qualname')
    return '%s%s %s:%s' % (f.get('function'), '' if q is None else ' [%s]' % q,
                           f.get('file'), f.get('line'))


def compare_frames(exp, got, spin_lines):
    """Problems (strings) between expected and dumped frame lists."""
    problems = []
    if not isinstance(got, list):
        return ['frames is %r, not a list' % type(got).__name__]
    if len(got) != len(exp):
        problems.append('%d frames, expected %d' % (len(got), len(exp)))
    shown = 0
    for i in range(max(len(exp), len(got))):
        e = exp[i] if i < len(exp) else None
        g = got[i] if i < len(got) else None
        if e is None or g is None or not isinstance(g, dict):
            bad = True
        else:
            bad = False
            for key in ('function', 'qualname', 'file'):
                if g.get(key) != e[key]:
                    bad = True
            if spin_lines is not None and i == 0:
                if g.get('line') not in spin_lines:
                    bad = True
            elif g.get('line') != e['line']:
                bad = True
        if bad:
            if shown < 3:
                want = fmt_frame(e) if e else '(none)'
                if e and spin_lines is not None and i == 0:
                    want = '%s lines %s-%s' % (want.rsplit(':', 1)[0],
                                               spin_lines[0], spin_lines[-1])
                problems.append('frame %d: got %s, expected %s'
                                % (i, fmt_frame(g) if g else '(none)', want))
            shown += 1
    if shown > 3:
        problems.append('... %d differing frames in all' % shown)
    return problems


def compare_locals(exp, got):
    if not isinstance(got, list):
        return ['locals is %r, not a list' % type(got).__name__]
    problems = []
    try:
        got_names = [v.get('name') for v in got]
    except AttributeError:
        return ['locals entries are not objects: %s' % short(repr(got), 120)]
    exp_names = [v['name'] for v in exp]
    missing = [n for n in exp_names if n not in got_names]
    extra = [n for n in got_names if n not in exp_names]
    if missing:
        problems.append('locals missing: %s' % ', '.join(missing))
    if extra:
        problems.append('locals not expected: %s' % ', '.join(map(str, extra)))
    common_exp = [n for n in exp_names if n in got_names]
    common_got = [n for n in got_names if n in exp_names]
    if common_exp != common_got:
        problems.append('locals order: got %s' % ', '.join(common_got))
    by_name = dict((v.get('name'), v) for v in got)
    for e in exp:
        g = by_name.get(e['name'])
        if g is None:
            continue
        if g.get('arg') is not e['arg']:
            problems.append('local %s: arg %r, expected %r'
                            % (e['name'], g.get('arg'), e['arg']))
        if g.get('repr') != e['repr']:
            problems.append('local %s: repr %s, expected %s'
                            % (e['name'], short(json.dumps(g.get('repr')), 100),
                               short(json.dumps(e['repr']), 100)))
    return problems


def compare_dump(exp, dump, target, interp, mode):
    problems = []
    pid = target.pid
    if not isinstance(dump, dict):
        return ['output is not a JSON object']
    if dump.get('pid') != pid:
        problems.append('pid %r, expected %d' % (dump.get('pid'), pid))
    py = dump.get('python')
    if not isinstance(py, dict):
        problems.append('no "python" object')
        py = {}
    version = py.get('version')
    if not (isinstance(version, str) and
            version.startswith(exp['python_version'])):
        problems.append('python.version %r, expected %s'
                        % (version, exp['python_version']))
    exe = os.readlink('/proc/%d/exe' % pid)
    if not isinstance(py.get('executable'), str) or \
            not same_path(py['executable'], exe):
        problems.append('python.executable %r, expected %s'
                        % (py.get('executable'), exe))
    lib = proc_libpython(pid)
    if 'libpython' not in py or not same_path(py.get('libpython'), lib):
        problems.append('python.libpython %r, expected %r'
                        % (py.get('libpython', '(absent)'), lib))
    # how the interpreter was found: the mode decides it, and 3.13+ must
    # have used the target's own _Py_DebugOffsets
    want_found = 'scan' if mode == '--force-scan' else 'symbols'
    if py.get('found_by') != want_found:
        problems.append('python.found_by %r, expected %r'
                        % (py.get('found_by'), want_found))
    want_dbg = tuple(int(x) for x in exp['python_version'].split('.')[:2]) >= (3, 13)
    if py.get('debug_offsets') is not want_dbg:
        problems.append('python.debug_offsets %r, expected %r'
                        % (py.get('debug_offsets'), want_dbg))
    cmd = proc_cmdline(pid)
    if dump.get('command') != cmd:
        problems.append('command %r, expected %r' % (dump.get('command'), cmd))
    if dump.get('errors') != 0:
        problems.append('errors %r, expected 0' % (dump.get('errors'),))

    threads = dump.get('threads')
    if not isinstance(threads, list):
        return problems + ['no "threads" list']
    unmatched = [t for t in threads if isinstance(t, dict)]
    if len(unmatched) != len(threads):
        problems.append('threads entries that are not objects')
    spinner = None
    for et in exp['threads']:
        label = '%s thread %s' % (et['role'], et['native_id'])
        match = None
        for t in unmatched:
            if t.get('tid') == et['native_id'] or \
                    t.get('thread_id') == et['ident']:
                match = t
                break
        if match is None:
            problems.append('%s (ident %d, name %r) not in the dump'
                            % (label, et['ident'], et['name']))
            continue
        unmatched.remove(match)
        if et['spinning']:
            spinner = match
        sub = []
        if match.get('tid') != et['native_id']:
            sub.append('tid %r, expected %d' % (match.get('tid'),
                                                et['native_id']))
        if match.get('thread_id') != et['ident']:
            sub.append('thread_id %r, expected %d' % (match.get('thread_id'),
                                                     et['ident']))
        if match.get('name', '(absent)') != et['name']:
            sub.append('name %r, expected %r'
                       % (match.get('name', '(absent)'), et['name']))
        want_idle = not et['spinning']
        if match.get('idle') is not want_idle:
            sub.append('idle %r, expected %r' % (match.get('idle'), want_idle))
        if not isinstance(match.get('gil'), bool):
            sub.append('gil %r is not a boolean' % (match.get('gil'),))
        got_frames = match.get('frames')
        sub += compare_frames(et['frames'], got_frames,
                              et.get('spin_lines') if et['spinning'] else None)
        if isinstance(got_frames, list):
            no_locals = [i for i, f in enumerate(got_frames)
                         if not isinstance(f, dict) or
                         not isinstance(f.get('locals'), list)]
            if no_locals:
                sub.append('%d frames without a "locals" list (first: %d)'
                           % (len(no_locals), no_locals[0]))
            for i, ef in enumerate(et['frames']):
                if 'locals' in ef and i < len(got_frames) and \
                        isinstance(got_frames[i], dict) and \
                        got_frames[i].get('function') == ef['function'] and \
                        'locals' in got_frames[i]:
                    for p in compare_locals(ef['locals'],
                                            got_frames[i]['locals']):
                        sub.append('%s: %s' % (ef['function'], p))
        problems += ['%s: %s' % (label, s) for s in sub]
    for t in unmatched:
        problems.append('unexpected thread in the dump: tid %r thread_id %r '
                        'name %r' % (t.get('tid'), t.get('thread_id'),
                                     t.get('name')))

    holders = [t for t in threads if isinstance(t, dict) and t.get('gil')]
    old = interp in ('2.7', '3.6')
    if len(holders) > 1:
        problems.append('%d threads hold the GIL (tids %s)'
                        % (len(holders), [t.get('tid') for t in holders]))
    elif len(holders) == 1 and holders[0] is not spinner:
        problems.append('GIL held by tid %r, expected the spinner'
                        % holders[0].get('tid'))
    elif not holders and mode in BLOCKING_MODES and not old:
        problems.append('no thread holds the GIL, expected the spinner')
    return problems


def check_dump(binary, target, interp, mode, flags):
    """Run the JSON dump up to ATTEMPTS times; return [] or the problems of
    the last attempt."""
    exp = target.expected
    problems = []
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(0.1)
        r = run_tool(binary, ['--pid', str(target.pid), '--json', '--locals']
                     + flags)
        problems = []
        if r.timed_out:
            return ['pyspy-dump did not finish in %.0f s' % TOOL_TIMEOUT]
        if r.rc != 0:
            problems.append('exit %s: %s' % (r.rc, short(r.err)))
        else:
            try:
                dump = json.loads(r.out)
            except ValueError as e:
                dump = None
                problems.append('invalid JSON (%s): %s' % (e, short(r.out, 120)))
            if dump is not None:
                try:
                    problems += compare_dump(exp, dump, target, interp, mode)
                except Exception as e:  # malformed output
                    problems.append('malformed output: %s: %s'
                                    % (type(e).__name__, e))
        problems += target_health(target)
        if not problems or target.proc.poll() is not None:
            break
    return problems


def target_health(target):
    if target.proc.poll() is not None:
        return ['the target died (exit %s): %s'
                % (target.proc.returncode, short(target.stderr()))]
    time.sleep(0.02)
    stopped = target.stopped_tasks()
    if stopped:
        return ['target threads left stopped after pyspy-dump exited: %s'
                % ', '.join(tid for tid, _ in stopped)]
    return []


def check_text(binary, target):
    exp = target.expected
    r = run_tool(binary, ['--pid', str(target.pid)])
    if r.timed_out:
        return ['pyspy-dump did not finish in %.0f s' % TOOL_TIMEOUT]
    if r.rc != 0:
        return ['exit %s: %s' % (r.rc, short(r.err))]
    problems = []
    for t in exp['threads']:
        if not re.search(r'\bThread %d\b' % t['native_id'], r.out):
            problems.append('no "Thread %d" line (%s)'
                            % (t['native_id'], t['role']))
    names = list(TEXT_FUNCTIONS)
    version = tuple(int(x) for x in exp['python_version'].split('.'))
    if version >= (3, 5):
        names.append('coro_body')
    names.append(u'caf\u00e9_\u03bb' if version >= (3,) else 'nonascii_path')
    for n in names:
        if n not in r.out:
            problems.append('function %s not in the text output' % n)
    return problems + target_health(target)


# ---------------------------------------------------------------------------
# Error paths (interpreter independent, run once)

def check_errors(binary):
    results = []

    # A process that is not Python.
    sleeper = spawn(['sleep', '100'], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.05)
        r = run_tool(binary, ['--pid', str(sleeper.pid)])
        results.append(('errors non-python-process',
                        check_failure(r, 1, 'pyspy-dump',
                                      mention=('python', 'python'))))
    finally:
        reap(sleeper)

    # A pid that does not exist.
    pid = common.unused_pid()
    r = run_tool(binary, ['--pid', str(pid)])
    results.append(('errors no-such-pid',
                    check_failure(r, 1, 'pyspy-dump',
                                  mention=(str(pid), 'pid %d' % pid))))

    # A bad option.
    r = run_tool(binary, ['--bogus'])
    results.append(('errors bad-option',
                    check_failure(r, 2, 'pyspy-dump', 'first')))
    return results


# ---------------------------------------------------------------------------
# Self-test of the target (no pyspy-dump involved)

SELF_TEST_LOCALS = [
    ('a', True, '1'), ('b', True, "'two'"), ('args', True, 'tuple(2) (3, 4.5)'),
    ('kw', True, "dict(1) {'key': 'v'}"),
    ('v_none', False, 'None'), ('v_true', False, 'True'),
    ('v_false', False, 'False'), ('v_zero', False, '0'),
    ('v_neg', False, '-5'), ('v_big', False, str(2 ** 100)),
    ('v_negbig', False, str(-(2 ** 100))),
    ('v_200_digits', False, '9' * 200), ('v_201_digits', False, '<int>'),
    ('v_huge', False, '<int>'), ('v_float', False, '0.1'),
    ('v_float_exp', False, '1e+16'), ('v_negzero', False, '-0.0'),
    ('v_inf', False, 'inf'), ('v_nan', False, 'nan'),
    ('v_third', False, '0.3333333333333333'), ('v_tiny', False, '5e-324'),
    ('v_2_64', False, '18446744073709551616'),
    ('v_nul', False, r"'nul\x00here'"), ('v_unul', False, r"'u\x00'"),
    ('v_str', False, "'h\u00e9llo'"),
    ('v_unicode', False, "'h\u00e9llo \u03bb'"), ('v_quote', False, '"it\'s"'),
    ('v_ctrl', False, r"'a\nb\t\x01\\'"),
    ('v_long_str', False, repr(('abcdefghij' * 10)[:64]) + '...'),
    ('v_bytes', False, None),  # version dependent, see below
    ('v_long_bytes', False, None),
    ('v_list', False, "list(3) [1, 'a', 2.5]"),
    ('v_list10', False, 'list(10) [0, 1, 2, 3, ...]'),
    ('v_nested', False, 'list(5) [None, list(2), tuple(1), dict(1), ...]'),
    ('v_empty_list', False, 'list(0) []'), ('v_tuple1', False, 'tuple(1) (1,)'),
    ('v_empty_tuple', False, 'tuple(0) ()'),
    ('v_dict', False, re.compile(r"dict\(6\) \{('[a-f]': [1-6], ){4}\.\.\.\}$")),
    ('v_empty_dict', False, 'dict(0) {}'), ('v_set', False, 'set(1) {3}'),
    ('v_set5', False, re.compile(r"set\(5\) \{('[p-t]', ){4}\.\.\.\}$")),
    ('v_empty_set', False, 'set(0) {}'),
    ('v_frozenset', False, 'frozenset(0) {}'),
    ('v_foo', False, re.compile(r'<Foo at 0x[1-9a-f][0-9a-f]*>$')),
]

ROLE_BLOCKERS = {  # role -> (innermost user function, marker at its line)
    'recurse': 'recurse', 'sleeper': 'nap', 'generator': 'gen_body',
    'coroutine': 'coro_body', 'lambda': '<lambda>', 'locals': 'with_locals',
    'raw': 'raw_body', 'main': 'main_wait',
}
ROLE_NAMES = {'recurse': 'recurse', 'sleeper': 'sleeper',
              'generator': 'generator', 'coroutine': 'coroutine',
              'lambda': 'lambda', 'nonascii': 'nonascii',
              'locals': 'with-locals', 'raw': None, 'main': 'MainThread',
              'spin': 'spinner'}


def source_line(path, line):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read().splitlines()[line - 1]
    except (OSError, IndexError, UnicodeError):
        return None


def self_test(target):
    exp = target.expected
    problems = []
    version = tuple(int(x) for x in exp['python_version'].split('.'))
    py3 = version >= (3,)
    roles = dict((t['role'], t) for t in exp['threads'])
    want = set(ROLE_NAMES)
    if version < (3, 5):
        want.discard('coroutine')
    if set(roles) != want or len(roles) != len(exp['threads']):
        problems.append('roles %s, expected %s'
                        % (sorted(map(str, roles)), sorted(want)))
    if exp['pid'] != target.pid:
        problems.append('pid %r' % exp['pid'])
    tids = [t['native_id'] for t in exp['threads']]
    if len(set(tids)) != len(tids) or \
            sorted(map(str, tids)) != sorted(target.tasks()):
        problems.append('native ids %s, /proc tasks %s'
                        % (sorted(tids), sorted(target.tasks())))
    for role, t in roles.items():
        if role in ROLE_NAMES and t['name'] != ROLE_NAMES[role]:
            problems.append('%s: name %r' % (role, t['name']))
        for f in t['frames']:
            if (f['qualname'] is None) != (version < (3, 11)):
                problems.append('%s: qualname %r' % (role, f['qualname']))
                break
        fn = ROLE_BLOCKERS.get(role)
        if role == 'nonascii':
            fn = u'caf\u00e9_\u03bb' if py3 else 'nonascii_path'
        if fn:
            user = [f for f in t['frames'] if f['function'] == fn]
            if not user:
                problems.append('%s: no %s frame' % (role, fn))
            else:
                src = source_line(user[0]['file'], user[0]['line'])
                if role == 'lambda':
                    ok = src and 'lambda_blocker = lambda' in src
                else:
                    ok = src and ('# block: %s' % role) in src
                if not ok:
                    problems.append('%s: %s line %d is %r'
                                    % (role, fn, user[0]['line'], src))
    if 'recurse' in roles:
        n = sum(1 for f in roles['recurse']['frames']
                if f['function'] == 'recurse')
        if n < 500:
            problems.append('only %d recurse frames' % n)
    if 'main' in roles:
        if roles['main']['native_id'] != target.pid:
            problems.append('main native_id %r' % roles['main']['native_id'])
        fr = roles['main']['frames']
        if fr[-1]['function'] != '<module>' or fr[-1].get('locals') != []:
            problems.append('main: bottom frame %r' % (fr[-1],))
        mw = [f for f in fr if f['function'] == 'main_wait']
        if not mw or [(v['name'], v['arg']) for v in mw[0]['locals']] != \
                [('count', True), ('label', True), ('foo', False),
                 ('small', False)]:
            problems.append('main_wait locals %r' % (mw and mw[0]['locals'],))
    if 'spin' in roles:
        t = roles['spin']
        if t['frames'][0]['function'] != 'spin' or \
                t['frames'][0]['line'] not in t['spin_lines'] or \
                not t['spinning'] or t['sleeping']:
            problems.append('spinner: %r' % (t['frames'][0],))
    if 'locals' in roles:
        wl = [f for f in roles['locals']['frames']
              if f['function'] == 'with_locals']
        got = wl[0]['locals'] if wl else []
        table = list(SELF_TEST_LOCALS)
        if py3:
            table[table.index(('v_bytes', False, None))] = \
                ('v_bytes', False, r"b'\x00ab'")
            table[table.index(('v_long_bytes', False, None))] = \
                ('v_long_bytes', False, repr((b'0123456789' * 10)[:64]) + '...')
        else:
            table[table.index(('v_bytes', False, None))] = \
                ('v_bytes', False, r"'\x00ab'")
            table[table.index(('v_long_bytes', False, None))] = \
                ('v_long_bytes', False, repr(('0123456789' * 10)[:64]) + '...')
            table.append(('v_bad_utf8', False, "'\ufffdab'"))
            table.append(('v_long5', False, '5'))
        got_names = [v['name'] for v in got]
        if sorted(got_names) != sorted(n for n, _, _ in table):
            problems.append('with_locals names %s' % got_names)
        if got_names[:4] != ['a', 'b', 'args', 'kw']:
            problems.append('with_locals order %s' % got_names)
        by = dict((v['name'], v) for v in got)
        for name, arg, rep in table:
            v = by.get(name)
            if v is None:
                continue
            ok = rep.match(v['repr']) if hasattr(rep, 'match') \
                else v['repr'] == rep
            if not ok or v['arg'] is not arg:
                problems.append('with_locals %s: %r arg=%r, expected %r'
                                % (name, v['repr'], v['arg'],
                                   getattr(rep, 'pattern', rep)))
    if os.path.getsize(target.stdout_path):
        problems.append('target wrote to stdout')
    if target.stderr():
        problems.append('target wrote to stderr: %s' % short(target.stderr()))
    return problems


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default='build/bin',
                    help='directory holding pyspy-dump')
    ap.add_argument('--only', action='append', default=[],
                    help='run only this interpreter (2.7, 3.12, debian-3.11)')
    ap.add_argument('--mode', action='append', default=[],
                    help='run only this mode (default, nonblocking, '
                    'force-scan, text, errors)')
    ap.add_argument('--keep', action='store_true',
                    help='leave the targets running and print their pids')
    ap.add_argument('--self-test', action='store_true',
                    help='check only the targets, without pyspy-dump')
    args = ap.parse_args()

    common.setup_driver()

    modes = []
    for m in args.mode:
        if m == 'errors':
            modes.append('errors')
        elif m in MODE_ALIASES:
            modes.append(MODE_ALIASES[m])
        else:
            ap.error('unknown mode %r' % m)
    columns = [c for c in COLUMNS if not modes or c in modes]
    run_errors = not modes or 'errors' in modes

    interpreters, missing = common.select_interpreters(ap, args.only)
    binary = os.path.join(args.bin, 'pyspy-dump')
    t0 = time.time()
    tally = common.Tally()
    matrix = {}
    for name in missing:
        common.not_found(name)

    if args.self_test:
        for name, path in interpreters:
            target = Target(path, keep=args.keep)
            try:
                target.wait_ready()
                problems = self_test(target)
            except TargetError as e:
                problems = [str(e)]
            finally:
                target.close()
            tally('target %s' % name, problems)
        tally.skipped = len(missing)
        print('%s (%.1f s)' % (tally.summary('e2e'), time.time() - t0))
        return 1 if tally.failed else 0

    if common.missing_binary([binary], 'e2e'):
        return 1

    for name in missing:
        matrix[name] = dict((c, 'SKIP') for c in columns)
        tally.skipped += len(columns)

    for name, path in interpreters:
        row = matrix.setdefault(name, {})
        # one target for every mode (it takes most of a second to settle);
        # a new one only after a mode left it dead or stopped
        target, ready = None, []
        try:
            for mode, flags in MODES:
                want_text = 'text' in columns and mode == 'default'
                if mode not in columns and not (want_text and
                                                'default' not in columns):
                    continue
                run_json = mode in columns
                if target is None or ready or target_health(target):
                    if target is not None:
                        target.close()
                    target = Target(path, keep=args.keep)
                    try:
                        target.wait_ready()
                        ready = []
                    except TargetError as e:
                        ready = ['target: %s' % e]
                if run_json:
                    problems = ready or check_dump(binary, target, name, mode,
                                                   flags)
                    row[mode] = tally('dump %s %s' % (name, mode), problems)
                if want_text:
                    problems = ready or check_text(binary, target)
                    row['text'] = tally('dump %s text' % name, problems)
        finally:
            if target is not None:
                target.close()

    if run_errors:
        for label, problems in check_errors(binary):
            tally(label, problems)

    if matrix and columns:
        common.print_matrix(matrix, columns)
    return tally.finish('e2e', t0)


if __name__ == '__main__':
    sys.exit(main())
