build/tests/unit/test_tasks.o: tests/unit/test_tasks.c lib/ps_error.h \
 lib/ps_tasks.h lib/ps_error.h
lib/ps_error.h:
lib/ps_tasks.h:
lib/ps_error.h:
