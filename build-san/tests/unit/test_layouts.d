build-san/tests/unit/test_layouts.o: tests/unit/test_layouts.c \
 lib/ps_layout.h
lib/ps_layout.h:
