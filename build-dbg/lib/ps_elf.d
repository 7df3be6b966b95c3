build-dbg/lib/ps_elf.o: lib/ps_elf.c lib/ps_elf.h lib/ps_error.h
lib/ps_elf.h:
lib/ps_error.h:
