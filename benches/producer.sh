#!/usr/bin/env bash
# The certified producer's side, end to end: a population with ~1 M dispensing rows split across
# three providers (the hospital's charts, the pharmacy's dispensing, the municipality's checkups),
# each provider's submission run, then the producer's anonymized run over the three submissions
# (configs/producer.toml) and its linkage across providers against the synthetic truth. Prints
# seconds, rows/s and peak memory per run, and linkage precision and recall.
#
#   benches/producer.sh            # ~1 M dispensing rows
#   benches/producer.sh 200000     # the sizes given (dispensing rows)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tokumei-target}"
cargo build --release --quiet --bin tokumei
bin="$CARGO_TARGET_DIR/release/tokumei"
work="${TOKUMEI_BENCH_DIR:-$(mktemp -d)}"
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1000000)
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 2; }
printf '%-12s %-10s %-24s %12s %10s %10s %14s\n' "dispensing" "persons" "run" "rows" "seconds" "rows/s" "peak memory"
for rows in "${sizes[@]}"; do
  # The generator writes about 3.5 dispensing rows per person.
  persons=$(( rows * 10 / 35 ))
  dir="$work/$rows"
  rm -rf "$dir" && mkdir -p "$dir" && cp -r configs "$dir/"
  "$bin" -q synth --persons "$persons" --seed 1 --truth-column --out "$dir/datasets/sample"
  # The truth column travels through every schema (the providers' and the producer's), so that
  # linkage at the producer can be measured; it is the synthetic truth, never real data.
  for table in charts dispensing checkups; do
    for schema in "$dir/configs/schemas/$table.toml" "$dir/configs/schemas/submission-$table.toml"; do
      printf '\n[[column]]\nname = "synth_person"\nheader = "synth_person"\nrole = "insensitive"\nreason = "synthetic truth (bench)"\n' >> "$schema"
    done
  done
  chmod 600 "$dir"/configs/keys/*.key
  report_rows() { python3 -c "import json,sys; r=json.load(open('$1')); print(sum(a['rows_read'] for a in r['accounting']))"; }
  line() {
    awk -v d="$rows" -v p="$persons" -v n="$1" -v r="$2" -v s="$3" -v k="$4" \
      'BEGIN { printf "%-12s %-10s %-24s %12s %10s %10.0f %11.0f MB\n", d, p, n, r, s, r / (s > 0 ? s : 0.001), k / 1024 }'
  }
  for provider in hospital pharmacy municipality; do
    /usr/bin/time -f '%e %M' -o "$dir/$provider.time" "$bin" -q run --config "$dir/configs/providers/$provider.toml"
    read -r sec kb < "$dir/$provider.time"
    line "provider $provider" "$(report_rows "$dir/out/providers/$provider/report.json")" "$sec" "$kb"
  done
  /usr/bin/time -f '%e %M' -o "$dir/producer.time" "$bin" -q run --config "$dir/configs/producer.toml"
  read -r sec kb < "$dir/producer.time"
  line "producer (anonymized)" "$(report_rows "$dir/out/producer/report.json")" "$sec" "$kb"
  /usr/bin/time -f '%e %M' -o "$dir/linkage.time" "$bin" -q linkage --config "$dir/configs/producer.toml" \
    --truth-column synth_person --json "$dir/linkage.json"
  read -r sec kb < "$dir/linkage.time"
  line "producer linkage" "$(python3 -c "import json; print(json.load(open('$dir/linkage.json'))['records'])")" "$sec" "$kb"
  python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
q = json.load(open(f"{d}/linkage.json"))
print(f"{'':12} linkage across providers: precision {q['precision']:.6f}, recall {q['recall']:.6f} "
      f"({q['linked_persons']} persons linked, {q['true_persons']} true)")
for p in json.load(open(f"{d}/out/producer/report.json"))["stages"]["providers"]:
    print(f"{'':12} {p['provider']}: {p['rows']} rows, {p['persons']} persons, {p['shared_persons']} shared")
PY
  rm -rf "$dir/datasets" "$dir/out"
done
