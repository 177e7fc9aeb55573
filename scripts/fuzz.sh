#!/usr/bin/env bash
# Runs the libFuzzer targets of Fuzz/ (built by `make fuzz-build` into .build-fuzz) for SECONDS each:
#
#   scripts/fuzz.sh SECONDS [TARGET...]       targets: page config state-file metrics-request (default: all)
#
# Each target starts from its committed seeds (Fuzz/Corpus/TARGET, read only) and from what earlier runs on
# this machine kept (.build-fuzz/corpus/TARGET, where new inputs go), with its dictionary
# (Fuzz/Dictionaries/TARGET.dict). A crash or trap, one input running over 10 s, or more than 2 GiB of memory
# fails the target: the input is written to .build-fuzz/findings/TARGET/ and the command that replays it is
# printed. One line per target (executions, executions per second), then "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(page config state-file metrics-request)
bin=${FUZZ_BIN:-.build-fuzz/debug}
passed=0
failed=0
for target in "${targets[@]}"; do
    corpus=.build-fuzz/corpus/$target
    findings=.build-fuzz/findings/$target
    log=.build-fuzz/fuzz-$target.log
    mkdir -p "$corpus" "$findings"
    # The Swift runtime's backtracer would take over the crash signal before libFuzzer writes the input out.
    if SWIFT_BACKTRACE=enable=no "$bin/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$findings/" -dict="Fuzz/Dictionaries/$target.dict" \
        "$corpus" "Fuzz/Corpus/$target" >"$log" 2>&1; then
        result=ok
        passed=$((passed + 1))
    else
        result=FAILED
        failed=$((failed + 1))
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    kept=$(find "$corpus" -type f | wc -l)
    echo "fuzz $target: $result, ${runs:-?} executions in ${seconds}s (${rate:-?}/s), $kept inputs kept in $corpus"
    if [ $result = FAILED ]; then
        grep -E 'Fatal error|ERROR: libFuzzer|SUMMARY|Test unit written|^MS:' "$log" | head -20 | sed 's/^/    /' >&2
        for input in "$findings"/*; do
            [ -f "$input" ] && echo "    replay: SWIFT_BACKTRACE=enable=no $bin/fuzz-$target $input" >&2
        done
        echo "    whole log: $log" >&2
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
