build-dbg/lib/ps_code.o: lib/ps_code.c lib/ps_code.h lib/ps_proc.h \
 lib/ps_error.h lib/ps_layout.h lib/ps_maps.h lib/ps_mem.h lib/ps_lines.h \
 lib/ps_pyobj.h
lib/ps_code.h:
lib/ps_proc.h:
lib/ps_error.h:
lib/ps_layout.h:
lib/ps_maps.h:
lib/ps_mem.h:
lib/ps_lines.h:
lib/ps_pyobj.h:
