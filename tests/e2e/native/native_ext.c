/* A C extension for the native-frame tests, built at test time against each
 * interpreter's own headers (2.7 and 3.x APIs):
 *   call_back(f)   calls f() from C, so a C frame sits between two Python
 *                  frames
 *   spin(seconds)  burns CPU in C (holding the GIL) for that long
 * Built with -O0 so that neither function is inlined or tail-called away:
 * the tests expect both frames on the stack, by these names. */
#include <Python.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PyObject *spin(PyObject *self, PyObject *args)
{
	double seconds, end;
	volatile unsigned long n = 0;
	(void)self;
	if (!PyArg_ParseTuple(args, "d", &seconds))
		return NULL;
	end = now() + seconds;
	while (now() < end)
		n++;
	return PyLong_FromUnsignedLong(n);
}

static PyObject *call_back(PyObject *self, PyObject *args)
{
	PyObject *f, *r;
	(void)self;
	if (!PyArg_ParseTuple(args, "O", &f))
		return NULL;
	r = PyObject_CallObject(f, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_NONE; /* not a tail call: this frame stays on the stack */
}

static PyMethodDef methods[] = {
	{ "spin", spin, METH_VARARGS, "spin(seconds): burn CPU in C" },
	{ "call_back", call_back, METH_VARARGS, "call_back(f): call f() from C" },
	{ NULL, NULL, 0, NULL },
};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef module = { PyModuleDef_HEAD_INIT, "native_ext", NULL, -1, methods,
				     NULL, NULL, NULL, NULL };

PyMODINIT_FUNC PyInit_native_ext(void)
{
	return PyModule_Create(&module);
}
#else
PyMODINIT_FUNC initnative_ext(void)
{
	Py_InitModule("native_ext", methods);
}
#endif
