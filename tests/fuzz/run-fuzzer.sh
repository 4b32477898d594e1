#!/bin/bash
# run-fuzzer.sh FUZZER CORPUS ARTIFACTS: runs libFuzzer target FUZZER for
# PYFS_FUZZ_SECONDS (default 30) over a temporary copy of seed corpus
# CORPUS (the repository is never written), with CORPUS/../<target>.dict
# when there is one. A crash, leak or timeout fails; its input is copied
# to ARTIFACTS.
set -euo pipefail

fuzzer=$1 corpus=$2 artifacts=$3
seconds=${PYFS_FUZZ_SECONDS:-30}
target=$(basename "$corpus")
work=$(mktemp -d "${TMPDIR:-/tmp}/pyfs-fuzz-$target.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

mkdir -p "$work/corpus" "$work/artifacts"
cp -- "$corpus"/* "$work/corpus/"
# libFuzzer's own failure status, 77, would read as "skipped" to meson.
args=(
	-error_exitcode=1
	-timeout_exitcode=1
	-max_total_time="$seconds"
	-timeout=20
	-rss_limit_mb=4096
	-max_len=4096
	-print_final_stats=1
	-artifact_prefix="$work/artifacts/"
)
dict=$(dirname "$corpus")/../$target.dict
[[ -f $dict ]] && args+=(-dict="$dict")

status=0
"$fuzzer" "${args[@]}" "$work/corpus" || status=$?
for found in "$work"/artifacts/*; do
	[[ -e $found ]] || continue
	cp -- "$found" "$artifacts/"
	echo "input kept as $artifacts/$(basename "$found")" >&2
	[[ $status != 0 ]] || status=1
done
exit "$status"
