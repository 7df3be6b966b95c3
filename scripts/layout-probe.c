/* layout-probe.c: print the struct layouts pyspy needs, as seen by one
 * CPython's own headers.
 *
 * Built by scripts/gen-layouts.sh once per interpreter, with that
 * interpreter's include directory as the only Python include path
 * (-isystem .../include/pythonX.Y), then run on the build machine.  It
 * prints one "field value" line per member of struct ps_layout
 * (lib/ps_layout.h), in any order; the generator sorts them into the
 * struct's order and refuses to write the table if any field is missing or
 * printed twice.  Everything below is offsetof/sizeof or a constant from the
 * headers; the few places where a struct is not in the installed headers
 * and had to be mirrored by hand are marked MIRROR and explained there.
 *
 * Besides the fields it prints "#pyversion X.Y.Z" (PY_VERSION of the
 * headers) for the comment in the generated file. */

/* patchlevel.h needs nothing else, so the version is known before we decide
 * how to include the rest. */
#include "patchlevel.h"

#define HEX_AT_LEAST(maj, min) (PY_VERSION_HEX >= (((maj) << 24) | ((min) << 16)))
#define PY2 (PY_MAJOR_VERSION == 2)

/* The internal headers (internal/... in 3.7, internal/pycore_*.h from 3.8)
 * refuse to be included without Py_BUILD_CORE.  It only switches some
 * inline helpers and exports; it does not change any struct layout.  It is
 * not defined for 2.7 and 3.6, which have no internal headers. */
#if HEX_AT_LEAST(3, 7)
#define Py_BUILD_CORE 1
#endif

#include "Python.h"

#include <stddef.h>
#include <stdio.h>

#if PY2
#include "frameobject.h"  /* PyFrameObject */
#include "code.h"         /* PyCodeObject */
#include "longintrepr.h"  /* PyLongObject, digit, PyLong_SHIFT */
#elif !HEX_AT_LEAST(3, 11)
#include "frameobject.h"
#include "code.h"
#include "longintrepr.h"
#endif

#if HEX_AT_LEAST(3, 9)
#include "internal/pycore_runtime.h"  /* _PyRuntimeState */
#include "internal/pycore_interp.h"   /* PyInterpreterState */
#include "internal/pycore_gil.h"      /* struct _gil_runtime_state */
#elif HEX_AT_LEAST(3, 8)
#include "internal/pycore_pystate.h"  /* _PyRuntimeState, PyInterpreterState */
#include "internal/pycore_gil.h"
#elif HEX_AT_LEAST(3, 7)
#include "internal/pystate.h"         /* _PyRuntimeState */
#include "internal/gil.h"             /* struct _gil_runtime_state */
#endif

#if HEX_AT_LEAST(3, 10)
#include "internal/pycore_moduleobject.h"  /* PyModuleObject */
#endif

#if HEX_AT_LEAST(3, 11)
#include "internal/pycore_frame.h"    /* _PyInterpreterFrame, FRAME_OWNED_BY_* */
#include "internal/pycore_code.h"     /* CO_FAST_* */
#include "internal/pycore_dict.h"     /* PyDictKeysObject, entries, values */
#endif

#if HEX_AT_LEAST(3, 13)
#include "internal/pycore_runtime.h"  /* _Py_DebugOffsets */
#endif

/* ---- hand mirrors of structs the installed headers do not declare ---- */

#if !PY2 && !HEX_AT_LEAST(3, 11)
/* MIRROR: PyDictKeysObject and PyDictKeyEntry, 3.6 to 3.10.  They live in
 * Objects/dict-common.h, which is not installed.  The layout is the same
 * in every release of those versions:
 *     Py_ssize_t dk_refcnt; Py_ssize_t dk_size; dict_lookup_func dk_lookup;
 *     Py_ssize_t dk_usable; Py_ssize_t dk_nentries; <dk_indices>
 * where dk_indices is "char dk_indices[]" in 3.7-3.10 and, in 3.6, a union
 * { int8_t as_1[8]; int16_t as_2[4]; int32_t as_4[2]; int64_t as_8[1]; }
 * (on 64-bit) starting at the same offset.  The entries array follows the
 * indices and is not a member, so only its element size matters:
 * PyDictKeyEntry { Py_hash_t me_hash; PyObject *me_key; PyObject *me_value; }.
 * (3.3-3.5 had no dk_nentries; pyspy does not support them.)  These
 * mirrors use the headers' own Py_ssize_t/Py_hash_t/PyObject. */
typedef struct {
	Py_hash_t me_hash;
	PyObject *me_key;
	PyObject *me_value;
} probe_dict_key_entry;

struct probe_dict_keys {
	Py_ssize_t dk_refcnt;
	Py_ssize_t dk_size;
	void *dk_lookup; /* dict_lookup_func: a function pointer */
	Py_ssize_t dk_usable;
	Py_ssize_t dk_nentries;
#if HEX_AT_LEAST(3, 7)
	char dk_indices[];
#else
	union {
		int8_t as_1[8];
		int16_t as_2[4];
		int32_t as_4[2];
		int64_t as_8[1];
	} dk_indices;
#endif
};
#endif

#if !HEX_AT_LEAST(3, 10)
/* MIRROR: PyModuleObject, 2.7 to 3.9.  It is private to
 * Objects/moduleobject.c until 3.10 moved it to
 * internal/pycore_moduleobject.h.  md_dict is the first member after
 * PyObject_HEAD in every one of those versions (2.7 has only md_dict; 3.x
 * adds md_def, md_state, md_weaklist, md_name after it). */
typedef struct {
	PyObject_HEAD
	PyObject *md_dict;
} probe_module_object;
#endif

/* ---- output ---- */

#define FIELD(name, value) printf("%s %lld\n", #name, (long long)(value))
#define NONE(name) printf("%s none\n", #name)
#define OFF(name, type, member) FIELD(name, offsetof(type, member))
#define SIZE(name, type) FIELD(name, sizeof(type))

int main(void)
{
	printf("#pyversion %s\n", PY_VERSION);
	FIELD(version, PY_MAJOR_VERSION << 8 | PY_MINOR_VERSION);
	FIELD(hexversion, PY_VERSION_HEX);

	/* _PyRuntimeState */
#if HEX_AT_LEAST(3, 7)
	SIZE(runtime_size, _PyRuntimeState);
	OFF(runtime_interp_head, _PyRuntimeState, interpreters.head);
	OFF(runtime_interp_main, _PyRuntimeState, interpreters.main);
#else
	NONE(runtime_size);
	NONE(runtime_interp_head);
	NONE(runtime_interp_main);
#endif
#if HEX_AT_LEAST(3, 7) && !HEX_AT_LEAST(3, 12)
	OFF(runtime_tstate_current, _PyRuntimeState, gilstate.tstate_current);
#else
	/* 3.12 made the current thread state a C thread-local. */
	NONE(runtime_tstate_current);
#endif

	/* PyInterpreterState */
	SIZE(interp_size, PyInterpreterState);
	OFF(interp_next, PyInterpreterState, next);
#if HEX_AT_LEAST(3, 11)
	/* 3.11 (not 3.12) moved tstate_head into struct pythreads. */
	OFF(interp_tstate_head, PyInterpreterState, threads.head);
#else
	OFF(interp_tstate_head, PyInterpreterState, tstate_head);
#endif
#if HEX_AT_LEAST(3, 12)
	OFF(interp_modules, PyInterpreterState, imports.modules);
	OFF(interp_gil, PyInterpreterState, ceval.gil);
#else
	OFF(interp_modules, PyInterpreterState, modules);
	NONE(interp_gil);
#endif

	/* struct _gil_runtime_state: per interpreter (ceval.gil) from 3.12,
	 * _PyRuntime.ceval.gil in 3.7-3.11; 2.7 and 3.6 keep the GIL in static
	 * variables of Python/ceval_gil.h. */
#if HEX_AT_LEAST(3, 7)
	OFF(gil_locked, struct _gil_runtime_state, locked);
	OFF(gil_last_holder, struct _gil_runtime_state, last_holder);
#else
	NONE(gil_locked);
	NONE(gil_last_holder);
#endif

	/* PyThreadState */
	SIZE(tstate_size, PyThreadState);
#if PY_MAJOR_VERSION >= 3
	OFF(tstate_prev, PyThreadState, prev);
#else
	NONE(tstate_prev);
#endif
	OFF(tstate_next, PyThreadState, next);
	OFF(tstate_interp, PyThreadState, interp);
#if HEX_AT_LEAST(3, 11)
	NONE(tstate_frame);
#else
	OFF(tstate_frame, PyThreadState, frame);
#endif
#if HEX_AT_LEAST(3, 11) && !HEX_AT_LEAST(3, 13)
	OFF(tstate_cframe, PyThreadState, cframe);
	OFF(cframe_current_frame, _PyCFrame, current_frame);
#else
	NONE(tstate_cframe);
	NONE(cframe_current_frame);
#endif
#if HEX_AT_LEAST(3, 13)
	OFF(tstate_current_frame, PyThreadState, current_frame);
#else
	NONE(tstate_current_frame);
#endif
	OFF(tstate_thread_id, PyThreadState, thread_id);
#if HEX_AT_LEAST(3, 11)
	/* PyThreadState.native_thread_id first appears in 3.11; 3.8 only
	 * added PyThread_get_thread_native_id(), not a thread-state field. */
	OFF(tstate_native_thread_id, PyThreadState, native_thread_id);
	OFF(tstate_datastack_chunk, PyThreadState, datastack_chunk);
	OFF(tstate_datastack_top, PyThreadState, datastack_top);
	OFF(tstate_datastack_limit, PyThreadState, datastack_limit);
	OFF(chunk_previous, _PyStackChunk, previous);
	OFF(chunk_size, _PyStackChunk, size);
	OFF(chunk_top, _PyStackChunk, top);
	OFF(chunk_data, _PyStackChunk, data);
#else
	NONE(tstate_native_thread_id);
	NONE(tstate_datastack_chunk);
	NONE(tstate_datastack_top);
	NONE(tstate_datastack_limit);
	NONE(chunk_previous);
	NONE(chunk_size);
	NONE(chunk_top);
	NONE(chunk_data);
#endif

	/* PyFrameObject (the frame stack itself up to 3.10) */
#if HEX_AT_LEAST(3, 11)
	NONE(frame_size);
	NONE(frame_back);
	NONE(frame_code);
	NONE(frame_lasti);
	NONE(frame_lineno);
	NONE(frame_localsplus);
#else
	SIZE(frame_size, PyFrameObject);
	OFF(frame_back, PyFrameObject, f_back);
	OFF(frame_code, PyFrameObject, f_code);
	OFF(frame_lasti, PyFrameObject, f_lasti);
	OFF(frame_lineno, PyFrameObject, f_lineno);
	OFF(frame_localsplus, PyFrameObject, f_localsplus);
#endif

	/* _PyInterpreterFrame */
#if HEX_AT_LEAST(3, 11)
	SIZE(iframe_size, _PyInterpreterFrame);
#if HEX_AT_LEAST(3, 13)
	OFF(iframe_code, _PyInterpreterFrame, f_executable);
	OFF(iframe_instr, _PyInterpreterFrame, instr_ptr);
#else
	OFF(iframe_code, _PyInterpreterFrame, f_code);
	OFF(iframe_instr, _PyInterpreterFrame, prev_instr);
#endif
	OFF(iframe_previous, _PyInterpreterFrame, previous);
	OFF(iframe_localsplus, _PyInterpreterFrame, localsplus);
	OFF(iframe_owner, _PyInterpreterFrame, owner);
#if HEX_AT_LEAST(3, 12)
	NONE(iframe_is_entry);
#else
	OFF(iframe_is_entry, _PyInterpreterFrame, is_entry);
#endif
	OFF(iframe_stacktop, _PyInterpreterFrame, stacktop);
#else
	NONE(iframe_size);
	NONE(iframe_code);
	NONE(iframe_instr);
	NONE(iframe_previous);
	NONE(iframe_localsplus);
	NONE(iframe_owner);
	NONE(iframe_is_entry);
	NONE(iframe_stacktop);
#endif

	/* PyCodeObject */
	SIZE(code_size, PyCodeObject);
	OFF(code_argcount, PyCodeObject, co_argcount);
#if HEX_AT_LEAST(3, 8)
	OFF(code_posonlyargcount, PyCodeObject, co_posonlyargcount);
#else
	NONE(code_posonlyargcount);
#endif
#if PY2
	NONE(code_kwonlyargcount);
#else
	OFF(code_kwonlyargcount, PyCodeObject, co_kwonlyargcount);
#endif
	OFF(code_nlocals, PyCodeObject, co_nlocals);
	OFF(code_flags, PyCodeObject, co_flags);
	OFF(code_firstlineno, PyCodeObject, co_firstlineno);
	OFF(code_filename, PyCodeObject, co_filename);
	OFF(code_name, PyCodeObject, co_name);
#if HEX_AT_LEAST(3, 10)
	OFF(code_linetable, PyCodeObject, co_linetable);
#else
	OFF(code_linetable, PyCodeObject, co_lnotab);
#endif
#if HEX_AT_LEAST(3, 11)
	OFF(code_qualname, PyCodeObject, co_qualname);
	OFF(code_varnames, PyCodeObject, co_localsplusnames);
	OFF(code_localspluskinds, PyCodeObject, co_localspluskinds);
	OFF(code_code_adaptive, PyCodeObject, co_code_adaptive);
#else
	NONE(code_qualname);
	OFF(code_varnames, PyCodeObject, co_varnames);
	NONE(code_localspluskinds);
	NONE(code_code_adaptive);
#endif

	/* PyObject, PyVarObject, PyTypeObject, PyHeapTypeObject */
	OFF(object_type, PyObject, ob_type);
	OFF(varobject_size, PyVarObject, ob_size);
	OFF(type_name, PyTypeObject, tp_name);
	OFF(type_basicsize, PyTypeObject, tp_basicsize);
	OFF(type_flags, PyTypeObject, tp_flags);
	OFF(type_dictoffset, PyTypeObject, tp_dictoffset);
#if PY2
	NONE(heaptype_cached_keys);
#else
	OFF(heaptype_cached_keys, PyHeapTypeObject, ht_cached_keys);
#endif

	/* str */
#if PY2
	OFF(unicode_length, PyUnicodeObject, length);
	NONE(unicode_state);
	NONE(unicode_ascii_size);
	NONE(unicode_compact_size);
	OFF(unicode_data, PyUnicodeObject, str);
	SIZE(unicode_char_size, Py_UNICODE);
#else
	OFF(unicode_length, PyASCIIObject, length);
	OFF(unicode_state, PyASCIIObject, state);
	SIZE(unicode_ascii_size, PyASCIIObject);
	SIZE(unicode_compact_size, PyCompactUnicodeObject);
	OFF(unicode_data, PyUnicodeObject, data);
	FIELD(unicode_char_size, 0);
#endif

	/* bytes, tuple, list */
#if PY2
	OFF(bytes_sval, PyStringObject, ob_sval);
#else
	OFF(bytes_sval, PyBytesObject, ob_sval);
#endif
	OFF(tuple_item, PyTupleObject, ob_item);
	OFF(list_item, PyListObject, ob_item);

	/* PyDictObject and its keys */
	OFF(dict_used, PyDictObject, ma_used);
#if PY2
	OFF(dict_keys, PyDictObject, ma_table);
	NONE(dict_values);
	OFF(dict_mask, PyDictObject, ma_mask);
	SIZE(dict_entry_size, PyDictEntry);
	NONE(dict_unicode_entry_size);
	NONE(keys_size);
	NONE(keys_log2_size);
	NONE(keys_log2_index_bytes);
	NONE(keys_kind);
	NONE(keys_nentries);
	NONE(keys_indices);
	NONE(values_values);
#else
	OFF(dict_keys, PyDictObject, ma_keys);
	OFF(dict_values, PyDictObject, ma_values);
	NONE(dict_mask);
#if HEX_AT_LEAST(3, 11)
	SIZE(dict_entry_size, PyDictKeyEntry);
	SIZE(dict_unicode_entry_size, PyDictUnicodeEntry);
	NONE(keys_size);
	OFF(keys_log2_size, PyDictKeysObject, dk_log2_size);
	OFF(keys_log2_index_bytes, PyDictKeysObject, dk_log2_index_bytes);
	OFF(keys_kind, PyDictKeysObject, dk_kind);
	OFF(keys_nentries, PyDictKeysObject, dk_nentries);
	OFF(keys_indices, PyDictKeysObject, dk_indices);
	OFF(values_values, PyDictValues, values);
#else
	SIZE(dict_entry_size, probe_dict_key_entry);     /* MIRROR, see above */
	NONE(dict_unicode_entry_size);
	OFF(keys_size, struct probe_dict_keys, dk_size); /* MIRROR */
	NONE(keys_log2_size);
	NONE(keys_log2_index_bytes);
	NONE(keys_kind);
	OFF(keys_nentries, struct probe_dict_keys, dk_nentries);
	OFF(keys_indices, struct probe_dict_keys, dk_indices);
	NONE(values_values);
#endif
#endif

	/* int / long / float */
#if PY2
	OFF(int_ival, PyIntObject, ob_ival);
#else
	NONE(int_ival);
#endif
#if HEX_AT_LEAST(3, 12)
	OFF(long_digit, PyLongObject, long_value.ob_digit);
	OFF(long_tag, PyLongObject, long_value.lv_tag);
#else
	OFF(long_digit, PyLongObject, ob_digit);
	NONE(long_tag);
#endif
	SIZE(long_digit_size, digit);
	FIELD(long_shift, PyLong_SHIFT);
	OFF(float_fval, PyFloatObject, ob_fval);

	/* PySetObject */
	OFF(set_used, PySetObject, used);
	OFF(set_mask, PySetObject, mask);
	OFF(set_table, PySetObject, table);
	SIZE(set_entry_size, setentry);

	/* PyModuleObject */
#if HEX_AT_LEAST(3, 10)
	OFF(module_dict, PyModuleObject, md_dict);
#else
	OFF(module_dict, probe_module_object, md_dict); /* MIRROR, see above */
#endif

	/* constants */
#ifdef Py_TPFLAGS_MANAGED_DICT
	FIELD(tpflags_managed_dict, Py_TPFLAGS_MANAGED_DICT);
#else
	FIELD(tpflags_managed_dict, 0);
#endif
#ifdef Py_TPFLAGS_INLINE_VALUES
	FIELD(tpflags_inline_values, Py_TPFLAGS_INLINE_VALUES);
#else
	FIELD(tpflags_inline_values, 0);
#endif
	FIELD(co_varargs, CO_VARARGS);
	FIELD(co_varkeywords, CO_VARKEYWORDS);
	/* enum _frameowner: enumerators, so no #ifdef; by version instead. */
#if HEX_AT_LEAST(3, 12)
	FIELD(frame_owned_by_cstack, FRAME_OWNED_BY_CSTACK);
#else
	NONE(frame_owned_by_cstack);
#endif
#if HEX_AT_LEAST(3, 11)
	FIELD(frame_owned_by_generator, FRAME_OWNED_BY_GENERATOR);
	FIELD(co_fast_local, CO_FAST_LOCAL);
	FIELD(co_fast_cell, CO_FAST_CELL);
	FIELD(co_fast_free, CO_FAST_FREE);
#else
	NONE(frame_owned_by_generator);
	FIELD(co_fast_local, 0);
	FIELD(co_fast_cell, 0);
	FIELD(co_fast_free, 0);
#endif

	/* _Py_DebugOffsets: where each figure sits inside the struct at the
	 * start of _PyRuntime.  Note that gil_runtime_state_locked/holder are
	 * offsets from PyInterpreterState (of its embedded _gil), not from
	 * struct _gil_runtime_state like gil_locked above. */
#if HEX_AT_LEAST(3, 13)
	OFF(dbg_cookie, _Py_DebugOffsets, cookie);
	OFF(dbg_version, _Py_DebugOffsets, version);
	OFF(dbg_runtime_interp_head, _Py_DebugOffsets, runtime_state.interpreters_head);
	OFF(dbg_interp_next, _Py_DebugOffsets, interpreter_state.next);
	OFF(dbg_interp_threads_head, _Py_DebugOffsets, interpreter_state.threads_head);
	OFF(dbg_interp_modules, _Py_DebugOffsets, interpreter_state.imports_modules);
	OFF(dbg_interp_gil, _Py_DebugOffsets, interpreter_state.ceval_gil);
	OFF(dbg_gil_locked, _Py_DebugOffsets, interpreter_state.gil_runtime_state_locked);
	OFF(dbg_gil_holder, _Py_DebugOffsets, interpreter_state.gil_runtime_state_holder);
	OFF(dbg_tstate_prev, _Py_DebugOffsets, thread_state.prev);
	OFF(dbg_tstate_next, _Py_DebugOffsets, thread_state.next);
	OFF(dbg_tstate_interp, _Py_DebugOffsets, thread_state.interp);
	OFF(dbg_tstate_current_frame, _Py_DebugOffsets, thread_state.current_frame);
	OFF(dbg_tstate_thread_id, _Py_DebugOffsets, thread_state.thread_id);
	OFF(dbg_tstate_native_thread_id, _Py_DebugOffsets, thread_state.native_thread_id);
	OFF(dbg_tstate_datastack_chunk, _Py_DebugOffsets, thread_state.datastack_chunk);
	OFF(dbg_iframe_previous, _Py_DebugOffsets, interpreter_frame.previous);
	OFF(dbg_iframe_executable, _Py_DebugOffsets, interpreter_frame.executable);
	OFF(dbg_iframe_instr_ptr, _Py_DebugOffsets, interpreter_frame.instr_ptr);
	OFF(dbg_iframe_localsplus, _Py_DebugOffsets, interpreter_frame.localsplus);
	OFF(dbg_iframe_owner, _Py_DebugOffsets, interpreter_frame.owner);
	OFF(dbg_code_filename, _Py_DebugOffsets, code_object.filename);
	OFF(dbg_code_name, _Py_DebugOffsets, code_object.name);
	OFF(dbg_code_qualname, _Py_DebugOffsets, code_object.qualname);
	OFF(dbg_code_linetable, _Py_DebugOffsets, code_object.linetable);
	OFF(dbg_code_firstlineno, _Py_DebugOffsets, code_object.firstlineno);
	OFF(dbg_code_argcount, _Py_DebugOffsets, code_object.argcount);
	OFF(dbg_code_localsplusnames, _Py_DebugOffsets, code_object.localsplusnames);
	OFF(dbg_code_localspluskinds, _Py_DebugOffsets, code_object.localspluskinds);
	OFF(dbg_code_co_code_adaptive, _Py_DebugOffsets, code_object.co_code_adaptive);
	SIZE(dbg_size, _Py_DebugOffsets);
#else
	NONE(dbg_cookie);
	NONE(dbg_version);
	NONE(dbg_runtime_interp_head);
	NONE(dbg_interp_next);
	NONE(dbg_interp_threads_head);
	NONE(dbg_interp_modules);
	NONE(dbg_interp_gil);
	NONE(dbg_gil_locked);
	NONE(dbg_gil_holder);
	NONE(dbg_tstate_prev);
	NONE(dbg_tstate_next);
	NONE(dbg_tstate_interp);
	NONE(dbg_tstate_current_frame);
	NONE(dbg_tstate_thread_id);
	NONE(dbg_tstate_native_thread_id);
	NONE(dbg_tstate_datastack_chunk);
	NONE(dbg_iframe_previous);
	NONE(dbg_iframe_executable);
	NONE(dbg_iframe_instr_ptr);
	NONE(dbg_iframe_localsplus);
	NONE(dbg_iframe_owner);
	NONE(dbg_code_filename);
	NONE(dbg_code_name);
	NONE(dbg_code_qualname);
	NONE(dbg_code_linetable);
	NONE(dbg_code_firstlineno);
	NONE(dbg_code_argcount);
	NONE(dbg_code_localsplusnames);
	NONE(dbg_code_localspluskinds);
	NONE(dbg_code_co_code_adaptive);
	NONE(dbg_size);
#endif
	return ferror(stdout) ? 1 : 0;
}
