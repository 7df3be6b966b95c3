build-dbg/lib/python/layouts.o: lib/python/layouts.c lib/ps_layout.h
lib/ps_layout.h:
