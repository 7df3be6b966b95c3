build-san/tests/unit/test_elf.o: tests/unit/test_elf.c lib/ps_elf.h \
 lib/ps_error.h lib/ps_maps.h
lib/ps_elf.h:
lib/ps_error.h:
lib/ps_maps.h:
