build-dbg/lib/ps_layout.o: lib/ps_layout.c lib/ps_layout.h
lib/ps_layout.h:
