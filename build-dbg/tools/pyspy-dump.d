build-dbg/tools/pyspy-dump.o: tools/pyspy-dump.c lib/ps_cli.h \
 lib/ps_proc.h lib/ps_error.h lib/ps_layout.h lib/ps_maps.h lib/ps_mem.h \
 lib/ps_pyobj.h lib/ps_proc.h lib/ps_stack.h lib/ps_code.h lib/ps_tasks.h \
 lib/ps_tasks.h lib/ps_text.h
lib/ps_cli.h:
lib/ps_proc.h:
lib/ps_error.h:
lib/ps_layout.h:
lib/ps_maps.h:
lib/ps_mem.h:
lib/ps_pyobj.h:
lib/ps_proc.h:
lib/ps_stack.h:
lib/ps_code.h:
lib/ps_tasks.h:
lib/ps_tasks.h:
lib/ps_text.h:
