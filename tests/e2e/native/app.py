# Target of the native-frame tests: main -> call_back (C) -> callback ->
# spin (C), the stack every test expects, on 2.7 and 3.x alike.
import os
import sys

import native_ext


def callback():
    open(sys.argv[1], 'w').close()  # ready: the stack is in place
    native_ext.spin(float(sys.argv[2]))


def main():
    native_ext.call_back(callback)


main()
