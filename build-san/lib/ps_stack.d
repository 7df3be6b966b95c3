build-san/lib/ps_stack.o: lib/ps_stack.c lib/ps_stack.h lib/ps_code.h \
 lib/ps_proc.h lib/ps_error.h lib/ps_layout.h lib/ps_maps.h lib/ps_mem.h \
 lib/ps_tasks.h lib/ps_pyobj.h
lib/ps_stack.h:
lib/ps_code.h:
lib/ps_proc.h:
lib/ps_error.h:
lib/ps_layout.h:
lib/ps_maps.h:
lib/ps_mem.h:
lib/ps_tasks.h:
lib/ps_pyobj.h:
