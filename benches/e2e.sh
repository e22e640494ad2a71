#!/usr/bin/env bash
# End-to-end benchmark: generate populations with ~1 M and ~10 M dispensing rows, run the
# anonymized profile on each with the release build, and print rows/s and peak memory; then
# `tokumei risk` on each dispensing table (8 quasi-identifiers) and on Adult (every measure,
# SUDA2 included); then the privacy engine alone (histogram and optimal search over 1 M and 10 M
# persons × 8 quasi-identifiers, examples/privacy_scale.rs); then the national-format parsers
# (criterion: UKE MB/s, CDA documents/s). TOKUMEI_BENCH_SKIP_CRITERION=1 skips the last.
#
#   benches/e2e.sh            # 1 M and 10 M
#   benches/e2e.sh 1000000    # only the sizes given (dispensing rows)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tokumei-target}"
cargo build --release --quiet --bin tokumei --example privacy_scale
bin="$CARGO_TARGET_DIR/release/tokumei"
work="${TOKUMEI_BENCH_DIR:-$(mktemp -d)}"
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000 10000000)
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 2; }
printf '%-12s %-10s %12s %12s %10s %14s %10s\n' "dispensing" "persons" "rows (all)" "seconds" "rows/s" "peak memory" "stage"
for rows in "${sizes[@]}"; do
  # The generator writes about 3.5 dispensing rows per person.
  persons=$(( rows * 10 / 35 ))
  dir="$work/$rows"
  rm -rf "$dir" && mkdir -p "$dir" && cp -r configs "$dir/"
  /usr/bin/time -f '%e %M' -o "$dir/synth.time" "$bin" -q synth --persons "$persons" --seed 1 --out "$dir/datasets/sample"
  read -r s_sec s_kb < "$dir/synth.time"
  /usr/bin/time -f '%e %M' -o "$dir/run.time" "$bin" -q run --config "$dir/configs/anonymized.toml" --out "$dir/out"
  read -r r_sec r_kb < "$dir/run.time"
  /usr/bin/time -f '%e %M' -o "$dir/linkage.time" "$bin" -q linkage --config "$dir/configs/anonymized.toml" \
    --truth "$dir/datasets/sample/truth.csv" --json "$dir/linkage.json"
  read -r l_sec l_kb < "$dir/linkage.time"
  all=$(python3 -c "import json,sys; r=json.load(open('$dir/out/report.json')); print(sum(a['rows_read'] for a in r['accounting']))")
  disp=$(python3 -c "import json,sys; r=json.load(open('$dir/out/report.json')); print([a['rows_read'] for a in r['accounting'] if a['table']=='dispensing'][0])")
  for stage in synth run linkage; do
    case $stage in synth) sec=$s_sec kb=$s_kb ;; run) sec=$r_sec kb=$r_kb ;; linkage) sec=$l_sec kb=$l_kb ;; esac
    awk -v d="$disp" -v p="$persons" -v a="$all" -v s="$sec" -v k="$kb" -v st="$stage" \
      'BEGIN { printf "%-12s %-10s %12s %12s %10.0f %11.0f MB %10s\n", d, p, a, s, a / (s > 0 ? s : 0.001), k / 1024, st }'
  done
  # The (k, k^m) item search: its cost, and what it costs in utility against m = 0.
  "$bin" -v run --config "$dir/configs/anonymized.toml" --out "$dir/out-v" 2> "$dir/run.stages"
  sed 's/^m = 2$/m = 0/' "$dir/configs/anonymized.toml" > "$dir/configs/anonymized-m0.toml"
  "$bin" -q run --config "$dir/configs/anonymized-m0.toml" --out "$dir/out-m0"
  python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
stages = {l.split(':')[0].strip(): l.split(':')[1].strip() for l in open(f"{d}/run.stages") if l.strip().endswith(' s') and ':' in l}
for name, path in (("m = 2", f"{d}/out/report.json"), ("m = 0", f"{d}/out-m0/report.json")):
    p = json.load(open(path))["stages"]["privacy"]
    i, g = p["items"], p["guarantee"]["measured"]
    print(f"{'':12} {name}: events {dict(sorted(i['level_names'].items()))}; event loss {i['loss']:.3f}, "
          f"{i['suppressed_records']} of {i['records']} records' events suppressed ({100 * i['suppressed_records'] / max(1, i['records']):.2f} %), "
          f"{i['nodes_checked']} item nodes; measured: smallest class {g['min_class']}, smallest item support {g['min_item_support']}")
print(f"{'':12} stages (m = 2): " + ", ".join(f"{k} {v}" for k, v in stages.items()))
PY
  python3 -c "import json; q=json.load(open('$dir/linkage.json')); print(f\"{'':12} linkage precision {q['precision']:.6f}, recall {q['recall']:.6f} ({q['linked_persons']} persons linked, {q['true_persons']} true, {q['stats']['name_conflicts']} name conflicts)\")"
  # Re-identification risk of the raw dispensing table: 8 quasi-identifiers, CSV read included.
  /usr/bin/time -f '%e %M' -o "$dir/risk.time" "$bin" -q risk --input "$dir/datasets/sample/dispensing.csv" \
    --qi 生年月日,性別,医薬品コード,調剤日,薬局コード,処方医療機関コード,数量,調剤日数 --json "$dir/risk.json"
  read -r k_sec k_kb < "$dir/risk.time"
  python3 -c "import json; r=json.load(open('$dir/risk.json')); print(f\"{'':12} tokumei risk: {r['rows']} rows × 8 QIs in $k_sec s (CSV read included), peak {$k_kb/1024:.0f} MB: {r['classes']} classes, {r['sample_uniques']} sample uniques, prosecutor average {r['prosecutor']['average']:.4f}; SUDA2: {r['suda2'].get('skipped', 'computed')}\")"
  rm -rf "$dir/datasets" "$dir/out" "$dir/out-v" "$dir/out-m0"
done
echo
adult=datasets/adult/adult.csv
if [[ -f $adult ]]; then
  /usr/bin/time -f '%e %M' -o "$work/adult.time" "$bin" -q risk --input "$adult" --delimiter ';' \
    --qi sex,age,race,marital-status,education,native-country,workclass,occupation --sensitive salary-class \
    --population 124000000 --suda2 always --json "$work/adult-risk.json"
  read -r a_sec a_kb < "$work/adult.time"
  python3 -c "import json; r=json.load(open('$work/adult-risk.json')); s=r['suda2']; p=r['population_uniqueness']; print(f\"Adult, every measure (t-closeness, population uniqueness, SUDA2 over 8 QIs): $a_sec s, peak {$a_kb/1024:.0f} MB; {r['sample_uniques']} sample uniques, prosecutor average {r['prosecutor']['average']:.4f}, t {r['t_closeness']:.4f}, Pitman {p['pitman']:.4f}; SUDA2 {s['msus']} MSUs, DIS max {s['dis_max']:.4f}, sum {s['dis_sum']:.2f}\")"
fi
echo
echo "privacy engine: k = 5, 5 % suppression, loss; 8 quasi-identifiers, lattice of 6,480 nodes"
"$CARGO_TARGET_DIR/release/examples/privacy_scale" ${TOKUMEI_PRIVACY_PERSONS:-1000000 10000000}
if [[ -z ${TOKUMEI_BENCH_SKIP_CRITERION:-} ]]; then
  echo
  echo "national formats (criterion; thrpt = bytes or documents per second, one core):"
  cargo bench --quiet --bench formats 2>/dev/null | grep -E "^formats/|time:|thrpt:"
  echo
  echo "risk measures (criterion):"
  cargo bench --quiet --bench privacy -- risk 2>/dev/null | grep -E "^risk/|time:|thrpt:"
fi
