#!/bin/sh
# Line coverage of the root side reached by the fuzz harnesses.
#
# Builds every fuzz/fuzz_*.c with clang's source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping, no sanitizer), runs each over
# its seed corpus (fuzz/corpus/NAME) and the corpus `make fuzz` gathered
# ($BUILD/fuzz/corpus-NAME, when there is one) and then fuzzes it for FUZZ_COV_TIME
# seconds (default 30; 0: the corpus only), merges the profiles and prints
# the line coverage of each root-side file with llvm-profdata and llvm-cov.
#
#   BUILD=build FUZZ_COV_TIME=30 sh scripts/fuzz-coverage.sh
#
# The per-harness build mirrors the Makefile's fuzz rule: a harness that
# includes a library source (#include "../src/dir/x.c") is linked without it.
set -eu

BUILD=${BUILD:-build}
TIME=${FUZZ_COV_TIME:-30}
OUT=$BUILD/fuzz-coverage
CLANG=${CLANG:-clang}
PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
COV=${LLVM_COV:-llvm-cov}
ROOT_SIDE="src/monitor/*.c src/policy/*.c src/scope/resolve_scope.c src/wire/*.c src/common/*.c src/common/*.h"

for tool in "$CLANG" "$PROFDATA" "$COV"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "fuzz-coverage: $tool not found (make deps installs it)" >&2
		exit 1
	}
done

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/profiles" "$OUT/corpus"

objects=""
for src in fuzz/fuzz_*.c; do
	name=${src#fuzz/fuzz_}
	name=${name%.c}
	bin=$OUT/bin/fuzz_$name
	included=$(sed -n 's|^#include "\.\./\(src/[a-z_]*/[a-z_]*\.c\)"$|\1|p' "$src")
	lib=""
	for f in src/*/*.c; do
		case " $included " in *" $f "*) ;; *) lib="$lib $f" ;; esac
	done
	echo "== build $bin" >&2
	# shellcheck disable=SC2086
	"$CLANG" -std=c11 -g -O1 -D_GNU_SOURCE -DPRIVMAN_SYSCONFDIR='"/usr/local/etc"' \
		-DPRIVMAN_VERSION='"0.1.0"' -Iinclude -Isrc -fsanitize=fuzzer \
		-fprofile-instr-generate -fcoverage-mapping -o "$bin" "$src" $lib \
		-lcap -lpam -lseccomp -lpthread
	objects="$objects $bin"

	corpus=fuzz/corpus/$name
	work=$OUT/corpus/$name
	gathered=$BUILD/fuzz/corpus-$name
	mkdir -p "$work" "$corpus"
	[ -d "$gathered" ] || gathered=""
	echo "== run $bin over $corpus ${gathered:+and $gathered}, then fuzz for ${TIME}s" >&2
	# shellcheck disable=SC2086
	PMFUZZ_BLOCK_OK=1 LLVM_PROFILE_FILE="$OUT/profiles/$name-seeds-%p.profraw" \
		"$bin" -runs=0 "$corpus" $gathered >"$OUT/$name-seeds.log" 2>&1 || {
		echo "fuzz-coverage: $bin failed on its corpus; see $OUT/$name-seeds.log" >&2
		exit 1
	}
	# A crash found while fuzzing loses that run's profile (the process
	# aborts) but not the others: it is reported and the script goes on.
	# A monitor that blocks is counted, not fatal (PMFUZZ_BLOCK_OK).
	if [ "$TIME" -gt 0 ]; then
		PMFUZZ_BLOCK_OK=1 LLVM_PROFILE_FILE="$OUT/profiles/$name-fuzz-%p.profraw" \
			"$bin" -max_total_time="$TIME" -timeout=10 -artifact_prefix="$OUT/" \
			"$work" "$corpus" >"$OUT/$name-fuzz.log" 2>&1 ||
			echo "fuzz-coverage: $bin failed while fuzzing; see $OUT/$name-fuzz.log" >&2
	fi
done

"$PROFDATA" merge -sparse -o "$OUT/all.profdata" "$OUT"/profiles/*.profraw
first=${objects# }
first=${first%% *}
rest=""
for o in $objects; do
	[ "$o" = "$first" ] || rest="$rest -object $o"
done
# shellcheck disable=SC2086
"$COV" report "$first" $rest -instr-profile="$OUT/all.profdata" $ROOT_SIDE \
	>"$OUT/report.txt"
# shellcheck disable=SC2086
"$COV" show "$first" $rest -instr-profile="$OUT/all.profdata" -format=html \
	-output-dir="$OUT/html" $ROOT_SIDE >/dev/null 2>&1 || true

echo
echo "Line coverage of the root side (harnesses: $(echo $objects | wc -w), fuzzing ${TIME}s each):"
awk '$1 ~ /\.[ch]$/ { printf "  %-20s %6s of %5s lines  %s\n", $1, $8 - $9, $8, $10 }
     $1 == "TOTAL" { printf "  %-20s %6s of %5s lines  %s\n", "total", $8 - $9, $8, $10 }' \
	"$OUT/report.txt"
echo "Full report: $OUT/report.txt; per line: $OUT/html/index.html"
