/* Per-version layouts of the CPython structures pyspy reads.
 *
 * Every field is a byte offset (or a size) taken with offsetof/sizeof from
 * that version's own headers by scripts/gen-layouts.sh; the generated table
 * lives in lib/python/layouts.c and is committed.  PS_NONE marks a field the
 * version does not have.  Names follow CPython's, prefixed by the struct. */
#ifndef PS_LAYOUT_H
#define PS_LAYOUT_H

#include <stdint.h>

#define PS_NONE (-1)

/* Python version as major << 8 | minor, e.g. PS_PY(3, 11) == 0x30b. */
#define PS_PY(maj, min) ((maj) << 8 | (min))

struct ps_layout {
	int version;          /* PS_PY(major, minor) */
	const char *name;     /* "3.11" */
	int64_t hexversion;   /* PY_VERSION_HEX of the headers it came from */

	/* _PyRuntimeState (3.7+) */
	int runtime_size;
	int runtime_interp_head;       /* interpreters.head */
	int runtime_interp_main;       /* interpreters.main */
	int runtime_tstate_current;    /* gilstate.tstate_current (3.7-3.11) */

	/* PyInterpreterState */
	int interp_size;
	int interp_next;
	int interp_tstate_head;        /* tstate_head, or threads.head (3.11+) */
	int interp_modules;            /* modules, or imports.modules (3.12+) */
	int interp_gil;                /* ceval.gil pointer (3.12+) */

	/* struct _gil_runtime_state (3.12+: reached through interp_gil) */
	int gil_locked;                /* _Py_atomic_int locked */
	int gil_last_holder;           /* last_holder (a PyThreadState *) */

	/* PyThreadState */
	int tstate_size;
	int tstate_prev;               /* prev (3.x; 2.7 has none): PS_NONE when absent */
	int tstate_next;
	int tstate_interp;
	int tstate_frame;              /* frame (PyFrameObject *), up to 3.10 */
	int tstate_cframe;             /* cframe (_PyCFrame *), 3.11 and 3.12 */
	int tstate_current_frame;      /* current_frame, 3.13+ */
	int tstate_thread_id;          /* pthread_t */
	int tstate_native_thread_id;   /* OS tid, 3.11+ */
	int tstate_datastack_chunk;    /* 3.11+ */
	int tstate_datastack_top;
	int tstate_datastack_limit;

	/* _PyCFrame (3.11, 3.12) */
	int cframe_current_frame;

	/* _PyStackChunk (3.11+) */
	int chunk_previous;
	int chunk_size;
	int chunk_top;
	int chunk_data;

	/* PyFrameObject, up to 3.10 */
	int frame_size;                /* sizeof(PyFrameObject) */
	int frame_back;
	int frame_code;
	int frame_lasti;
	int frame_lineno;
	int frame_localsplus;

	/* _PyInterpreterFrame, 3.11+ */
	int iframe_size;
	int iframe_code;               /* f_code, or f_executable (3.13) */
	int iframe_previous;
	int iframe_instr;              /* prev_instr (3.11, 3.12) or instr_ptr (3.13) */
	int iframe_localsplus;
	int iframe_owner;              /* char owner */
	int iframe_is_entry;           /* bool is_entry, 3.11 only */
	int iframe_stacktop;

	/* PyCodeObject */
	int code_size;                 /* sizeof(PyCodeObject) */
	int code_argcount;
	int code_posonlyargcount;      /* 3.8+ */
	int code_kwonlyargcount;       /* 3.x */
	int code_nlocals;
	int code_flags;
	int code_firstlineno;
	int code_filename;
	int code_name;
	int code_qualname;             /* 3.11+ */
	int code_linetable;            /* co_lnotab (<=3.9) or co_linetable */
	int code_varnames;             /* co_varnames (<=3.10) or co_localsplusnames */
	int code_localspluskinds;      /* 3.11+ */
	int code_code_adaptive;        /* _co_code_adaptive, 3.11+ */

	/* PyObject, PyVarObject, PyTypeObject, PyHeapTypeObject */
	int object_type;
	int varobject_size;
	int type_name;
	int type_basicsize;
	int type_flags;
	int type_dictoffset;
	int heaptype_cached_keys;      /* ht_cached_keys, 3.x */

	/* str: PyASCIIObject / PyCompactUnicodeObject / PyUnicodeObject (3.x);
	 * PyUnicodeObject {length, str} on 2.7 (Py_UNICODE is UCS4 there) */
	int unicode_length;
	int unicode_state;
	int unicode_ascii_size;        /* sizeof(PyASCIIObject) */
	int unicode_compact_size;      /* sizeof(PyCompactUnicodeObject) */
	int unicode_data;              /* data.any (legacy) or str (2.7) */
	int unicode_char_size;         /* sizeof(Py_UNICODE) on 2.7, else 0 */

	/* bytes (PyBytesObject, or PyStringObject on 2.7) */
	int bytes_sval;

	/* tuple, list */
	int tuple_item;
	int list_item;

	/* PyDictObject */
	int dict_used;                 /* ma_used */
	int dict_keys;                 /* ma_keys, or ma_table on 2.7 */
	int dict_values;               /* ma_values, 3.x */
	int dict_mask;                 /* ma_mask, 2.7 */
	int dict_entry_size;           /* sizeof(PyDictEntry) on 2.7, PyDictKeyEntry on 3.x */
	int dict_unicode_entry_size;   /* sizeof(PyDictUnicodeEntry), 3.11+ */

	/* PyDictKeysObject (3.x) */
	int keys_size;                 /* dk_size, 3.6-3.10 */
	int keys_log2_size;            /* dk_log2_size, 3.11+ */
	int keys_log2_index_bytes;     /* 3.11+ */
	int keys_kind;                 /* dk_kind, 3.11+ */
	int keys_nentries;
	int keys_indices;

	/* PyDictValues (3.11+): offset of values[] */
	int values_values;

	/* int / long / float */
	int int_ival;                  /* PyIntObject.ob_ival, 2.7 */
	int long_digit;                /* ob_digit (long_value.ob_digit in 3.12+) */
	int long_tag;                  /* long_value.lv_tag, 3.12+ */
	int long_digit_size;           /* sizeof(digit) */
	int long_shift;                /* PyLong_SHIFT */
	int float_fval;

	/* PySetObject */
	int set_used;
	int set_mask;
	int set_table;
	int set_entry_size;

	/* PyModuleObject */
	int module_dict;

	/* constants */
	int tpflags_managed_dict;      /* Py_TPFLAGS_MANAGED_DICT, 3.11+ else 0 */
	int tpflags_inline_values;     /* Py_TPFLAGS_INLINE_VALUES, 3.13+ else 0 */
	int co_varargs;                /* CO_VARARGS */
	int co_varkeywords;            /* CO_VARKEYWORDS */
	int frame_owned_by_cstack;     /* FRAME_OWNED_BY_CSTACK (3.12+), else PS_NONE */
	int frame_owned_by_generator;  /* FRAME_OWNED_BY_GENERATOR (3.11+) */
	int co_fast_local;             /* CO_FAST_LOCAL (3.11+) */
	int co_fast_cell;
	int co_fast_free;

	/* _Py_DebugOffsets (3.13+): where each field of the debug offsets sits
	 * in the struct at the start of _PyRuntime, so the reader can prefer the
	 * target's own figures to ours. PS_NONE before 3.13. */
	int dbg_cookie;
	int dbg_version;
	int dbg_runtime_interp_head;
	int dbg_interp_next;
	int dbg_interp_threads_head;
	int dbg_interp_modules;
	int dbg_interp_gil;
	int dbg_gil_locked;
	int dbg_gil_holder;
	int dbg_tstate_prev;
	int dbg_tstate_next;
	int dbg_tstate_interp;
	int dbg_tstate_current_frame;
	int dbg_tstate_thread_id;
	int dbg_tstate_native_thread_id;
	int dbg_tstate_datastack_chunk;
	int dbg_iframe_previous;
	int dbg_iframe_executable;
	int dbg_iframe_instr_ptr;
	int dbg_iframe_localsplus;
	int dbg_iframe_owner;
	int dbg_code_filename;
	int dbg_code_name;
	int dbg_code_qualname;
	int dbg_code_linetable;
	int dbg_code_firstlineno;
	int dbg_code_argcount;
	int dbg_code_localsplusnames;
	int dbg_code_localspluskinds;
	int dbg_code_co_code_adaptive;
	int dbg_size;                  /* sizeof(_Py_DebugOffsets) */
};

/* The generated table (lib/python/layouts.c). */
extern const struct ps_layout ps_layouts[];
extern const int ps_layouts_count;

/* The layout for a version, or NULL. */
const struct ps_layout *ps_layout_find(int major, int minor);

#endif
