build/tests/unit/test_mem.o: tests/unit/test_mem.c lib/ps_error.h \
 lib/ps_mem.h
lib/ps_error.h:
lib/ps_mem.h:
