/* The generated layout table (lib/python/layouts.c): every supported
 * version present and findable, every field filled or PS_NONE exactly
 * where that version lacks it, and offsets inside their structs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ps_layout.h"

static const int versions[][2] = {
	{2, 7}, {3, 6}, {3, 7}, {3, 8}, {3, 9}, {3, 10}, {3, 11}, {3, 12}, {3, 13},
};
#define NVERSIONS ((int)(sizeof(versions) / sizeof(versions[0])))

#define ALL_LO PS_PY(2, 7)
#define ALL_HI PS_PY(3, 0xff)
#define PY3 PS_PY(3, 0)

enum kind {
	OFFSET, /* >= 0 inside [lo, hi], PS_NONE outside */
	FLAG,   /* > 0 inside [lo, hi], 0 outside */
};

/* Every int member of struct ps_layout, with the versions that have it. */
struct expect {
	const char *name;
	size_t off;
	enum kind kind;
	int lo, hi;
};

#define E(f, k, lo, hi) { #f, offsetof(struct ps_layout, f), k, lo, hi }
#define ALL(f) E(f, OFFSET, ALL_LO, ALL_HI)
#define FROM(f, maj, min) E(f, OFFSET, PS_PY(maj, min), ALL_HI)
#define UPTO(f, maj, min) E(f, OFFSET, ALL_LO, PS_PY(maj, min))
#define RANGE(f, a, b, c, d) E(f, OFFSET, PS_PY(a, b), PS_PY(c, d))

static const struct expect expects[] = {
	FROM(runtime_size, 3, 7),
	FROM(runtime_interp_head, 3, 7),
	FROM(runtime_interp_main, 3, 7),
	RANGE(runtime_tstate_current, 3, 7, 3, 11),

	ALL(interp_size),
	ALL(interp_next),
	ALL(interp_tstate_head),
	ALL(interp_modules),
	FROM(interp_gil, 3, 12),

	FROM(gil_locked, 3, 7),
	FROM(gil_last_holder, 3, 7),

	ALL(tstate_size),
	FROM(tstate_prev, 3, 6),
	ALL(tstate_next),
	ALL(tstate_interp),
	UPTO(tstate_frame, 3, 10),
	RANGE(tstate_cframe, 3, 11, 3, 12),
	FROM(tstate_current_frame, 3, 13),
	ALL(tstate_thread_id),
	/* PyThreadState.native_thread_id is new in 3.11 (3.8 added only
	 * PyThread_get_thread_native_id()). */
	FROM(tstate_native_thread_id, 3, 11),
	FROM(tstate_datastack_chunk, 3, 11),
	FROM(tstate_datastack_top, 3, 11),
	FROM(tstate_datastack_limit, 3, 11),

	RANGE(cframe_current_frame, 3, 11, 3, 12),

	FROM(chunk_previous, 3, 11),
	FROM(chunk_size, 3, 11),
	FROM(chunk_top, 3, 11),
	FROM(chunk_data, 3, 11),

	UPTO(frame_size, 3, 10),
	UPTO(frame_back, 3, 10),
	UPTO(frame_code, 3, 10),
	UPTO(frame_lasti, 3, 10),
	UPTO(frame_lineno, 3, 10),
	UPTO(frame_localsplus, 3, 10),

	FROM(iframe_size, 3, 11),
	FROM(iframe_code, 3, 11),
	FROM(iframe_previous, 3, 11),
	FROM(iframe_instr, 3, 11),
	FROM(iframe_localsplus, 3, 11),
	FROM(iframe_owner, 3, 11),
	RANGE(iframe_is_entry, 3, 11, 3, 11),
	FROM(iframe_stacktop, 3, 11),

	ALL(code_size),
	ALL(code_argcount),
	FROM(code_posonlyargcount, 3, 8),
	FROM(code_kwonlyargcount, 3, 0),
	ALL(code_nlocals),
	ALL(code_flags),
	ALL(code_firstlineno),
	ALL(code_filename),
	ALL(code_name),
	FROM(code_qualname, 3, 11),
	ALL(code_linetable),
	ALL(code_varnames),
	FROM(code_localspluskinds, 3, 11),
	FROM(code_code_adaptive, 3, 11),

	ALL(object_type),
	ALL(varobject_size),
	ALL(type_name),
	ALL(type_basicsize),
	ALL(type_flags),
	ALL(type_dictoffset),
	FROM(heaptype_cached_keys, 3, 0),

	ALL(unicode_length),
	FROM(unicode_state, 3, 0),
	FROM(unicode_ascii_size, 3, 0),
	FROM(unicode_compact_size, 3, 0),
	ALL(unicode_data),
	ALL(unicode_char_size), /* checked further below */

	ALL(bytes_sval),
	ALL(tuple_item),
	ALL(list_item),

	ALL(dict_used),
	ALL(dict_keys),
	FROM(dict_values, 3, 0),
	UPTO(dict_mask, 2, 7),
	ALL(dict_entry_size),
	FROM(dict_unicode_entry_size, 3, 11),

	RANGE(keys_size, 3, 0, 3, 10),
	FROM(keys_log2_size, 3, 11),
	FROM(keys_log2_index_bytes, 3, 11),
	FROM(keys_kind, 3, 11),
	FROM(keys_nentries, 3, 0),
	FROM(keys_indices, 3, 0),

	FROM(values_values, 3, 11),

	UPTO(int_ival, 2, 7),
	ALL(long_digit),
	FROM(long_tag, 3, 12),
	ALL(long_digit_size),
	ALL(long_shift),
	ALL(float_fval),

	ALL(set_used),
	ALL(set_mask),
	ALL(set_table),
	ALL(set_entry_size),

	ALL(module_dict),

	E(tpflags_managed_dict, FLAG, PS_PY(3, 11), ALL_HI),
	E(tpflags_inline_values, FLAG, PS_PY(3, 13), ALL_HI),
	E(co_varargs, FLAG, ALL_LO, ALL_HI),
	E(co_varkeywords, FLAG, ALL_LO, ALL_HI),
	FROM(frame_owned_by_cstack, 3, 12),
	FROM(frame_owned_by_generator, 3, 11),
	E(co_fast_local, FLAG, PS_PY(3, 11), ALL_HI),
	E(co_fast_cell, FLAG, PS_PY(3, 11), ALL_HI),
	E(co_fast_free, FLAG, PS_PY(3, 11), ALL_HI),

	FROM(dbg_cookie, 3, 13),
	FROM(dbg_version, 3, 13),
	FROM(dbg_runtime_interp_head, 3, 13),
	FROM(dbg_interp_next, 3, 13),
	FROM(dbg_interp_threads_head, 3, 13),
	FROM(dbg_interp_modules, 3, 13),
	FROM(dbg_interp_gil, 3, 13),
	FROM(dbg_gil_locked, 3, 13),
	FROM(dbg_gil_holder, 3, 13),
	FROM(dbg_tstate_prev, 3, 13),
	FROM(dbg_tstate_next, 3, 13),
	FROM(dbg_tstate_interp, 3, 13),
	FROM(dbg_tstate_current_frame, 3, 13),
	FROM(dbg_tstate_thread_id, 3, 13),
	FROM(dbg_tstate_native_thread_id, 3, 13),
	FROM(dbg_tstate_datastack_chunk, 3, 13),
	FROM(dbg_iframe_previous, 3, 13),
	FROM(dbg_iframe_executable, 3, 13),
	FROM(dbg_iframe_instr_ptr, 3, 13),
	FROM(dbg_iframe_localsplus, 3, 13),
	FROM(dbg_iframe_owner, 3, 13),
	FROM(dbg_code_filename, 3, 13),
	FROM(dbg_code_name, 3, 13),
	FROM(dbg_code_qualname, 3, 13),
	FROM(dbg_code_linetable, 3, 13),
	FROM(dbg_code_firstlineno, 3, 13),
	FROM(dbg_code_argcount, 3, 13),
	FROM(dbg_code_localsplusnames, 3, 13),
	FROM(dbg_code_localspluskinds, 3, 13),
	FROM(dbg_code_co_code_adaptive, 3, 13),
	FROM(dbg_size, 3, 13),
};
#define NEXPECTS (sizeof(expects) / sizeof(expects[0]))

static int field(const struct ps_layout *l, size_t off)
{
	int v;

	memcpy(&v, (const char *)l + off, sizeof v);
	return v;
}

/* The expectation table names every int member of struct ps_layout, so a
 * field added to ps_layout.h without an expectation here fails. */
static void test_expectations_cover_struct(void **state)
{
	size_t first = offsetof(struct ps_layout, runtime_size);
	size_t last = offsetof(struct ps_layout, dbg_size);
	size_t n = (last - first) / sizeof(int) + 1;
	size_t i, j;

	(void)state;
	assert_int_equal(NEXPECTS, n);
	for (i = 0; i < NEXPECTS; i++) {
		assert_true(expects[i].off >= first && expects[i].off <= last);
		for (j = 0; j < i; j++)
			if (expects[i].off == expects[j].off)
				fail_msg("%s listed twice", expects[i].name);
	}
}

static void test_all_versions_present(void **state)
{
	int i, j;

	(void)state;
	assert_int_equal(ps_layouts_count, NVERSIONS);
	for (i = 0; i < NVERSIONS; i++) {
		int maj = versions[i][0], min = versions[i][1];
		const struct ps_layout *l = ps_layout_find(maj, min);
		char name[16];

		if (!l)
			fail_msg("no layout for %d.%d", maj, min);
		assert_int_equal(l->version, PS_PY(maj, min));
		snprintf(name, sizeof name, "%d.%d", maj, min);
		assert_non_null(l->name);
		assert_string_equal(l->name, name);
		/* PY_VERSION_HEX: same major.minor, a final release. */
		assert_int_equal((l->hexversion >> 24) & 0xff, maj);
		assert_int_equal((l->hexversion >> 16) & 0xff, min);
		assert_int_equal(l->hexversion & 0xf0, 0xf0);
		assert_true(l >= ps_layouts && l < ps_layouts + ps_layouts_count);
	}
	/* In ascending order, no duplicates. */
	for (j = 1; j < ps_layouts_count; j++)
		assert_true(ps_layouts[j - 1].version < ps_layouts[j].version);
}

static void test_unknown_versions(void **state)
{
	(void)state;
	assert_null(ps_layout_find(3, 5));
	assert_null(ps_layout_find(3, 14));
	assert_null(ps_layout_find(2, 6));
	assert_null(ps_layout_find(4, 0));
	assert_null(ps_layout_find(0, 0));
	assert_null(ps_layout_find(-1, 7));
	assert_null(ps_layout_find(3, -1));
	assert_null(ps_layout_find(2, 0x107)); /* would alias PS_PY(3, 7) */
}

static void test_presence(void **state)
{
	int i;
	size_t k;

	(void)state;
	for (i = 0; i < ps_layouts_count; i++) {
		const struct ps_layout *l = &ps_layouts[i];

		for (k = 0; k < NEXPECTS; k++) {
			const struct expect *e = &expects[k];
			int has = l->version >= e->lo && l->version <= e->hi;
			int v = field(l, e->off);
			int ok;

			if (e->kind == FLAG)
				ok = has ? v > 0 : v == 0;
			else
				ok = has ? v >= 0 : v == PS_NONE;
			if (!ok)
				fail_msg("%s: %s = %d, expected %s", l->name,
					 e->name, v,
					 e->kind == FLAG ? (has ? "> 0" : "0")
							 : (has ? ">= 0" : "PS_NONE"));
		}
	}
}

#define BELOW(l, f, size)                                                  \
	do {                                                               \
		if ((l)->f != PS_NONE && !((l)->f < (l)->size))            \
			fail_msg("%s: %s = %d not below %s = %d", (l)->name, \
				 #f, (l)->f, #size, (l)->size);            \
	} while (0)

static void test_offsets_inside_structs(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < ps_layouts_count; i++) {
		const struct ps_layout *l = &ps_layouts[i];

		if (l->runtime_size != PS_NONE) {
			BELOW(l, runtime_interp_head, runtime_size);
			BELOW(l, runtime_interp_main, runtime_size);
			BELOW(l, runtime_tstate_current, runtime_size);
		}

		BELOW(l, interp_next, interp_size);
		BELOW(l, interp_tstate_head, interp_size);
		BELOW(l, interp_modules, interp_size);
		BELOW(l, interp_gil, interp_size);

		BELOW(l, tstate_prev, tstate_size);
		BELOW(l, tstate_next, tstate_size);
		BELOW(l, tstate_interp, tstate_size);
		BELOW(l, tstate_frame, tstate_size);
		BELOW(l, tstate_cframe, tstate_size);
		BELOW(l, tstate_current_frame, tstate_size);
		BELOW(l, tstate_thread_id, tstate_size);
		BELOW(l, tstate_native_thread_id, tstate_size);
		BELOW(l, tstate_datastack_chunk, tstate_size);
		BELOW(l, tstate_datastack_top, tstate_size);
		BELOW(l, tstate_datastack_limit, tstate_size);

		if (l->frame_size != PS_NONE) {
			BELOW(l, frame_back, frame_size);
			BELOW(l, frame_code, frame_size);
			BELOW(l, frame_lasti, frame_size);
			BELOW(l, frame_lineno, frame_size);
			BELOW(l, frame_localsplus, frame_size);
		}

		if (l->iframe_size != PS_NONE) {
			BELOW(l, iframe_code, iframe_size);
			BELOW(l, iframe_previous, iframe_size);
			BELOW(l, iframe_instr, iframe_size);
			BELOW(l, iframe_localsplus, iframe_size);
			BELOW(l, iframe_owner, iframe_size);
			BELOW(l, iframe_is_entry, iframe_size);
			BELOW(l, iframe_stacktop, iframe_size);
		}

		BELOW(l, code_argcount, code_size);
		BELOW(l, code_posonlyargcount, code_size);
		BELOW(l, code_kwonlyargcount, code_size);
		BELOW(l, code_nlocals, code_size);
		BELOW(l, code_flags, code_size);
		BELOW(l, code_firstlineno, code_size);
		BELOW(l, code_filename, code_size);
		BELOW(l, code_name, code_size);
		BELOW(l, code_qualname, code_size);
		BELOW(l, code_linetable, code_size);
		BELOW(l, code_varnames, code_size);
		BELOW(l, code_localspluskinds, code_size);
		BELOW(l, code_code_adaptive, code_size);

		if (l->unicode_ascii_size != PS_NONE) {
			BELOW(l, unicode_length, unicode_ascii_size);
			BELOW(l, unicode_state, unicode_ascii_size);
			assert_true(l->unicode_ascii_size < l->unicode_compact_size);
			/* PyUnicodeObject's data follows the compact header. */
			assert_int_equal(l->unicode_data, l->unicode_compact_size);
			assert_int_equal(l->unicode_char_size, 0);
		} else {
			/* 2.7: Py_UNICODE is UCS2 or UCS4. */
			assert_true(l->unicode_char_size == 2 ||
				    l->unicode_char_size == 4);
			assert_true(l->unicode_data > l->unicode_length);
		}

		if (l->dbg_size != PS_NONE) {
			BELOW(l, dbg_cookie, dbg_size);
			BELOW(l, dbg_version, dbg_size);
			BELOW(l, dbg_runtime_interp_head, dbg_size);
			BELOW(l, dbg_interp_next, dbg_size);
			BELOW(l, dbg_interp_threads_head, dbg_size);
			BELOW(l, dbg_interp_modules, dbg_size);
			BELOW(l, dbg_interp_gil, dbg_size);
			BELOW(l, dbg_gil_locked, dbg_size);
			BELOW(l, dbg_gil_holder, dbg_size);
			BELOW(l, dbg_tstate_prev, dbg_size);
			BELOW(l, dbg_tstate_next, dbg_size);
			BELOW(l, dbg_tstate_interp, dbg_size);
			BELOW(l, dbg_tstate_current_frame, dbg_size);
			BELOW(l, dbg_tstate_thread_id, dbg_size);
			BELOW(l, dbg_tstate_native_thread_id, dbg_size);
			BELOW(l, dbg_tstate_datastack_chunk, dbg_size);
			BELOW(l, dbg_iframe_previous, dbg_size);
			BELOW(l, dbg_iframe_executable, dbg_size);
			BELOW(l, dbg_iframe_instr_ptr, dbg_size);
			BELOW(l, dbg_iframe_localsplus, dbg_size);
			BELOW(l, dbg_iframe_owner, dbg_size);
			BELOW(l, dbg_code_filename, dbg_size);
			BELOW(l, dbg_code_name, dbg_size);
			BELOW(l, dbg_code_qualname, dbg_size);
			BELOW(l, dbg_code_linetable, dbg_size);
			BELOW(l, dbg_code_firstlineno, dbg_size);
			BELOW(l, dbg_code_argcount, dbg_size);
			BELOW(l, dbg_code_localsplusnames, dbg_size);
			BELOW(l, dbg_code_localspluskinds, dbg_size);
			BELOW(l, dbg_code_co_code_adaptive, dbg_size);
			/* The cookie is the first thing in _PyRuntime. */
			assert_int_equal(l->dbg_cookie, 0);
		}
	}
}

