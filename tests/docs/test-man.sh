#!/usr/bin/env bash
# Every man page renders without a warning from groff or mandoc.
set -u
status=0
n=0
for page in "$@"; do
	for lint in "groff -ww -z -man" "mandoc -Tlint"; do
		n=$((n + 1))
		out=$($lint "$page" 2>&1)
		if [ $? -eq 0 ] && [ -z "$out" ]; then
			echo "ok $n - $lint $(basename "$page")"
		else
			echo "not ok $n - $lint $(basename "$page")"
			printf '%s\n' "$out" | sed 's/^/# /'
			status=1
		fi
	done
done
echo "1..$n"
exit $status
