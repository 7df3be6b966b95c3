#!/usr/bin/env python3
"""Side-by-side sampler benchmarks: pyspy against py-spy and austin, in one run.

    bench/compare.py --bin build/bin [--peers ../shared/peers] [--runs 5]
                     [--seconds 3] [--versions 2.7,3.10,3.12,3.13]
                     [--only rate,reads,slowdown,steady,bytes,rss]
                     [--rss-minutes 1] [--samplers pyspy,austin,...]
                     [--rates 100,1000] [--work 1] [--pairs 100]
                     [--out bench/out/compare.md]

Prints one markdown table per measurement and writes them all to --out, each
figure with the command that produced it and the machine's description.
Runs are interleaved (tool A, tool B, tool C, then again) so that a machine
that slows down for a while slows every tool alike; figures are medians over
--runs, and ratios are taken against the peers measured in the same run. A
peer that is missing, or that cannot read an interpreter version, is noted
and skipped.

Measurements:
  rate      sampling as fast as each tool goes, attached to a running
            workload (deep: recursive.py, ~47 frames; flat: loop.py):
            thread-samples per second and sampler CPU (user+sys, from
            wait4) per thread-sample
  slowdown  the workload's own elapsed time under each sampler at 100 Hz and
            1,000 Hz (--rates), each run paired with an unprofiled run just
            before it; for pyspy also the share of time the target was
            paused (median pause from --stats, times the rate)
  steady    the slowdown within one run, for figures under the run-to-run
            noise of slowdown (a few per cent here): the paced workload
            (bench/workloads/paced.py) on core 0, each sampler attached on
            core 1 and stopped and continued (SIGTSTP, SIGCONT) every 0.1 s,
            --pairs times; the median over the pairs of the workload's
            progress while the sampler was stopped over its progress while
            it ran just after, minus 1, and a control that toggles nothing
  bytes     stream bytes per sample, marginal (the size of a 2T recording
            minus that of a T one, over the difference in samples), at
            100 Hz and at the highest rate (pausing and --nonblocking),
            deep, steady deep (45 frames that stay put: workloads/steady.py),
            flat and 50 threads
  rss       the sampler's resident memory at 1 kHz on the churning workload,
            after warm-up and at the end (--rss-minutes; 30 for the figure
            the issue asks for)
"""
import argparse
import bisect
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from soak import rss_kb  # bench/soak.py, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(ROOT), 'shared')
PYENV = '/root/.pyenv/versions'
# iterations that keep each workload busy much longer than any measurement
FOREVER = {'deep': ['1000000'], 'flat': ['4000000000'], 'steady deep': []}
# Hz asked of every sampler when measuring its top speed: above what any
# sustains (pyspy reaches ~130 kHz on a flat stack with a core to itself), so
# that none sleeps between samples, as austin -i 0 does not
MAX_RATE = 1000000

# ---------------------------------------------------------------------------
# Small helpers


def log(msg):
    sys.stderr.write(msg + '\n')
    sys.stderr.flush()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec='{:.1f}'):
    return '—' if x is None else spec.format(x)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def interpreter(version):
    for d in sorted(os.listdir(PYENV)) if os.path.isdir(PYENV) else []:
        if d == version or d.startswith(version + '.'):
            exe = os.path.join(PYENV, d, 'bin', 'python')
            if os.access(exe, os.X_OK):
                return exe
    return None


def workload_path(name):
    shared = {'deep': 'recursive.py', 'flat': 'loop.py'}
    if name in shared:
        return os.path.join(SHARED, 'bench', 'workloads', shared[name])
    return os.path.join(HERE, 'workloads', {'threads': 'threads.py', 'churn': 'churn.py',
                                            'steady deep': 'steady.py'}[name])


def workload_argv(python, name, seconds=None):
    if name in ('threads', 'churn'):
        argv = [python, workload_path(name), str(seconds or 100000)]
        return argv + (['50'] if name == 'threads' else [])
    return [python, workload_path(name)] + FOREVER[name]


def start_workload(argv):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)   # past start-up and imports
    if p.poll() is not None:
        raise RuntimeError('workload exited at once: %s' % ' '.join(argv))
    return p


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def run_timed(argv, timeout, interrupt_after=None):
    """Run argv; return (exit status, cpu seconds of it and its children,
    stderr). interrupt_after: seconds after which it gets SIGINT (for a
    sampler without a duration option)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        start = time.time()
        deadline = start + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if interrupt_after and time.time() - start >= interrupt_after:
                p.send_signal(signal.SIGINT)
                interrupt_after = None
            if time.time() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.02)
        p.returncode = status
        err.seek(0)
        return status, ru.ru_utime + ru.ru_stime, err.read().decode('utf-8', 'replace')


def fold_total(path, torn=None):
    """Thread-samples in a folded-stack file (the last field of each line);
    torn, a list, gets those under a <truncated> root appended."""
    total = cut = 0
    with open(path, errors='replace') as f:
        for line in f:
            field = line.rstrip('\n').rpartition(' ')[2]
            if field.isdigit():
                total += int(field)
                if line.startswith('<truncated>'):
                    cut += int(field)
    if torn is not None:
        torn.append(cut)
    return total


def austin_total(path, torn=None):
    """Samples in austin's text output: one line per sample, '#' metadata,
    'P<pid>;T<tid>;<file>:<function>:<line>;... <metric>' (austin 1:
    'Thread <id>;<function> (<file>);L<line>;...'); torn, a list,
    gets the number whose outermost frame is not <module> appended (every
    workload here runs from its module)."""
    n = cut = 0
    with open(path, errors='replace') as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                n += 1
                # austin 3: P<pid>;T<tid>;file:function:line;...
                # austin 1 (Debian's): Thread <id>;function (file);L<line>;...
                frames = [x for x in line.rsplit(' ', 1)[0].split(';')
                          if not re.match(r'(P\d|T\w|Thread )', x)]
                if frames and ':<module>:' not in frames[0] + ':' and \
                        not frames[0].startswith('<module> '):
                    cut += 1
    if torn is not None:
        torn.append(cut)
    return n


# ---------------------------------------------------------------------------
# The samplers, each as: command to attach at a rate for a time, and how to
# count what it took.


class Tool:
    interrupt_after = None   # seconds: stop it with SIGINT (no duration option)

    def __init__(self, name, exe, versions=None):
        self.name, self.exe, self.versions = name, exe, versions

    def reads(self, version):
        return self.versions is None or version in self.versions


class Pyspy(Tool):
    def __init__(self, bindir, nonblocking):
        Tool.__init__(self, 'pyspy' + (' nonblocking' if nonblocking else ''),
                      os.path.join(bindir, 'pyspy-sample'))
        self.bindir, self.nonblocking = bindir, nonblocking

    def attach(self, pid, rate, seconds, out):
        return [self.exe, '-q', '-r', str(rate), '-d', str(seconds), '-o', out,
                '--pid', str(pid)] + (['--nonblocking'] if self.nonblocking else [])

    def launch(self, argv, rate, out, stats=False):
        return [self.exe, '--stats' if stats else '-q', '-r', str(rate), '-o', out] + \
               (['--nonblocking'] if self.nonblocking else []) + ['--'] + argv

    def count(self, out):
        folded = out + '.fold'
        with open(folded, 'w') as f:
            subprocess.run([os.path.join(self.bindir, 'pyspy-fold'), '--idle', out],
                           stdout=f, stderr=subprocess.DEVNULL)
        torn = []
        n = fold_total(folded, torn)
        os.unlink(folded)
        # stacks that could not be read whole: a fast sampler that reads
        # half stacks is no faster
        self.torn = torn[0] / n if n else None
        return n

    def stats(self, pid, seconds, rate):
        """Remote reads per thread-sample, if pyspy-sample has --stats."""
        help_text = subprocess.run([self.exe, '--help'], capture_output=True, text=True).stdout
        if '--stats' not in help_text:
            return None, None
        with tempfile.NamedTemporaryFile(suffix='.pss') as out:
            argv = self.attach(pid, rate, seconds, out.name) + ['--stats']
            argv.remove('-q')
            err = subprocess.run(argv, capture_output=True, text=True).stderr
        m = re.search(r'([\d.]+) reads.*?([\d.]+) bytes.*?per thread-sample', err)
        return (float(m.group(1)), float(m.group(2))) if m else (None, None)


class PySpy(Tool):
    def __init__(self, exe, nonblocking):
        Tool.__init__(self, 'py-spy' + (' nonblocking' if nonblocking else ''), exe)
        self.nonblocking = nonblocking
        self.flat = False   # set per workload by measure_rate

    def attach(self, pid, rate, seconds, out):
        # py-spy takes rate x duration samples however long that takes, so
        # "as fast as it goes" is asked as a rate above what it sustains
        # (about 550-800 Hz deep, a few kHz flat here) for one second; the
        # rate is then samples over the run's wall time
        if rate >= MAX_RATE:
            rate, seconds = (10000 if self.flat else 2000), 1
        return [self.exe, 'record', '--pid', str(pid), '-r', str(rate), '-d',
                str(int(round(seconds))), '-f', 'raw', '--idle', '-o', out] + \
               (['--nonblocking'] if self.nonblocking else [])

    def launch(self, argv, rate, out):
        return [self.exe, 'record', '-r', str(rate), '-f', 'raw', '-o', out] + \
               (['--nonblocking'] if self.nonblocking else []) + ['--'] + argv

    def count(self, out):
        return fold_total(out)


class Austin(Tool):
    def __init__(self, exe):
        # austin 3.7 reads 3.8-3.13 here (see ../shared/peers/README.md)
        Tool.__init__(self, 'austin', exe, {'3.8', '3.9', '3.10', '3.11', '3.12', '3.13'})

    def attach(self, pid, rate, seconds, out):
        interval = max(0, int(1e6 / rate)) if rate < MAX_RATE else 0
        return [self.exe, '-i', str(interval), '-x', str(int(round(seconds))),
                '-p', str(pid), '-o', out]

    def launch(self, argv, rate, out):
        return [self.exe, '-i', str(int(1e6 / rate)), '-o', out] + argv

    def count(self, out):
        torn = []
        n = austin_total(out, torn)
        self.torn = torn[0] / n if n else None
        return n


class DebianAustin(Austin):
    """Debian's austin 1.0.1: reads 2.7-3.7 (3.8+ is austin 3.7's); it has no
    exposure option, so it is stopped with SIGINT after the duration."""

    def __init__(self, exe):
        Tool.__init__(self, 'austin', exe, {'2.7', '3.6', '3.7'})

    def attach(self, pid, rate, seconds, out):
        self.interrupt_after = seconds
        interval = max(0, int(1e6 / rate)) if rate < MAX_RATE else 0
        return [self.exe, '-i', str(interval), '-p', str(pid), '-o', out]


class Peers(Tool):
    """One column for austin: austin 3.7 where it reads the version, else
    Debian's austin 1.0 (scripts/install-deps.sh bench)."""

    def __init__(self, members):
        Tool.__init__(self, members[0].name, members[0].exe)
        self.members = members
        self.versions = set().union(*[m.versions for m in members])
        self.current = members[0]

    def pick(self, version):
        self.current = next(m for m in self.members if m.reads(version))
        self.exe = self.current.exe

    def attach(self, pid, rate, seconds, out):
        argv = self.current.attach(pid, rate, seconds, out)
        self.interrupt_after = self.current.interrupt_after
        return argv

    def launch(self, argv, rate, out):
        return self.current.launch(argv, rate, out)

    def count(self, out):
        n = self.current.count(out)
        self.torn = getattr(self.current, 'torn', None)
        return n


def tools(args):
    found = [Pyspy(args.bin, False), Pyspy(args.bin, True)]
    notes = []
    pyspy_exe = os.path.join(args.peers, 'py-spy')
    if os.access(pyspy_exe, os.X_OK):
        found += [PySpy(pyspy_exe, False), PySpy(pyspy_exe, True)]
    else:
        notes.append('py-spy: not found at %s, skipped' % pyspy_exe)
    austins = []
    austin_exe = os.path.join(args.peers, 'austin')
    if os.access(austin_exe, os.X_OK):
        austins.append(Austin(austin_exe))
    else:
        notes.append('austin: not found at %s, skipped' % austin_exe)
    if os.access('/usr/bin/austin', os.X_OK):
        austins.append(DebianAustin('/usr/bin/austin'))
    else:
        notes.append("austin for 2.7-3.7: Debian's austin is not installed "
                     "(scripts/install-deps.sh bench), skipped")
    if austins:
        found.append(Peers(austins))
    return found, notes


# ---------------------------------------------------------------------------
# Measurements


def attach_once(tool, pid, rate, seconds):
    """One attached run: (thread-samples, cpu seconds, output bytes, argv,
    wall seconds)."""
    fd, out = tempfile.mkstemp(prefix='bench-', suffix='.out')
    os.close(fd)
    try:
        argv = tool.attach(pid, rate, seconds, out)
        t0 = time.time()
        status, cpu, err = run_timed(argv, seconds + 60, tool.interrupt_after)
        wall = time.time() - t0
        n = tool.count(out) if os.path.exists(out) else 0
        size = os.path.getsize(out) if os.path.exists(out) else 0
        if n == 0:
            log('  %s: no samples (%s)' % (tool.name, err.strip().splitlines()[-1:] or status))
        return n, cpu, size, argv, wall
    finally:
        os.unlink(out)


def show_cmd(argv):
    return ' '.join(shlex.quote(a) for a in argv).replace(tempfile.gettempdir() + '/', '')


def pick(tl, version):
    for t in tl:
        if isinstance(t, Peers) and t.reads(version):
            t.pick(version)


def measure_rate(args, tl, versions, report):
    rows = []
    for version in versions:
        python = interpreter(version)
        if not python:
            report.note('rate: Python %s not found here, skipped' % version)
            continue
        pick(tl, version)
        for wl in ('deep', 'flat'):
            w = start_workload(workload_argv(python, wl))
            per = {t.name: [] for t in tl}
            cmds = {}
            load0 = os.getloadavg()[0]
            try:
                for r in range(args.runs):
                    for t in tl:
                        if not t.reads(version):
                            continue
                        t.flat = wl == 'flat'
                        t.torn = None
                        n, cpu, _, argv, wall = attach_once(t, w.pid, MAX_RATE, args.seconds)
                        cmds[t.name] = argv
                        per[t.name].append((n / wall, cpu / n * 1e6 if n else None, t.torn))
                    log('rate %s %s: run %d done' % (version, wl, r + 1))
            finally:
                stop(w)
            # the machine's load, which every tool shares alike (runs are
            # interleaved) but which makes absolute figures worse
            load = '%.1f–%.1f' % (load0, os.getloadavg()[0])
            austin_cpu = median([c for _, c, _ in per.get('austin', [])])
            austin_rate = median([s for s, _, _ in per.get('austin', [])])
            for t in tl:
                if not t.reads(version):
                    rows.append([version, wl, t.name, 'cannot read %s' % version, '', '', '',
                                 '', load, ''])
                    continue
                rate = median([s for s, _, _ in per[t.name]])
                cpu = median([c for _, c, _ in per[t.name]])
                torn = [x for _, _, x in per[t.name] if x is not None]
                rows.append([version, wl, t.name, fmt(rate, '{:,.0f}'), fmt(cpu),
                             fmt(ratio(cpu, austin_cpu), '{:.3f}'),
                             fmt(ratio(rate, austin_rate), '{:.2f}'),
                             fmt(median(torn) * 100 if torn else None, '{:.1f} %'), load,
                             '`%s`' % show_cmd(cmds.get(t.name, []))])
    report.table('Highest sustained rate and sampler CPU per thread-sample '
                 '(%g s attached, median of %d interleaved runs; samples/s = '
                 'thread-samples over the run\'s wall time)' % (args.seconds, args.runs),
                 ['Python', 'workload', 'sampler', 'samples/s', 'CPU µs/sample',
                  'CPU vs austin', 'rate vs austin', 'torn', 'load avg', 'command'],
                 rows)


def running_workloads(versions, names):
    """(version, workload name, its running process) for each version found
    and each workload; the process is stopped when the caller moves on."""
    for version in versions:
        python = interpreter(version)
        if not python:
            continue
        for wl in names:
            w = start_workload(workload_argv(python, wl))
            try:
                yield version, wl, w
            finally:
                stop(w)


def blocking_pyspy(tl):
    return [t for t in tl if isinstance(t, Pyspy) and not t.nonblocking][0]


def measure_reads(args, tl, versions, report):
    rows = []
    ps = blocking_pyspy(tl)
    for version, wl, w in running_workloads(versions, ('deep', 'flat', 'threads')):
        reads, nbytes = ps.stats(w.pid, 2, 1000)
        if reads is None:
            report.note('reads: pyspy-sample has no --stats yet; not measured')
            return
        rows.append([version, wl, fmt(reads, '{:.2f}'), fmt(nbytes, '{:,.0f}')])
    report.table('Remote reads per thread-sample (pyspy-sample --stats, 1 kHz, 2 s)',
                 ['Python', 'workload', 'process_vm_readv calls', 'bytes read'], rows)


def elapsed_of(err):
    m = re.findall(r'elapsed_s=([\d.]+)', err)
    return float(m[-1]) if m else None


def paused_share(err, rate):
    """From pyspy-sample --stats: the median pause times the rate, the share
    of the target's time it was stopped (None when it was not paused)."""
    m = re.search(r'paused per sample: median ([\d.]+) us', err)
    return float(m.group(1)) * rate / 1e6 if m else None


def slowdown_runs(args, argv, samplers, version):
    """Each profiled run paired with an unprofiled run just before it:
    {(sampler, Hz): [(profiled s, unprofiled s, paused share)]}, commands."""
    prof, cmds = {}, {}
    for r in range(args.runs):
        for t in samplers:
            if not t.reads(version):
                continue
            for rate in args.rates:
                base = elapsed_of(run_timed(argv, 120)[2])
                out = tempfile.mktemp(prefix='bench-')
                cmd = t.launch(argv, rate, out, stats=True) if t.name.startswith('pyspy') \
                    else t.launch(argv, rate, out)
                cmds[(t.name, rate)] = cmd
                err = run_timed(cmd, 120)[2]
                prof.setdefault((t.name, rate), []).append(
                    (elapsed_of(err), base, paused_share(err, rate)))
                if os.path.exists(out):
                    os.unlink(out)
        log('slowdown %s %s: run %d done' % (version, os.path.basename(argv[1]), r + 1))
    return prof, cmds


def versions_and_workloads(tl, versions):
    """(version, its interpreter, workload) for each version found, deep
    then flat; the peers are picked for the version first."""
    for version in versions:
        python = interpreter(version)
        if not python:
            continue
        pick(tl, version)
        for wl in ('deep', 'flat'):
            yield version, python, wl


def measure_slowdown(args, tl, versions, report):
    rows = []
    samplers = [t for t in tl if t.name in args.samplers]
    # a fixed amount of work, about 1 s on 3.12 here (times --work)
    work = {'deep': 1200, 'flat': 13000000}
    for version, python, wl in versions_and_workloads(tl, versions):
        argv = [python, workload_path(wl), str(int(work[wl] * args.work))]
        prof, cmds = slowdown_runs(args, argv, samplers, version)
        for (name, rate), runs in sorted(prof.items()):
            ok = [(x, y, z) for x, y, z in runs if x and y]
            # each profiled run against the unprofiled run just before
            # it: a machine that slows down for a while cancels out
            ratios = [x / y for x, y, _ in ok]
            shares = [z for _, _, z in ok if z is not None]
            rows.append([version, wl, name, str(rate),
                         fmt(median([y for _, y, _ in ok]) if ok else None, '{:.3f}'),
                         fmt(median([x for x, _, _ in ok]) if ok else None, '{:.3f}'),
                         fmt((median(ratios) - 1) * 100 if ratios else None, '{:+.2f} %'),
                         fmt(median(shares) * 100 if shares else None, '{:.2f} %'),
                         '`%s`' % show_cmd(cmds[(name, rate)])])
    report.table('Target slowdown: the workload\'s own elapsed time, profiled vs unprofiled '
                 '(launch mode; slowdown: median over %d rounds of profiled / unprofiled, '
                 'each profiled run paired with an unprofiled one just before it; paused: '
                 'pyspy-sample --stats median pause × Hz, the share of time the target '
                 'was stopped)' % args.runs,
                 ['Python', 'workload', 'sampler', 'Hz', 'unprofiled s', 'profiled s',
                  'slowdown', 'paused', 'command'], rows)


# Steady-state slowdown: one paced workload (bench/workloads/paced.py) runs
# while a sampler attached to it is stopped and continued (SIGTSTP, SIGCONT)
# every STEADY_WINDOW seconds; the workload's progress rate in each window
# the sampler ran is set against that of the window just before, when it
# was stopped. Between two separate runs of a workload the time differs by
# a few per cent here (memory layout, the host), which hid a slowdown under
# 1 %; two neighbouring tenths of a second of one run differ by about
# 0.8 % (interquartile), and the median of a hundred such pairs moves by
# about 0.2 %. "none" toggles nothing: it shows what the method reads when
# there is nothing to read.
STEADY_WINDOW = 0.1
# blocking py-spy may be stopped while it holds the target stopped (it does
# not block SIGTSTP): the target would stop with it, which is not its cost
STEADY_UNSAFE = ('py-spy',)


def process_state(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rpartition(')')[2].split()[0]
    except (OSError, IndexError):
        return None


def toggle(p, pairs):
    """Alternate p (a started sampler, None for the control) between
    stopped and running, STEADY_WINDOW seconds each; the [(off, on)]
    windows, each a (start, end) of time.time()."""
    out = []
    for _ in range(pairs):
        if p:
            p.send_signal(signal.SIGTSTP)
            deadline = time.time() + 1
            while process_state(p.pid) not in ('T', None):
                if time.time() > deadline:
                    raise RuntimeError('%s does not stop on SIGTSTP' % p.args)
                time.sleep(0.0005)
        a = time.time()
        time.sleep(STEADY_WINDOW)
        b = time.time()
        if p:
            p.send_signal(signal.SIGCONT)
        c = time.time()
        time.sleep(STEADY_WINDOW)
        out.append(((a, b), (c, time.time())))
    return out


def slowdowns(ends, windows):
    """For each (off, on) pair of windows, the workload's progress rate
    while the sampler was stopped over that while it ran, minus 1 (the time
    a unit of work takes profiled over unprofiled, minus 1), from the
    workload's sorted unit end times."""
    def rate(w):
        a, b = w
        return (bisect.bisect(ends, b) - bisect.bisect(ends, a)) / (b - a)
    return [rate(off) / rate(on) - 1 for off, on in windows if rate(on) > 0]


def steady_rows(args, tl, version, wl, python):
    """One paced workload, each sampler toggled against it in turn."""
    fd, units = tempfile.mkstemp(prefix='bench-units-')
    os.close(fd)
    w = subprocess.Popen(['taskset', '-c', '0', python, os.path.join(HERE, 'workloads', 'paced.py'),
                          wl, units], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = [('none', None, None)]
    for t in tl:
        if t.name in args.samplers and t.reads(version) and t.name not in STEADY_UNSAFE:
            runs += [(t.name, t, rate) for rate in args.rates]
    windows, cmds = {}, {}
    try:
        time.sleep(1.5)  # past start-up
        for name, t, rate in runs:
            p, out = None, tempfile.mktemp(prefix='bench-')
            if t:
                argv = t.attach(w.pid, rate, 3600, out)
                cmds[(name, rate)] = argv
                # a process group of its own, we in another of the session:
                # stop signals sent to an orphaned group are discarded
                p = subprocess.Popen(['taskset', '-c', '1'] + argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=os.setpgrp)
                time.sleep(0.7)  # attached, past its first samples
            try:
                windows[(name, rate)] = toggle(p, args.pairs)
            finally:
                if p:
                    p.send_signal(signal.SIGCONT)
                    p.send_signal(signal.SIGINT)
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            if os.path.exists(out):
                os.unlink(out)
        w.send_signal(signal.SIGTERM)
        w.wait(30)
        with open(units) as f:
            ends = [float(x) for x in f if x.strip()]
    finally:
        stop(w)
        os.unlink(units)
    rows = []
    for name, _, rate in runs:
        r = sorted(slowdowns(ends, windows[(name, rate)]))
        q = (lambda k: r[min(len(r) - 1, k * len(r) // 4)] * 100) if r else (lambda k: None)
        rows.append([version, wl, name, str(rate or '—'),
                     fmt(median(r) * 100 if r else None, '{:+.2f} %'),
                     '%s to %s' % (fmt(q(1), '{:+.2f} %'), fmt(q(3), '{:+.2f} %')), str(len(r)),
                     '`%s`' % show_cmd(cmds[(name, rate)]) if (name, rate) in cmds else ''])
    return rows


def measure_steady(args, tl, versions, report):
    rows = []
    try:  # the workload has core 0; we keep to the sampler's
        os.sched_setaffinity(0, {1})
    except (AttributeError, OSError):
        pass
    for version, python, wl in versions_and_workloads(tl, versions):
        rows += steady_rows(args, tl, version, wl, python)
        log('steady %s %s done' % (version, wl))
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except (AttributeError, OSError):
        pass
    report.table('Steady-state slowdown within one run: the paced workload (bench/workloads/'
                 'paced.py, on core 0) with the sampler (on core 1) running and stopped '
                 '(SIGTSTP/SIGCONT) %g s each, %d times; slowdown: median over the pairs of the '
                 'workload\'s progress while the sampler was stopped over that while it ran '
                 'just after, minus 1, with the interquartile range; "none" toggles nothing. Blocking '
                 'py-spy is left out: stopped while it holds the target stopped, it would stop '
                 'the target too' % (STEADY_WINDOW, args.pairs),
                 ['Python', 'workload', 'sampler', 'Hz', 'slowdown', 'interquartile', 'pairs',
                  'command'], rows)


def measure_bytes(args, tl, versions, report):
    """The pausing sampler at 100 Hz and at its highest rate; at the highest
    rate the nonblocking one too, whose ticks (and time deltas) are shorter."""
    rows = []
    pyspys = [t for t in tl if isinstance(t, Pyspy)]
    t1 = args.seconds
    for version, wl, w in running_workloads(versions, ('deep', 'steady deep', 'flat', 'threads')):
        for ps, rate in [(blocking_pyspy(tl), 100)] + [(p, MAX_RATE) for p in pyspys]:
            short = attach_once(ps, w.pid, rate, t1)
            long_ = attach_once(ps, w.pid, rate, 2 * t1)
            dn, db = long_[0] - short[0], long_[2] - short[2]
            rows.append([version, wl, ps.name, 'max' if rate == MAX_RATE else str(rate),
                         fmt(short[0] / t1, '{:,.0f}'),
                         fmt(db / dn if dn > 0 else None, '{:.3f}'),
                         fmt(long_[2] / long_[0] if long_[0] else None, '{:.2f}'),
                         '`%s`' % show_cmd(long_[3])])
    report.table('Stream bytes per thread-sample (marginal: a %g s and a %g s recording)'
                 % (t1, 2 * t1),
                 ['Python', 'workload', 'sampler', 'Hz', 'samples/s', 'marginal B/sample',
                  'whole file B/sample', 'command'], rows)


def measure_rss(args, tl, versions, report):
    version = '3.12' if interpreter('3.12') else versions[-1]
    python = interpreter(version)
    seconds = args.rss_minutes * 60
    w = start_workload(workload_argv(python, 'churn', seconds + 60))
    out = tempfile.mktemp(prefix='bench-', suffix='.pss')
    argv = [os.path.join(args.bin, 'pyspy-sample'), '-q', '-r', '1000', '-d', str(seconds),
            '-o', out, '--pid', str(w.pid)]
    s = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    points = []
    t0 = time.time()
    try:
        while s.poll() is None:
            time.sleep(min(10, max(1, seconds / 30)))
            kib = rss_kb(s.pid)
            if kib is not None:
                points.append((time.time() - t0, kib))
    finally:
        s.wait()
        stop(w)
        size = os.path.getsize(out) if os.path.exists(out) else 0
        if os.path.exists(out):
            os.unlink(out)
    warm = [k for t, k in points if t >= min(30, seconds / 4)]
    rows = [[version, '%g min' % args.rss_minutes,
             fmt(warm[0] / 1024 if warm else None, '{:.1f}'),
             fmt(max(warm) / 1024 if warm else None, '{:.1f}'),
             fmt(warm[-1] / 1024 if warm else None, '{:.1f}'),
             fmt(size / 1e6, '{:.1f}'), '`%s`' % show_cmd(argv)]]
    report.table('Sampler resident memory on the churning workload at 1 kHz '
                 '(bench/workloads/churn.py)',
                 ['Python', 'duration', 'RSS after warm-up MiB', 'max MiB', 'end MiB',
                  'stream MB', 'command'], rows)


# ---------------------------------------------------------------------------
# Output


class Report:
    def __init__(self):
        self.parts, self.notes = [], []

    def table(self, title, head, rows):
        lines = ['### ' + title, '', '| ' + ' | '.join(head) + ' |',
                 '|' + '---|' * len(head)]
        lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
        text = '\n'.join(lines) + '\n'
        self.parts.append(text)
        print(text)
        sys.stdout.flush()

    def note(self, msg):
        if msg not in self.notes:
            self.notes.append(msg)
            log('note: ' + msg)


def machine():
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '')
    except OSError:
        pass
    mem = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30
    return '%d cores (%s), %.0f GiB, %s %s' % (os.cpu_count(), cpu, mem, platform.system(),
                                                platform.release())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default=os.path.join(ROOT, 'build', 'bin'))
    ap.add_argument('--peers', default=os.path.join(SHARED, 'peers'))
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--seconds', type=float, default=3)
    ap.add_argument('--versions', default='2.7,3.10,3.12,3.13')
    ap.add_argument('--only', default='rate,reads,slowdown,steady,bytes,rss')
    ap.add_argument('--rss-minutes', type=float, default=1)
    ap.add_argument('--samplers', default='pyspy,pyspy nonblocking,py-spy,py-spy nonblocking,austin',
                    help='slowdown: the samplers measured')
    ap.add_argument('--rates', default='100,1000', help='slowdown: the rates (Hz)')
    ap.add_argument('--work', type=float, default=1,
                    help='slowdown: the workloads\' fixed work, scaled (1: about 1 s on 3.12)')
    ap.add_argument('--pairs', type=int, default=100,
                    help='steady: the running and stopped windows of each sampler')
    ap.add_argument('--out', default=os.path.join(ROOT, 'bench', 'out', 'compare.md'))
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    versions = [v for v in args.versions.split(',') if v]
    args.samplers = [x.strip() for x in args.samplers.split(',') if x.strip()]
    args.rates = [int(x) for x in args.rates.split(',') if x]
    report = Report()
    tl, notes = tools(args)
    for n in notes:
        report.note(n)
    started = time.time()
    header = ('# pyspy vs peers, %s\n\nmachine: %s\ncommand: `%s`\n'
              % (time.strftime('%Y-%m-%d %H:%M'), machine(), show_cmd(sys.argv)))
    print(header)
    wanted = args.only.split(',')
    steps = [('rate', measure_rate), ('reads', measure_reads), ('slowdown', measure_slowdown),
             ('steady', measure_steady), ('bytes', measure_bytes), ('rss', measure_rss)]
    for name, fn in steps:
        if name in wanted:
            fn(args, tl, versions, report)
    footer = '\n'.join('- ' + n for n in report.notes)
    footer += '\n\n(%.0f s in all)\n' % (time.time() - started)
    print(footer)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        f.write(header + '\n' + '\n'.join(report.parts) + '\n' + footer)
    log('wrote %s' % args.out)


if __name__ == '__main__':
    main()
