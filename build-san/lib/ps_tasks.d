build-san/lib/ps_tasks.o: lib/ps_tasks.c lib/ps_tasks.h lib/ps_error.h
lib/ps_tasks.h:
lib/ps_error.h:
