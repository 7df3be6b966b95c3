build-dbg/lib/ps_maps.o: lib/ps_maps.c lib/ps_maps.h lib/ps_error.h
lib/ps_maps.h:
lib/ps_error.h:
