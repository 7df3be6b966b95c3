build-dbg/lib/ps_mem.o: lib/ps_mem.c lib/ps_mem.h lib/ps_error.h
lib/ps_mem.h:
lib/ps_error.h:
