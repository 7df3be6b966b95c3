build-san/tests/unit/test_text.o: tests/unit/test_text.c lib/ps_text.h
lib/ps_text.h:
