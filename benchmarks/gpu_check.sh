#!/usr/bin/env bash
# Every GPU check in one call, for the first machine with a GPU (CI never has one), in under 8 minutes:
#   1. pytest -m gpu (the GPU-only tests),
#   2. the fusion training benchmark on the GPU (benchmarks/train_speed.py, 20 epochs, 3 folds),
#   3. the DNA-LM step benchmark at the gpu-50m preset: 1,000-token (5,994-bp) windows, bf16, MFU,
#      and embedding throughput (benchmarks/dna_lm_speed.py).
# Each result is JSON named after the device (benchmarks/results/*-<device>.json); with $OUT set (the
# device tool's output folder) they are copied there too. Commit the JSON it writes.
#
#     bash benchmarks/gpu_check.sh            # PY=path/to/python to use another interpreter
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEVICE=$("$PY" -c "import torch, sys
if not torch.cuda.is_available(): sys.exit('gpu_check: no CUDA device here; nothing to measure')
print(torch.cuda.get_device_name(0).replace(' ', '-').lower())") || exit 1
RESULTS=benchmarks/results
mkdir -p "$RESULTS"
started=$(date +%s)
status=0
marker=$(mktemp)  # every JSON newer than this came from this run

timeout 150 "$PY" -m pytest -m gpu -q -p no:cacheprovider --junitxml="$RESULTS/.gpu_tests.xml" tests
tests_rc=$?
"$PY" - "$RESULTS/.gpu_tests.xml" "$RESULTS/gpu_tests-$DEVICE.json" "$tests_rc" <<'PYEOF'
import json, sys, xml.etree.ElementTree as ET
source, target, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    suite = ET.parse(source).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    cases = [
        {"test": f"{c.get('classname')}::{c.get('name')}", "seconds": float(c.get("time", 0)),
         "outcome": "failed" if c.find("failure") is not None or c.find("error") is not None
         else "skipped" if c.find("skipped") is not None else "passed"}
        for c in suite.iter("testcase")
    ]
except (OSError, ET.ParseError) as error:
    counts, cases = {"error": str(error)}, []
json.dump({"benchmark": "gpu_tests", "pytest_exit_code": rc, **counts, "cases": cases},
          open(target, "w"), indent=2)
PYEOF
rm -f "$RESULTS/.gpu_tests.xml"
[ "$tests_rc" -eq 0 ] || status=1

timeout 180 "$PY" benchmarks/train_speed.py --epochs 20 --folds 3 --accelerator gpu || status=1
timeout 150 "$PY" benchmarks/dna_lm_speed.py --preset gpu-50m --rounds 2 --steps 8 --warmup 2 || status=1

echo "gpu_check on $DEVICE: $(( $(date +%s) - started )) s, exit $status"
if [ -n "${OUT:-}" ]; then
    find "$RESULTS" -maxdepth 1 -name '*.json' -newer "$marker" -exec cp {} "$OUT"/ \;
fi
rm -f "$marker"
exit $status
