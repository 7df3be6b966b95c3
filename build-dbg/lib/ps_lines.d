build-dbg/lib/ps_lines.o: lib/ps_lines.c lib/ps_lines.h
lib/ps_lines.h:
