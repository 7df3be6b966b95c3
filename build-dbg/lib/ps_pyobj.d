build-dbg/lib/ps_pyobj.o: lib/ps_pyobj.c lib/ps_pyobj.h lib/ps_proc.h \
 lib/ps_error.h lib/ps_layout.h lib/ps_maps.h lib/ps_mem.h lib/ps_code.h \
 lib/ps_text.h
lib/ps_pyobj.h:
lib/ps_proc.h:
lib/ps_error.h:
lib/ps_layout.h:
lib/ps_maps.h:
lib/ps_mem.h:
lib/ps_code.h:
lib/ps_text.h:
