#!/usr/bin/env bash
# Benchmark: hallmark attest over 1,000 files totalling 1 GiB against the
# sandbox, next to sha256sum over the same files (the floor), several runs
# each, in one run of this script. Prints the medians and the ratio; the goal
# is attest <= 1.2 x floor + one signing round trip (measured alone on one
# small file).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
go build -o bin/hallmark ./cmd/hallmark
hm=$PWD/bin/hallmark
work=$(mktemp -d)
trap '"$hm" sandbox down --dir "$work/sb" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "making 1,000 files, 1 GiB in all..."
mkdir "$work/files"
head -c $((1024 * 1024 * 1024)) /dev/urandom >"$work/all"
split -n 1000 -d -a 4 "$work/all" "$work/files/f"
rm "$work/all"
ls "$work/files" | wc -l | xargs echo "files:"
cat "$work"/files/* >/dev/null # warm the page cache for both tools alike

"$hm" sandbox up --dir "$work/sb" >/dev/null 2>&1
eval "$("$hm" sandbox env --dir "$work/sb")"
export SIGSTORE_ID_TOKEN
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk "BEGIN {print $e - $s}"; }

floor=(); attest=(); sign=()
printf 'tiny\n' >"$work/tiny"
for i in $(seq "$runs"); do
  SIGSTORE_ID_TOKEN=$("$hm" sandbox token --dir "$work/sb")
  floor+=("$(secs sh -c "cd '$work/files' && sha256sum * >/dev/null")")
  attest+=("$(secs "$hm" attest --subject-path "$work/files/*" --facts-from-token --bundle-path "$work/big.sigstore.json")")
  sign+=("$(secs "$hm" attest --subject-path "$work/tiny" --facts-from-token --bundle-path "$work/tiny.sigstore.json")")
done
f=$(printf '%s\n' "${floor[@]}" | median)
a=$(printf '%s\n' "${attest[@]}" | median)
s=$(printf '%s\n' "${sign[@]}" | median)
printf 'sha256sum (floor)       median %.3f s  runs: %s\n' "$f" "${floor[*]}"
printf 'hallmark attest 1 GiB   median %.3f s  runs: %s\n' "$a" "${attest[*]}"
printf 'signing round trip      median %.3f s  (attest of one small file)\n' "$s"
printf 'ratio attest/floor      %.2f\n' "$(awk "BEGIN {print $a / $f}")"
printf 'ratio (attest-sign)/floor %.2f   (goal <= 1.20)\n' "$(awk "BEGIN {print ($a - $s) / $f}")"
