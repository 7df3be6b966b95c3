build-dbg/lib/ps_proc.o: lib/ps_proc.c lib/ps_proc.h lib/ps_error.h \
 lib/ps_layout.h lib/ps_maps.h lib/ps_mem.h lib/ps_elf.h lib/ps_pyobj.h
lib/ps_proc.h:
lib/ps_error.h:
lib/ps_layout.h:
lib/ps_maps.h:
lib/ps_mem.h:
lib/ps_elf.h:
lib/ps_pyobj.h:
