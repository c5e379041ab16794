#!/bin/sh
# The addons' unit tests under valgrind's memcheck: invalid reads and writes, use of uninitialised
# memory (in syscall arguments too) and definitely lost blocks fail the run. Not part of `npm test`
# (about a minute and a half). The tests run in LIGHT mode (RELAY_TEST_LIGHT=1: smaller volumes, wider
# timing slack), each file straight in node rather than under `node --test`, whose per-file child
# processes valgrind would not follow. Build first (npx node-gyp rebuild).
#   npm run test:memcheck     MEMCHECK_FLAGS=--track-origins=yes   MEMCHECK_TESTS="one.test.ts ..."
# Every definitely lost block fails, in Node as in the addons: Node itself loses none here, so a
# leak report points at an addon (the stack says which). V8's conservative stack scan is suppressed
# (native/v8-stack-scan.supp); logs go to .cache/memcheck/.
set -eu
cd "$(dirname "$0")/.."

TESTS=${MEMCHECK_TESTS:-"test/unit/proxy/udp/native-udp-proxy.test.ts test/unit/proxy/tcp/splice-relay.test.ts"}
LOGS=.cache/memcheck
MEMCHECK_ERROR=99  # valgrind's exit status on an error, distinct from a failed test's 1

command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 2; }
for addon in build/Release/splice.node build/Release/udp_proxy.node; do
  [ -f "$addon" ] || { echo "memcheck: no $addon (run: npx node-gyp rebuild)" >&2; exit 2; }
done
rm -rf "$LOGS"
mkdir -p "$LOGS"

failed=0
for test in $TESTS; do
  name=$(basename "$test" .test.ts)
  started=$(date +%s)
  status=0
  # %p: node's helpers (esbuild, spawned by tsx) get logs of their own, which stay empty.
  # shellcheck disable=SC2086  # MEMCHECK_FLAGS is a list of flags
  RELAY_TEST_LIGHT=1 valgrind --tool=memcheck --error-exitcode=$MEMCHECK_ERROR \
    --suppressions=native/v8-stack-scan.supp --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 --log-file="$LOGS/$name.%p.log" ${MEMCHECK_FLAGS:-} \
    node --import tsx "$test" >"$LOGS/$name.tap" 2>&1 || status=$?
  log=$(grep -l "ERROR SUMMARY" "$LOGS/$name".*.log | head -n 1)
  tests=$(grep -E '^# (pass|fail) ' "$LOGS/$name.tap" | tr '\n' ' ')
  echo "$name: exit $status after $(($(date +%s) - started)) s; tests: $tests"
  grep -E "ERROR SUMMARY|definitely lost:" "$log" | sed 's/^==[0-9]*== */  /'
  case $status in
    0) ;;
    "$MEMCHECK_ERROR") echo "  memcheck found errors: $log" >&2; failed=1 ;;
    *) echo "  the tests failed: $LOGS/$name.tap" >&2; failed=1 ;;
  esac
done
exit $failed