static void test_values(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < ps_layouts_count; i++) {
		const struct ps_layout *l = &ps_layouts[i];

		/* 64-bit, non-debug builds. */
		assert_int_equal(l->object_type, 8);
		assert_int_equal(l->varobject_size, 16);
		/* tuple/list items follow PyVarObject. */
		assert_int_equal(l->tuple_item, 24);
		assert_true(l->list_item >= 24);
		/* A digit is 15 bits in 2 bytes or 30 bits in 4. */
		assert_true((l->long_shift == 15 && l->long_digit_size == 2) ||
			    (l->long_shift == 30 && l->long_digit_size == 4));
		/* {hash, key, value} on 2.7 and 3.x. */
		assert_int_equal(l->dict_entry_size, 24);
		if (l->dict_unicode_entry_size != PS_NONE)
			assert_int_equal(l->dict_unicode_entry_size, 16);
		if (l->keys_nentries != PS_NONE)
			assert_true(l->keys_indices > l->keys_nentries);
		assert_int_equal(l->co_varargs, 0x4);
		assert_int_equal(l->co_varkeywords, 0x8);
		if (l->co_fast_local) {
			assert_int_equal(l->co_fast_local, 0x20);
			assert_int_equal(l->co_fast_cell, 0x40);
			assert_int_equal(l->co_fast_free, 0x80);
		}
		if (l->frame_owned_by_generator != PS_NONE)
			assert_int_equal(l->frame_owned_by_generator, 1);
		if (l->frame_owned_by_cstack != PS_NONE)
			assert_int_equal(l->frame_owned_by_cstack, 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expectations_cover_struct),
		cmocka_unit_test(test_all_versions_present),
		cmocka_unit_test(test_unknown_versions),
		cmocka_unit_test(test_presence),
		cmocka_unit_test(test_offsets_inside_structs),
		cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
