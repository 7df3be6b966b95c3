build-san/tests/unit/test_lines.o: tests/unit/test_lines.c lib/ps_lines.h \
 tests/unit/line_vectors.h
lib/ps_lines.h:
tests/unit/line_vectors.h:
