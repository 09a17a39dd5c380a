#!/bin/sh
# Prints one closing line for a meson test run: "N passed, N failed, N skipped".
set -eu
log="${1:-build}/meson-logs/testlog.json"
[ -f "$log" ] || { echo "no test log at $log" >&2; exit 1; }
python3 - "$log" <<'PY'
import json, sys
c = {"OK": 0, "FAIL": 0, "SKIP": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    k = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
    c[k] += 1
print(f"{c['OK']} passed, {c['FAIL']} failed, {c['SKIP']} skipped")
sys.exit(1 if c["FAIL"] else 0)
PY
