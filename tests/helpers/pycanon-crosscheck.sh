#!/usr/bin/env bash
# Cross-check tokumei's privacy models against pycanon (PyPI) on the UCI Adult table.
#
#   tests/helpers/pycanon-crosscheck.sh
#
# Not part of CI (it needs PyPI). Creates a virtualenv in ~/.cache/tokumei-pycanon, runs
# `tokumei anonymize` on datasets/adult with several models, and recomputes k, l
# (distinct and entropy) and t (equal and ordered distance) of each released table with pycanon.
# Exits 1 on any disagreement.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tokumei-target}"
venv="$HOME/.cache/tokumei-pycanon"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet pycanon pandas
cargo build --release --quiet --bin tokumei
bin="$CARGO_TARGET_DIR/release/tokumei"
adult=datasets/adult
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name | quasi-identifiers | sensitive | tokumei flags
cases=(
  "k5-l3-t0.3-equal|sex,age,race,marital-status,education,native-country,workclass|occupation|--k 5 --l 3 --t 0.3 --suppression 0"
  "k5-entropy2-5pct|sex,age,race,marital-status,education,native-country,workclass|occupation|--k 5 --l 2 --l-variant entropy --suppression 0.05"
  "k10-t0.15-ordered|sex,race,marital-status,education,native-country,workclass,occupation|age|--k 10 --t 0.15 --t-distance ordered --suppression 0"
  "k5-l2-t0.2-5pct|sex,age,race,marital-status,education,native-country,workclass,occupation|salary-class|--k 5 --l 2 --t 0.2 --suppression 0.05"
)
for case in "${cases[@]}"; do
  IFS='|' read -r name qis sensitive flags <<< "$case"
  # shellcheck disable=SC2086
  "$bin" -q anonymize --input "$adult/adult.csv" --delimiter ';' --qi "$qis" --hierarchies "$adult" \
    --sensitive "$sensitive" $flags --out "$work/$name"
  "$venv/bin/python" - "$work/$name" "$qis" "$sensitive" "$name" <<'PY'
import json, sys
import pandas as pd
from pycanon import anonymity

out, qis, sensitive, name = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
report = json.load(open(f"{out}/report.json"))
data = pd.read_csv(f"{out}/released.csv", sep=";", dtype=str, keep_default_na=False)
if sensitive == "age":
    data[sensitive] = data[sensitive].astype(int)  # numeric: pycanon uses the ordered distance
achieved = report["achieved"]
checks = [("k", anonymity.k_anonymity(data, qis), achieved["k"])]
checks.append(("l (distinct)", anonymity.l_diversity(data, qis, [sensitive]), achieved.get("l_distinct")))
if achieved.get("l_entropy") is not None:
    # pycanon reports int(min exp(entropy)).
    checks.append(("l (entropy)", anonymity.entropy_l_diversity(data, qis, [sensitive]), int(achieved["l_entropy"] + 1e-9)))
if achieved.get("t") is not None:
    t = anonymity.t_closeness(data, qis, [sensitive])
    # pycanon compares each class with the released table; tokumei with the whole input. They
    # are the same distribution when nothing is suppressed.
    if report["suppressed_records"] == 0:
        checks.append(("t", round(t, 9), round(achieved["t"], 9)))
    else:
        print(f"  {name}: t vs released table {t:.6f} (pycanon), vs input {achieved['t']:.6f} (tokumei); limit {report['model']}")
failed = False
for what, theirs, ours in checks:
    ok = theirs == ours
    failed |= not ok
    print(f"  {name}: {what}: pycanon {theirs}, tokumei {ours} {'ok' if ok else 'DIFFERENT'}")
sys.exit(1 if failed else 0)
PY
done
# `tokumei risk` on the raw table: k, ℓ and t as pycanon computes them.
qis=sex,age,race,marital-status,education,native-country,workclass
"$bin" -q risk --input "$adult/adult.csv" --delimiter ';' --qi "$qis" --sensitive occupation --json "$work/risk.json"
"$venv/bin/python" - "$adult/adult.csv" "$qis" "$work/risk.json" <<'PY'
import json, sys
import pandas as pd
from pycanon import anonymity
data = pd.read_csv(sys.argv[1], sep=";", dtype=str, keep_default_na=False)
qis, r = sys.argv[2].split(","), json.load(open(sys.argv[3]))
checks = [
    ("k", anonymity.k_anonymity(data, qis), r["k"]),
    ("l (distinct)", anonymity.l_diversity(data, qis, ["occupation"]), r["l_distinct"]),
    ("t", round(anonymity.t_closeness(data, qis, ["occupation"]), 9), round(r["t_closeness"], 9)),
    ("alpha", round(anonymity.alpha_k_anonymity(data, qis, ["occupation"])[0], 9), round(r["alpha"], 9)),
]
failed = False
for what, theirs, ours in checks:
    failed |= theirs != ours
    print(f"  risk of the raw table: {what}: pycanon {theirs}, tokumei {ours} {'ok' if theirs == ours else 'DIFFERENT'}")
sys.exit(1 if failed else 0)
PY
echo "pycanon agrees with tokumei on every case"
