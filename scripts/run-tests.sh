#!/bin/sh
# Run each Criterion test binary given as an argument and sum up the results.
# The last line is "N passed, N failed, N skipped".
set -u
passed=0 failed=0 skipped=0 broken=0
failures=
BUILD=${BUILD:-build}
export BUILD
out=$BUILD/tests/results
mkdir -p "$out"
for t in "$@"; do
	name=${t##*/}
	tap=$out/$name.tap
	rm -f "$tap"
	echo "== $name"
	"$t" --tap="$tap" -j1 --always-succeed >"$out/$name.log" 2>&1
	rc=$?
	# Criterion's human-readable report: show failures and skips.
	grep -E '\[(FAIL|SKIP|----|ERR)\]|Warning|warning:|ERROR|Synthesis' "$out/$name.log" | head -60
	grep ' # SKIP' "$tap" 2>/dev/null | sed 's/^ok - /   [SKIP] /'
	if [ ! -s "$tap" ]; then
		echo "   $name produced no results (exit status $rc)"
		broken=$((broken + 1))
		failures="$failures   $name: no results (exit status $rc)
"
		continue
	fi
	# Under the sanitizers a report after a test's verdict still fails it.
	sanitizer=$(grep -c 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$out/$name.log")
	if [ "$sanitizer" -gt 0 ]; then
		grep -A12 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$out/$name.log" | head -40
		echo "   $name: $sanitizer sanitizer reports"
	fi
	s=$(grep -c '^ok .* # SKIP' "$tap")
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap")
	p=$(grep '^ok ' "$tap" | grep -vc ' # SKIP')
	f=$(( $(grep -c '^not ok ' "$tap") + sanitizer ))
	p=$(( p > sanitizer ? p - sanitizer : 0 ))
	if [ -n "$planned" ] && [ $((p + f + s)) -lt "$planned" ]; then
		echo "   $name: $((planned - p - f - s)) of $planned tests did not report"
		f=$((f + planned - p - f - s))
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		failures="$failures$(grep '^not ok ' "$tap" | sed "s|^not ok [0-9 ]*- |   $name: |" | cut -c1-160)
"
		[ "$sanitizer" -gt 0 ] && failures="$failures   $name: $sanitizer sanitizer reports
"
	fi
done
# Tests create the users and groups they need with a pmtest prefix; remove
# whatever is left.
if [ "$(id -u)" = 0 ]; then
	for u in $(getent passwd | cut -d: -f1 | grep '^pmtest'); do userdel "$u" >/dev/null 2>&1; done
	for g in $(getent group | cut -d: -f1 | grep '^pmtest'); do groupdel "$g" >/dev/null 2>&1; done
fi
if [ "$broken" -gt 0 ]; then
	echo "$broken test binaries did not report"
	failed=$((failed + broken))
fi
# Repeat what failed just above the summary, where a log's tail shows it.
if [ -n "$failures" ]; then
	echo "== failed"
	printf '%s' "$failures"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
