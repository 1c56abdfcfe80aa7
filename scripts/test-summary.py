#!/usr/bin/python3
"""Prints "N passed, N failed" from meson test logs (testlog.json); a skip is not a pass."""
import json
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        print(f"{path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for t in lines:
        if t.get("result") == "OK":
            passed += 1
        else:
            failed += 1
            print(f"not passed: {path}: {t.get('name')}: {t.get('result')}", file=sys.stderr)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
