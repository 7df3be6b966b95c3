#!/usr/bin/env python3
"""Soak test: pyspy-sample --nonblocking against bench/workloads/churn.py (threads,
code objects and stack depth created and destroyed all the time) for minutes.

    python3 bench/soak.py [--bin build/bin] [--python PY] [--rate HZ] MINUTES

Reports the samples, the errors, the share of good samples, the late ones, the
sampler's RSS over time (and whether it stayed bounded: the last third of the
run may not exceed the first third by more than --rss-slack MB), and whether
the stream it wrote reads back complete. Exits 1 on a crash (the sampler
killed by a signal or failing), a hang (not done 30 s after its duration),
an incomplete stream, or RSS growth beyond the slack; 0 otherwise.
tests/e2e/hostile.py runs the same for a few seconds (run_soak below).
Standard library only.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHURN = os.path.join(HERE, 'workloads', 'churn.py')
SUMMARY = re.compile(r'(\d+) samples in ([\d.]+) s \(([\d.]+) Hz\), (\d+) errors'
                     r'(?:.*?(\d+) samples late \(worst ([\d.]+) ms\))?')


def rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def rss_bounded(series, slack_kb):
    """(ok, first-third max, last-third max) over [(t, kb)]."""
    kbs = [kb for _, kb in series]
    if len(kbs) < 3:
        return True, max(kbs or [0]), max(kbs or [0])
    third = len(kbs) // 3
    early, late = max(kbs[:third]), max(kbs[-third:])
    return late - early <= slack_kb, early, late


def sanitized(binary):
    """Whether binary was built with AddressSanitizer."""
    try:
        with open(binary, 'rb') as f:
            return b'__asan_init' in f.read()
    except OSError:
        return False


def run_soak(bindir, python, seconds, rate=100, every=None, slack_mb=16, out=None,
             log=print):
    """Sample churn.py for `seconds`; return (problems, figures). slack_mb
    None: RSS is reported, not checked (a sanitizer build, whose allocator
    holds freed memory in quarantine, grows whatever the code does)."""
    every = every or max(0.2, seconds / 60.0)
    work = tempfile.mkdtemp(prefix='pyspy-soak-')
    stream = out or os.path.join(work, 'soak.pss')
    problems = []
    churn = subprocess.Popen([python, CHURN, str(seconds + 30)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    time.sleep(0.3)     # its first threads started
    err_path = os.path.join(work, 'sample.err')
    with open(err_path, 'w') as err:
        sampler = subprocess.Popen([os.path.join(bindir, 'pyspy-sample'), '--nonblocking',
                                    '-p', str(churn.pid), '-r', str(rate), '-d', str(seconds),
                                    '-o', stream], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err)
    t0 = time.time()
    series = []
    while sampler.poll() is None and time.time() - t0 < seconds + 30:
        kb = rss_kb(sampler.pid)
        if kb is not None:
            series.append((time.time() - t0, kb))
        time.sleep(every)
    if sampler.poll() is None:
        problems.append('hang: pyspy-sample still running %.0f s after its %g s duration'
                        % (time.time() - t0 - seconds, seconds))
        sampler.send_signal(signal.SIGABRT)
        try:
            sampler.wait(5)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()
    rc = sampler.returncode
    if churn.poll() is not None:
        problems.append('the target died under the sampler (exit %s)' % churn.returncode)
    else:
        churn.terminate()
    churn.wait()
    with open(err_path) as f:
        err_text = f.read()
    if rc < 0:
        problems.append('crash: pyspy-sample killed by signal %d' % -rc)
    elif rc != 0:
        problems.append('pyspy-sample exited %d: %s' % (rc, err_text.strip()[-300:]))
    fig = {'seconds': seconds, 'rate': rate, 'exit': rc, 'rss': series}
    m = SUMMARY.search(err_text)
    if m:
        fig['samples'], fig['errors'] = int(m.group(1)), int(m.group(4))
        fig['hz'] = float(m.group(3))
        fig['late'] = int(m.group(5) or 0)
        fig['worst_late_ms'] = float(m.group(6) or 0)
        # errors count failed snapshots plus read errors inside snapshots,
        # so this is a lower bound of the good share
        fig['good_share'] = (max(0, fig['samples'] - fig['errors']) / fig['samples']
                             if fig['samples'] else 0.0)
        if not fig['samples']:
            problems.append('no samples taken')
    elif rc == 0:
        problems.append('no summary line from pyspy-sample: %r' % err_text[-300:])
    info = subprocess.run([os.path.join(bindir, 'pyspy-index'), '--info', stream],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, errors='replace')
    first = info.stdout.split('\n', 1)[0]
    if info.returncode != 0 or '(complete)' not in first:
        problems.append('the stream does not read back complete: %s%s'
                        % (first, info.stderr.strip()))
    fig['stream_bytes'] = os.path.getsize(stream) if os.path.exists(stream) else 0
    ok, early, late = rss_bounded(series, (slack_mb or 0) * 1024)
    fig['rss_early_kb'], fig['rss_late_kb'] = early, late
    if slack_mb is not None and not ok:
        problems.append('RSS grew from %d kB (first third) to %d kB (last third)'
                        % (early, late))
    if not out:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)
    return problems, fig


def report(fig):
    lines = []
    if 'samples' in fig:
        lines.append('samples %d in %g s (%.1f Hz at --rate %d), errors %d, good share %.2f%%, '
                     'late %d (worst %.1f ms)'
                     % (fig['samples'], fig['seconds'], fig['hz'], fig['rate'], fig['errors'],
                        100 * fig['good_share'], fig['late'], fig['worst_late_ms']))
    kbs = [kb for _, kb in fig['rss']]
    if kbs:
        lines.append('sampler RSS: min %d kB, max %d kB; first third max %d kB, last third '
                     'max %d kB (%d readings)' % (min(kbs), max(kbs), fig['rss_early_kb'],
                                                   fig['rss_late_kb'], len(kbs)))
    lines.append('stream: %d bytes' % fig['stream_bytes'])
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('minutes', type=float)
    ap.add_argument('--bin', default=os.path.join(os.path.dirname(HERE), 'build', 'bin'))
    ap.add_argument('--python', default='/usr/bin/python3.11')
    ap.add_argument('--rate', type=int, default=100)
    ap.add_argument('--rss-slack', type=float, default=16, help='MB (default 16)')
    args = ap.parse_args()
    seconds = args.minutes * 60
    print('soak: pyspy-sample --nonblocking -r %d -d %g against %s %s'
          % (args.rate, seconds, args.python, CHURN))
    slack = args.rss_slack
    if sanitized(os.path.join(args.bin, 'pyspy-sample')):
        print('NOTE a sanitizer build: RSS is reported, not checked')
        slack = None
    problems, fig = run_soak(args.bin, args.python, seconds, args.rate,
                             every=max(1.0, seconds / 120), slack_mb=slack)
    step = max(1, len(fig['rss']) // 12)
    print('RSS over time: ' + ', '.join('%.0fs %d kB' % (t, kb)
                                         for t, kb in fig['rss'][::step]))
    for line in report(fig):
        print(line)
    for p in problems:
        print('FAIL %s' % p)
    print('soak: %s' % ('FAIL' if problems else 'PASS'))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
