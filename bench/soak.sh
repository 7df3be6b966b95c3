#!/bin/sh
# Soak: pyspy-sample --nonblocking against bench/workloads/churn.py for MINUTES
# (see bench/soak.py for what it reports and when it fails).
# Usage: bench/soak.sh MINUTES [--bin DIR] [--python PY] [--rate HZ]
exec python3 "$(dirname "$0")/soak.py" "$@"
