# -*- coding: utf-8 -*-
# Target program for the pyspy-dump end-to-end test (tests/e2e/run.py).
#
#   python target_dump.py OUTFILE
#
# Runs unchanged on Python 2.7 and 3.6-3.13.  It starts threads that block at
# known places (deep recursion, time.sleep in a method, inside a generator, in
# a hand-driven coroutine, in a lambda, in a function with a non-ASCII name,
# in a function full of locals, in a thread unknown to `threading`), one thread
# that spins in pure Python, and blocks the main thread.  Once every thread is
# parked, a reporter thread snapshots sys._current_frames() and writes OUTFILE
# (atomically) as JSON: for every thread but itself its ids, name, frames
# (innermost first) and, for selected frames, the locals pyspy-dump --locals
# must print, computed with the repr rules of the pyspy-dump contract
# (repr_value below).  Then the reporter exits and the process stays parked
# until it is killed (or SIGALRM after $PYSPY_E2E_TARGET_TIMEOUT seconds,
# default 300, so it never outlives a crashed driver for long).
#
# Nothing is printed on stdout; errors go to stderr and exit the process.
from __future__ import print_function

import io
import json
import os
import platform
import signal
import sys
import threading
import time
import traceback

try:
    import _thread as thread_mod
except ImportError:  # Python 2
    import thread as thread_mod

PY3 = sys.version_info[0] >= 3
if PY3:
    text_type = str
    int_types = (int,)
else:
    text_type = unicode  # noqa: F821
    int_types = (int, long)  # noqa: F821

get_ident = thread_mod.get_ident

# ---------------------------------------------------------------------------
# OS thread ids

_GETTID = {'x86_64': 186, 'amd64': 186, 'aarch64': 178, 'arm64': 178,
           'i386': 224, 'i686': 224}


def _make_gettid():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        nr = _GETTID.get(platform.machine().lower())
        if nr is not None:
            return lambda: int(libc.syscall(nr))
    except Exception:
        pass
    if hasattr(threading, 'get_native_id'):
        return threading.get_native_id
    return lambda: None


gettid = _make_gettid()
TIDS = {}  # ident -> OS thread id


def register_tid():
    tid = gettid()
    if hasattr(threading, 'get_native_id') and tid is not None:
        if tid != threading.get_native_id():
            warn('gettid %r != threading.get_native_id() %r'
                 % (tid, threading.get_native_id()))
    TIDS[get_ident()] = tid


# ---------------------------------------------------------------------------
# Errors: any failure anywhere kills the whole process with a message.

def warn(msg):
    sys.stderr.write('target_dump: %s\n' % msg)
    sys.stderr.flush()


def die(msg):
    warn(msg)
    os._exit(3)


def guarded(fn):
    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except BaseException:
            warn('uncaught exception in thread %r:' % get_ident())
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)
    return wrapper


# ---------------------------------------------------------------------------
# Expected reprs, following the pyspy-dump contract:
#  - None/True/False as printed; ints in full decimal if at most 200 digits
#    else "<int>"; floats as Python 3 repr (2.7 has the same short repr);
#  - text (py3 str, py2 unicode, py2 str decoded as UTF-8 with 'replace'):
#    Python 3 repr of at most 64 characters, "..." appended when cut;
#    py3 bytes likewise with repr(bytes);
#  - list/tuple/dict/set/frozenset: "<type>(<len>) " then the first 4 items
#    in iteration order (containers inside shown as "<type>(<len>)"), ", ..."
#    if there are more;
#  - anything else: "<TypeName at 0x...>".

MAX_INT_DIGITS = 200
MAX_STR = 64
MAX_ITEMS = 4
CONTAINERS = {list: 'list', tuple: 'tuple', dict: 'dict', set: 'set',
              frozenset: 'frozenset'}
_NONPRINTABLE_CATEGORIES = ('Cc', 'Cf', 'Cs', 'Co', 'Cn', 'Zl', 'Zp', 'Zs')


def _is_printable(ch):
    if PY3:
        return ch.isprintable()
    import unicodedata
    return ch == u' ' or \
        unicodedata.category(ch) not in _NONPRINTABLE_CATEGORIES


def py3_text_repr(u):
    """repr() of a Python 3 str, for text given as unicode (any version).
    Only exact for BMP characters on narrow Python 2 builds."""
    quote = u"'"
    if u"'" in u and u'"' not in u:
        quote = u'"'
    out = [quote]
    for ch in u:
        o = ord(ch)
        if ch == quote or ch == u'\\':
            out.append(u'\\' + ch)
        elif ch == u'\t':
            out.append(u'\\t')
        elif ch == u'\n':
            out.append(u'\\n')
        elif ch == u'\r':
            out.append(u'\\r')
        elif o < 0x20 or o == 0x7f:
            out.append(u'\\x%02x' % o)
        elif o < 0x7f:
            out.append(ch)
        elif _is_printable(ch):
            out.append(ch)
        elif o <= 0xff:
            out.append(u'\\x%02x' % o)
        elif o <= 0xffff:
            out.append(u'\\u%04x' % o)
        else:
            out.append(u'\\U%08x' % o)
    out.append(quote)
    return u''.join(out)


def text_repr(u):
    cut = u[:MAX_STR]
    r = repr(cut) if PY3 else py3_text_repr(cut)
    return r + (u'...' if len(u) > MAX_STR else u'')


def type_name(x):
    """tp_name: __name__ for heap types, the C tp_name for static types."""
    t = type(x)
    if t.__flags__ & (1 << 9):  # Py_TPFLAGS_HEAPTYPE
        return t.__name__
    mod = getattr(t, '__module__', None)
    if mod in (None, 'builtins', '__builtin__'):
        return t.__name__
    return '%s.%s' % (mod, t.__name__)


def repr_value(x, nested=False):
    t = type(x)
    if x is None or t is bool:
        return text_type(x)
    if t in int_types:
        s = text_type(x)  # no 'L' suffix for Python 2 long
        return s if len(s.lstrip(u'-')) <= MAX_INT_DIGITS else u'<int>'
    if t is float:
        return text_type(repr(x))
    if t is text_type:
        return text_repr(x)
    if PY3 and t is bytes:
        cut = x[:MAX_STR]
        return repr(cut) + ('...' if len(x) > MAX_STR else '')
    if not PY3 and t is str:
        return text_repr(x.decode('utf-8', 'replace'))
    if t in CONTAINERS:
        name = CONTAINERS[t]
        head = u'%s(%d)' % (name, len(x))
        if nested:
            return head
        if t is dict:
            items = [u'%s: %s' % (repr_value(k, True), repr_value(v, True))
                     for k, v in _first(x.items())]
        else:
            items = [repr_value(v, True) for v in _first(x)]
        if len(x) > MAX_ITEMS:
            items.append(u'...')
        body = u', '.join(items)
        if t is list:
            return u'%s [%s]' % (head, body)
        if t is tuple:
            return u'%s (%s%s)' % (head, body, u',' if len(x) == 1 else u'')
        return u'%s {%s}' % (head, body)
    return u'<%s at 0x%x>' % (type_name(x), id(x))


def _first(iterable):
    out = []
    for item in iterable:
        if len(out) == MAX_ITEMS:
            break
        out.append(item)
    return out


CO_VARARGS = 0x04
CO_VARKEYWORDS = 0x08


def expected_locals(frame):
    """Bound locals in co_varnames order, without cell and free variables."""
    code = frame.f_code
    nargs = code.co_argcount + getattr(code, 'co_kwonlyargcount', 0)
    if code.co_flags & CO_VARARGS:
        nargs += 1
    if code.co_flags & CO_VARKEYWORDS:
        nargs += 1
    skip = set(code.co_cellvars) | set(code.co_freevars)
    values = frame.f_locals
    out = []
    for i, name in enumerate(code.co_varnames):
        if name in skip or name not in values:
            continue
        out.append({'name': to_text(name), 'arg': i < nargs,
                    'repr': repr_value(values[name])})
    return out


def to_text(s):
    if s is None or isinstance(s, text_type):
        return s
    return s.decode('utf-8', 'replace')


# ---------------------------------------------------------------------------
# The threads.  Each sets READY[role] just before it blocks for good on
# BLOCK (an Event never set) or in time.sleep / a raw lock.

BLOCK = threading.Event()
READY = {}
ROLE_OF = {}      # ident -> role
RECURSION_DEPTH = 600


class Foo(object):
    pass


def recurse(n, ready):
    if n > 0:
        return recurse(n - 1, ready)
    ready.set()
    BLOCK.wait()  # block: recurse


class Sleeper(object):
    def nap(self, ready):
        ready.set()
        time.sleep(100000)  # block: sleeper


def gen_body(ready):
    yield 1
    ready.set()
    BLOCK.wait()  # block: generator
    yield 2


def drive_generator(ready):
    g = gen_body(ready)
    next(g)
    next(g)


def drive_coroutine(ready):
    c = NS['coro_body'](ready)
    try:
        c.send(None)
    except StopIteration:
        pass


lambda_blocker = lambda ready: (ready.set(), BLOCK.wait())  # noqa: E731


def with_locals(a, b, *args, **kw):
    v_none = None
    v_true = True
    v_false = False
    v_zero = 0
    v_neg = -5
    v_big = 2 ** 100
    v_negbig = -(2 ** 100)
    v_200_digits = 10 ** 200 - 1
    v_201_digits = 10 ** 200
    v_huge = 10 ** 250
    v_float = 0.1
    v_float_exp = 1e16
    v_negzero = -0.0
    v_inf = float('inf')
    v_nan = float('nan')
    v_third = 1 / 3.0
    v_tiny = 5e-324
    v_2_64 = 2 ** 64
    v_str = 'héllo'
    v_unicode = u'héllo λ'
    v_quote = "it's"
    v_ctrl = 'a\nb\t\x01\\'
    v_nul = 'nul\x00here'
    v_unul = u'u\x00'
    v_long_str = 'abcdefghij' * 10
    v_bytes = b'\x00ab'
    v_long_bytes = b'0123456789' * 10
    v_list = [1, 'a', 2.5]
    v_list10 = list(range(10))
    v_nested = [None, [1, 2], (3,), {'k': 'v'}, set()]
    v_empty_list = []
    v_tuple1 = (1,)
    v_empty_tuple = ()
    v_dict = {'a': 1, 'b': 2, 'c': 3, 'd': 4, 'e': 5, 'f': 6}
    v_empty_dict = {}
    v_set = set([3])
    v_set5 = set(['p', 'q', 'r', 's', 't'])
    v_empty_set = set()
    v_frozenset = frozenset()
    v_foo = Foo()
    if not PY3:
        v_bad_utf8 = '\xffab'
        v_long5 = long(5)  # noqa: F821
    if a == 12345:
        v_unbound = 1
    v_deleted = 1
    del v_deleted
    READY['locals'].set()
    BLOCK.wait()  # block: locals


def raw_body(ready):
    try:
        register_tid()
        ROLE_OF[get_ident()] = 'raw'
        lock = thread_mod.allocate_lock()
        lock.acquire()
        ready.set()
        lock.acquire()  # block: raw
    except BaseException:
        traceback.print_exc()
        os._exit(3)


def spin(ready):
    x = 0
    ready.set()
    while True:  # spin-loop-begin
        x += 1
        if x > 100000:
            x = 0  # spin-loop-end


def main_wait(count, label):
    foo = Foo()
    small = [count, label]
    READY['main'].set()
    BLOCK.wait()  # block: main


# Code compiled from strings: syntax Python 2 lacks, non-ASCII names/paths.
CORO_SRC = u'''\
async def coro_body(ready):
    x = 1
    ready.set()
    BLOCK.wait()  # block: coroutine
    return x
'''

NONASCII_SRC_PY3 = u'''\
def café_λ(ready):
    ready.set()
    BLOCK.wait()  # block: nonascii
'''

NONASCII_SRC_PY2 = u'''\
def nonascii_path(ready):
    ready.set()
    BLOCK.wait()  # block: nonascii
'''

NS = {}


def load_source(directory, filename, src):
    """Compile src as if it were the file directory/filename (also written
    there, best effort, for humans) and run it in NS."""
    path = os.path.join(directory, filename)
    if not PY3:
        path = path.encode('utf-8') if isinstance(path, text_type) else path
    try:
        with io.open(path, 'w', encoding='utf-8') as f:
            f.write(src)
    except Exception:
        pass
    ns = {'BLOCK': BLOCK, '__name__': 'dump_exec'}
    exec(compile(src, path, 'exec'), ns)
    for k, v in ns.items():
        if callable(v) and k != 'BLOCK':
            NS[k] = v
    return path


# ---------------------------------------------------------------------------

def thread_entry(role, fn, *args):
    @guarded
    def run():
        register_tid()
        ROLE_OF[get_ident()] = role
        fn(*args)
    return run


def start_thread(role, name, fn, *args):
    ready = READY[role] = threading.Event()
    t = threading.Thread(target=thread_entry(role, fn, *(args + (ready,))),
                         name=name)
    t.daemon = True
    t.start()
    return ready


def spin_lines():
    me = __file__
    if me.endswith(('.pyc', '.pyo')):
        me = me[:-1]
    with io.open(me, encoding='utf-8') as f:
        lines = f.read().splitlines()
    marker = '# spin-loop-'
    begin = [i + 1 for i, l in enumerate(lines) if l.endswith(marker + 'begin')]
    end = [i + 1 for i, l in enumerate(lines) if l.endswith(marker + 'end')]
    if len(begin) != 1 or len(end) != 1:
        die('cannot find the spin loop markers')
    return list(range(begin[0], end[0] + 1))


LOCALS_CODES = set()


def frame_info(f, main_module_frame):
    code = f.f_code
    info = {
        'function': to_text(code.co_name),
        'qualname': to_text(getattr(code, 'co_qualname', None)),
        'file': to_text(code.co_filename),
        'line': f.f_lineno,
    }
    if code in LOCALS_CODES or main_module_frame:
        info['locals'] = expected_locals(f)
    return info


def snapshot(me, main_ident, module_globals):
    current = sys._current_frames()
    names = dict((t.ident, t.name) for t in threading.enumerate())
    threads = []
    for ident, f in current.items():
        if ident == me:
            continue
        frames = []
        while f is not None:
            is_module = (ident == main_ident and f.f_back is None and
                         f.f_globals is module_globals and
                         f.f_code.co_name == '<module>')
            frames.append(frame_info(f, is_module))
            f = f.f_back
        role = 'main' if ident == main_ident else ROLE_OF.get(ident)
        threads.append({
            'ident': ident,
            'native_id': TIDS.get(ident),
            'name': to_text(names.get(ident)),
            'role': role,
            'spinning': role == 'spin',
            'sleeping': role != 'spin',
            'frames': frames,
        })
    threads.sort(key=lambda t: (t['role'] or '', t['ident']))
    return threads


def comparable(threads):
    out = []
    for t in threads:
        frames = t['frames']
        if t['spinning']:
            frames = [dict(frames[0], line=None)] + frames[1:]
        out.append((t['ident'], t['name'], json.dumps(frames, sort_keys=True)))
    return out


def reporter(outfile, main_ident, module_globals, blocking_roles):
    me = get_ident()
    deadline = time.time() + 15
    for role in blocking_roles:
        if not READY[role].wait(max(0.01, deadline - time.time())):
            die('thread %r never got ready' % role)
    time.sleep(0.3)
    # The spinner starts only once all other threads are parked, so it cannot
    # starve them of the GIL on their way to their blocking points.
    if not start_thread('spin', 'spinner', spin).wait(10):
        die('spinner never got ready')
    time.sleep(0.05)
    # Two snapshots must agree (except the spinner's line) before reporting.
    prev = None
    while True:
        threads = snapshot(me, main_ident, module_globals)
        if prev is not None and comparable(prev) == comparable(threads):
            break
        if time.time() > deadline:
            die('thread stacks never settled')
        prev = threads
        time.sleep(0.2)
    if len(TIDS) != len(threads) or \
            any(t['native_id'] is None for t in threads):
        die('%d threads registered their tid, %d in _current_frames: %r'
            % (len(TIDS), len(threads), TIDS))
    missing = set(r for r in blocking_roles + ['spin']) - \
        set(t['role'] for t in threads)
    if missing:
        die('threads missing from the snapshot: %s' % sorted(missing))
    for t in threads:
        if t['spinning']:
            t['spin_lines'] = spin_lines()
    data = {
        'pid': os.getpid(),
        'python_version': '%d.%d.%d' % tuple(sys.version_info[:3]),
        'executable': to_text(sys.executable),
        'argv': [to_text(a) for a in sys.argv],
        'recursion_depth': RECURSION_DEPTH,
        'threads': threads,
    }
    tmp = outfile + '.tmp'
    with open(tmp, 'w') as f:
        f.write(json.dumps(data, indent=1, sort_keys=True))
    os.rename(tmp, outfile)


def main():
    if len(sys.argv) != 2:
        die('usage: target_dump.py OUTFILE')
    outfile = os.path.abspath(sys.argv[1])
    signal.alarm(int(os.environ.get('PYSPY_E2E_TARGET_TIMEOUT', '300')))
    register_tid()
    sys.setrecursionlimit(RECURSION_DEPTH + 1000)
    directory = os.path.dirname(outfile)

    if sys.version_info >= (3, 5):
        load_source(directory, u'dump_exec.py', CORO_SRC)
    if PY3:
        load_source(directory, u'dump_\u00fcn\u00ef.py', NONASCII_SRC_PY3)
        nonascii = NS[u'caf\u00e9_\u03bb']
    else:
        load_source(directory, u'dump_\u00fcn\u00ef.py', NONASCII_SRC_PY2)
        nonascii = NS['nonascii_path']
    LOCALS_CODES.update([with_locals.__code__, main_wait.__code__])

    start_thread('recurse', 'recurse', recurse, RECURSION_DEPTH)
    start_thread('sleeper', 'sleeper', Sleeper().nap)
    start_thread('generator', 'generator', drive_generator)
    if sys.version_info >= (3, 5):
        start_thread('coroutine', 'coroutine', drive_coroutine)
    start_thread('lambda', 'lambda', lambda_blocker)
    start_thread('nonascii', 'nonascii', nonascii)
    start_thread('locals', 'with-locals',
                 lambda ready: with_locals(1, 'two', 3, 4.5, key='v'))
    READY['raw'] = threading.Event()
    thread_mod.start_new_thread(raw_body, (READY['raw'],))
    READY['main'] = threading.Event()
    blocking_roles = sorted(READY)

    rep = threading.Thread(
        target=guarded(reporter),
        args=(outfile, get_ident(), globals(), blocking_roles),
        name='reporter')
    rep.daemon = True
    rep.start()
    main_wait(3, 'main')


if __name__ == '__main__':
    try:
        main()  # block: main()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)
