build-dbg/lib/ps_text.o: lib/ps_text.c lib/ps_text.h
lib/ps_text.h:
