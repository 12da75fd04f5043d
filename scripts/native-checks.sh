#!/usr/bin/env bash
# Native checks (docs/RELIABILITY.md): exits non-zero on any sanitizer, valgrind or fuzzer
# finding. Builds go to build-checks/ (and the instrumented addon to build-asan/), never to
# build/, which holds the addon everyone else uses.
#
#   1. test/native core driver under ThreadSanitizer (g++ -fsanitize=thread)
#   2. the same driver under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the plain driver under valgrind memcheck (leaks and invalid accesses)
#   4. the addon built with ASan + UBSan, loaded by Node with the ASan runtime preloaded:
#      the soak (with LeakSanitizer) and the dispatcher, simulator, teardown, fault-matrix and
#      property tests (vitest's own tooling leaks at exit, so leak detection is off there)
#   5. libFuzzer on the hv_vss message codec (clang-19), FUZZ_SECONDS long (default 30)
#
# Needs: g++, cmake, ninja or make, valgrind, clang-19 and libclang-rt-19-dev (apt), and
# dist/ built (npm run build:ts).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-checks
mkdir -p "$out"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
fuzz_seconds=${FUZZ_SECONDS:-30}

step() { echo; echo "== native-checks: $*"; }

build_driver() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S test/native -B "$out/$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null
  nice cmake --build "$out/$dir" --target core_driver >/dev/null
}

step "ThreadSanitizer: core driver"
build_driver tsan -DSANITIZE=thread
# halt_on_error: the first race fails the run; second_deadlock_stack: full lock-order reports.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$out/tsan/core_driver"

step "AddressSanitizer + UndefinedBehaviorSanitizer: core driver"
build_driver asan -DSANITIZE=address,undefined
ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" "$out/asan/core_driver"

step "valgrind memcheck: core driver"
build_driver plain
nice valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect "$out/plain/core_driver"

step "AddressSanitizer + UndefinedBehaviorSanitizer: the addon under Node"
nice npx cmake-js compile -O build-asan -B RelWithDebInfo --CDVSS_BRIDGE_SANITIZE=address,undefined >/dev/null
addon=$root/build-asan/RelWithDebInfo/vss_bridge.node
# The addon links g++'s libasan; Node is not instrumented, so the runtime must come first.
libasan=$(g++ -print-file-name=libasan.so)
asan_env=(env LD_PRELOAD="$libasan" VSS_BRIDGE_ADDON="$addon" VSS_BRIDGE_LOG_LEVEL=error
  UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1")
# Node with this addon leaks nothing at exit, so the soak runs with LeakSanitizer and no
# suppressions (scripts/lsan-suppressions.txt stays empty of Node entries until one is needed).
"${asan_env[@]}" ASAN_OPTIONS="detect_leaks=1 abort_on_error=1" \
  LSAN_OPTIONS="suppressions=$root/scripts/lsan-suppressions.txt print_suppressions=0" \
  node scripts/soak.mjs --sets 300 --seed 3 --json
"${asan_env[@]}" ASAN_OPTIONS="detect_leaks=0 abort_on_error=1" \
  nice npx vitest run test/dispatcher.test.ts test/simulator.test.ts test/teardown.test.ts test/reliability test/properties

step "libFuzzer: hv_vss message codec"
if [[ -f native/linux/hv_vss_msg.cc ]]; then
  CXX=clang++-19 cmake -S test/native -B "$out/fuzz" "${generator[@]}" -DFUZZ=ON >/dev/null
  nice cmake --build "$out/fuzz" --target fuzz_hv_vss_msg >/dev/null
  mkdir -p "$out/fuzz/corpus"
  # Any crash, sanitizer report or failed invariant (abort) makes libFuzzer exit non-zero.
  "$out/fuzz/fuzz_hv_vss_msg" -max_total_time="$fuzz_seconds" -max_len=64 -print_final_stats=1 "$out/fuzz/corpus" 2>&1 | tail -5
  test "${PIPESTATUS[0]}" -eq 0
else
  echo "native/linux/hv_vss_msg.cc is not in this tree: nothing to fuzz"
fi

echo
echo "native-checks: all clean"
