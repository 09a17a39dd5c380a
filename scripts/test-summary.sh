#!/bin/sh
# test-summary.sh BUILD_DIR [plain|asan|tsan] - the closing lines of a
# meson test run: each skipped test with its reason, then
# "N passed, N failed, N skipped".  Run as root, a skip that
# scripts/allowed-skips.txt does not list for this build fails the run.
set -eu
log="${1:-build}/meson-logs/testlog.json"
kind=${2:-plain}
[ -f "$log" ] || { echo "no test log at $log" >&2; exit 1; }
python3 - "$log" "$kind" "$(id -u)" "$(dirname "$0")/allowed-skips.txt" <<'PY'
import json, re, sys
log, kind, uid, allowed_file = sys.argv[1:5]
allowed = {}
for line in open(allowed_file):
    f = line.split(None, 2)
    if len(f) == 3 and not line.startswith("#"):
        allowed[(f[0], f[1])] = f[2].strip()
c = {"OK": 0, "FAIL": 0, "SKIP": 0}
bad = []
for line in open(log):
    t = json.loads(line)
    r = t["result"]
    k = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
    c[k] += 1
    if k != "SKIP":
        continue
    name = t["name"].split(" / ")[-1]  # "netbe:vde / vde_switch"
    m = re.search(r"SKIP:?\s*(.*)", t.get("stdout") or "")
    why = allowed.get((kind, name)) or (m.group(1).strip() if m else "no reason given")
    ok = (kind, name) in allowed
    print(f"skipped: {name} ({why}){'' if ok else ' - not allowed when run as root'}")
    if not ok:
        bad.append(name)
fail = c["FAIL"] or (uid == "0" and bad)
if uid == "0" and bad:
    print(f"error: {len(bad)} test(s) skipped that must run as root: {', '.join(bad)} "
          "(install what they need: scripts/packages.txt)")
print(f"{c['OK']} passed, {c['FAIL']} failed, {c['SKIP']} skipped")
sys.exit(1 if fail else 0)
PY
