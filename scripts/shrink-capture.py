#!/usr/bin/env python3
"""Rewrite a capture with 512-byte pages and no write-ahead log, so that it is
a single small file: the fuzz_db seeds (scripts/fuzz.sh) are made this way.
Usage: scripts/shrink-capture.py CAPTURE.db"""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=DELETE")
db.execute("PRAGMA page_size=512")
db.execute("VACUUM")
db.close()
