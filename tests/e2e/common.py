"""What the end-to-end tests run.py (pyspy-dump) and sample.py (pyspy-sample,
pyspy-fold) share: bookkeeping of the processes they start (every child is
killed on every exit path), a few /proc readers, interpreter discovery, the
base of their target processes, running a tool and checking its errors, and
reporting (PASS/FAIL lines, the tally, the matrix).

Standard library only; meant for Debian's python3.
"""
import atexit
import ctypes
import glob
import os
import re
import signal
import subprocess
import sys
import time

EXPECTED_INTERPRETERS = ['2.7', '3.6', '3.7', '3.8', '3.9', '3.10', '3.11',
                         '3.12', '3.13', 'debian-3.11']
TOOL_TIMEOUT = 30.0

# ---------------------------------------------------------------------------
# Process bookkeeping: every child we start is killed on every exit path.

_children = {}   # pid -> Popen (not those kept with keep=True)


def _pdeathsig():
    # Die with the driver even if it is SIGKILLed (PR_SET_PDEATHSIG).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def spawn(argv, keep=False, **kw):
    p = subprocess.Popen(argv, preexec_fn=None if keep else _pdeathsig, **kw)
    if not keep:
        _children[p.pid] = p
    return p


def tracked(pid):
    """Whether `pid` is a child started (and not yet reaped) by spawn()."""
    return pid in _children


def reap(p):
    if p.poll() is None:
        try:
            p.kill()
        except OSError:
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    _children.pop(p.pid, None)


@atexit.register
def _kill_all():
    for p in list(_children.values()):
        reap(p)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def setup_driver():
    """SIGTERM and SIGHUP exit through the cleanup; output line by line."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    sys.stdout.reconfigure(line_buffering=True)


# ---------------------------------------------------------------------------
# /proc

def stat_fields(path):
    """The fields of a /proc stat file after the command name (state,
    ppid, ...); OSError if it cannot be read."""
    with open(path) as f:
        stat = f.read()
    return stat[stat.rindex(')') + 2:].split()


def proc_cmdline(pid):
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        args = f.read().split(b'\0')
    if args and args[-1] == b'':
        args.pop()
    return ' '.join(a.decode('utf-8', 'replace') for a in args)


def unused_pid():
    """A pid that no process has (the highest free one)."""
    try:
        with open('/proc/sys/kernel/pid_max') as f:
            pid = int(f.read()) - 1
    except (OSError, ValueError):
        pid = 4194303
    while os.path.exists('/proc/%d' % pid):
        pid -= 1
    return pid


# ---------------------------------------------------------------------------
# Interpreters

def discover():
    """Return [(name, path)] in EXPECTED order, then any extras, and the list
    of expected names that were not found."""
    found = {}
    for d in sorted(glob.glob('/root/.pyenv/versions/*')):
        base = os.path.basename(d)
        m = re.match(r'^(\d+)\.(\d+)\.\d+$', base)   # CPython x.y.z only
        exe = os.path.join(d, 'bin', 'python')
        if not m or not os.access(exe, os.X_OK):
            continue
        name = '%s.%s' % m.groups()
        if name in found:
            name = base
        found[name] = os.path.realpath(exe)
    if os.access('/usr/bin/python3.11', os.X_OK):
        found['debian-3.11'] = os.path.realpath('/usr/bin/python3.11')
    order = [n for n in EXPECTED_INTERPRETERS if n in found]
    order += sorted(n for n in found if n not in EXPECTED_INTERPRETERS)
    missing = [n for n in EXPECTED_INTERPRETERS if n not in found]
    return [(n, found[n]) for n in order], missing


def select_interpreters(ap, only):
    """discover(), narrowed to the names in `only` (all if empty); an
    unknown name is an error of the argument parser `ap`."""
    interpreters, missing = discover()
    if only:
        interpreters = [(n, p) for n, p in interpreters if n in only]
        missing = [n for n in missing if n in only]
        unknown = [n for n in only
                   if n not in EXPECTED_INTERPRETERS and
                   n not in [i for i, _ in interpreters]]
        if unknown:
            ap.error('unknown interpreter(s): %s' % ', '.join(unknown))
    return interpreters, missing


# ---------------------------------------------------------------------------
# Targets

class TargetError(Exception):
    pass


class Target(object):
    """A target program started by us, its stdout and stderr in files."""

    def __init__(self, argv, cwd, stdout_path, stderr_path, keep=False,
                 env=None):
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        full_env = dict(os.environ)
        for k in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP'):
            full_env.pop(k, None)
        full_env['LC_ALL'] = 'C.UTF-8'
        full_env['PYTHONDONTWRITEBYTECODE'] = '1'
        full_env.update(env or {})
        with open(stdout_path, 'wb') as out, open(stderr_path, 'wb') as err:
            self.proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=err, cwd=cwd, env=full_env, keep=keep)
        self.pid = self.proc.pid

    def stderr(self):
        try:
            with open(self.stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace').strip()
        except OSError:
            return ''

    def wait_ready(self, path, what, timeout, poll, clip=True):
        """Wait for the target to create `path`.  TargetError if it exits
        first or after `timeout` s; `what` is the pair of their messages,
        filled with (exit status, stderr) and (timeout, stderr), the stderr
        shortened if `clip`."""
        deadline = time.time() + timeout
        while not os.path.exists(path):
            exited = self.proc.poll() is not None
            if exited or time.time() > deadline:
                err = short(self.stderr()) if clip else self.stderr()
                raise TargetError(what[0] % (self.proc.returncode, err)
                                  if exited else what[1] % (timeout, err))
            time.sleep(poll)

    def tasks(self):
        try:
            return os.listdir('/proc/%d/task' % self.pid)
        except OSError:
            return []

    def stopped_tasks(self):
        """[(tid, state)] of the tasks in state T or t (stopped or
        traced-stopped)."""
        out = []
        for tid in self.tasks():
            try:
                state = stat_fields('/proc/%d/task/%s/stat'
                                    % (self.pid, tid))[0]
            except OSError:
                continue
            if state in ('T', 't'):
                out.append((tid, state))
        return out

    def close(self):
        reap(self.proc)


# ---------------------------------------------------------------------------
# Running a tool

class ToolResult(object):
    def __init__(self, rc, out, err, timed_out):
        self.rc, self.out, self.err, self.timed_out = rc, out, err, timed_out


def run_tool(binary, args, timeout=TOOL_TIMEOUT, text=True):
    """Run binary with args to its end (killed after `timeout` s); stdout
    and stderr decoded, or stdout left as bytes if not `text`."""
    p = spawn([binary] + args, stdin=subprocess.DEVNULL,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        timed_out = True
    _children.pop(p.pid, None)
    return ToolResult(p.returncode, out.decode('utf-8', 'replace') if text
                      else out, err.decode('utf-8', 'replace'), timed_out)


def short(s, n=300):
    s = s.strip()
    return s if len(s) <= n else s[:n] + '...'


def error_lines(r, tool, what='one', mention=None):
    """Problems of the error message of a failed run `r` of `tool`: its
    first stderr line starts with "TOOL: ", and is the only one if `what`
    is 'one'; `mention`, a pair (word, name of it): the word is in stderr
    (case-insensitive)."""
    lines = r.err.strip('\n').split('\n') if r.err.strip() else []
    p = []
    if not lines:
        p.append('nothing on stderr')
    elif not lines[0].startswith(tool + ': '):
        p.append('stderr does not start with "%s: ": %s'
                 % (tool, short(lines[0], 120)))
    if lines and what == 'one' and len(lines) != 1:
        p.append('%d lines on stderr, expected 1: %s'
                 % (len(lines), short(r.err, 200)))
    if mention and mention[0] not in r.err.lower():
        p.append('stderr does not mention %s: %s' % (mention[1], short(r.err)))
    return p


def check_failure(r, rc, tool, what='one', mention=None):
    """Problems of a run `r` of `tool` that must exit with status `rc` and
    say why on stderr (see error_lines)."""
    if r.timed_out:
        return ['timed out']
    if r.rc != rc:
        return ['exit %s, expected %d (stderr: %s)' % (r.rc, rc, short(r.err))]
    return error_lines(r, tool, what, mention)


# ---------------------------------------------------------------------------
# Reporting

def report(label, problems):
    if not problems:
        print('PASS %s' % label)
        return 'PASS'
    lines = problems[:12]
    if len(problems) > 12:
        lines.append('... %d problems in all' % len(problems))
    print('FAIL %s: %s' % (label, lines[0]))
    for line in lines[1:]:
        print('    %s' % line)
    return 'FAIL'


class Tally(object):
    """Counts the cases: tally(label, problems) reports one (None: skipped)
    and returns 'PASS', 'FAIL' or 'SKIP'."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def __call__(self, label, problems):
        if problems is None:
            print('SKIPPED %s' % label)
            self.skipped += 1
            return 'SKIP'
        result = report(label, problems)
        if result == 'PASS':
            self.passed += 1
        else:
            self.failed += 1
        return result

    def summary(self, what):
        return '%s: %d passed, %d failed, %d skipped' % (
            what, self.passed, self.failed, self.skipped)

    def finish(self, what, t0):
        """The closing lines (time since t0, the summary named `what`);
        the exit status of the test."""
        print('(took %.1f s)' % (time.time() - t0))
        print(self.summary(what))
        return 1 if self.failed else 0


def not_found(name):
    print('SKIPPED %s: not found  <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<'
          % name)


def missing_binary(binaries, what):
    """Says so (a failed run named `what`) if one of `binaries` cannot be
    run."""
    for b in binaries:
        if not os.access(b, os.X_OK):
            print('FAIL: %s not found or not executable' % b)
            print('%s: 0 passed, 1 failed, 0 skipped' % what)
            return True
    return False


def print_matrix(matrix, columns):
    """A PASS/FAIL/SKIP table: a row per interpreter (in EXPECTED order
    first), a column per case."""
    rows = [n for n in EXPECTED_INTERPRETERS if n in matrix]
    rows += [n for n in matrix if n not in rows]
    width = max(len('interpreter'), max(len(n) for n in rows)) + 2
    print('')
    print('interpreter'.ljust(width) +
          ''.join(c.ljust(max(len(c), 4) + 2) for c in columns))
    for n in rows:
        print(n.ljust(width) + ''.join(
            matrix[n].get(c, '-').ljust(max(len(c), 4) + 2) for c in columns))
    print('')
