build-dbg/lib/ps_cli.o: lib/ps_cli.c lib/ps_cli.h
lib/ps_cli.h:
