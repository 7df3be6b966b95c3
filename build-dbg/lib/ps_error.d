build-dbg/lib/ps_error.o: lib/ps_error.c lib/ps_error.h
lib/ps_error.h:
