#!/usr/bin/env bash
# Builds fieldops-ffi, generates its Python, Kotlin and Swift bindings in
# library mode under target/bindings/ (build outputs, never committed), runs
# the Python tests against a real server on loopback, and compiles and runs
# the Kotlin smoke test on the JVM. Installs what it needs, idempotently.
#
#   uniffi/run-binding-tests.sh            # everything
#   SKIP_KOTLIN=1 uniffi/run-binding-tests.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/bindings"
lib="$target/debug/libfieldops_ffi.so"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

echo "==> building fieldops-ffi, uniffi-bindgen and the server"
cargo build --workspace --bins --lib -q

echo "==> generating bindings"
rm -rf "$out" && mkdir -p "$out"/{python,kotlin,swift}
for language in python kotlin swift; do
  "$target/debug/uniffi-bindgen" generate --library "$lib" --language "$language" \
    --out-dir "$out/$language" --no-format
done
cp "$lib" "$out/python/"
ls -R "$out" | sed 's/^/    /'

echo "==> Python tests"
FIELDOPS_BIN="$target/debug/fieldops" PYTHONPATH="$out/python" \
  python3 uniffi/tests/test_bindings.py

if [[ "${SKIP_KOTLIN:-}" == "1" ]]; then
  echo "==> Kotlin skipped (SKIP_KOTLIN=1)"
  exit 0
fi

echo "==> Kotlin smoke test"
tools="$target/binding-tools"
mkdir -p "$tools"
kotlinc="$tools/node_modules/kotlin-compiler/bin/kotlinc"
if [[ ! -x "$kotlinc" ]]; then
  (cd "$tools" && npm install --silent --no-audit --no-fund kotlin-compiler >/dev/null)
  chmod +x "$tools"/node_modules/kotlin-compiler/bin/*
fi
need=()
[[ -f /usr/share/java/jna.jar ]] || need+=(libjna-java)
ls /usr/share/java/kotlinx-coroutines-core*.jar >/dev/null 2>&1 || need+=(libkotlinx-coroutines-java)
if (( ${#need[@]} )); then
  sudo_=""; [[ $(id -u) -ne 0 ]] && sudo_="sudo"
  $sudo_ apt-get update -qq >/dev/null 2>&1 || true
  $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
cp_jars="/usr/share/java/jna.jar"
for jar in /usr/share/java/kotlinx-coroutines-core.jar /usr/share/java/kotlinx-coroutines-core-common.jar /usr/share/java/atomicfu*.jar; do
  [[ -f "$jar" ]] && cp_jars="$cp_jars:$jar"
done
kt_out="$out/kotlin-build"
mkdir -p "$kt_out"
"$kotlinc" -nowarn -cp "$cp_jars" \
  "$out/kotlin/uniffi/fieldops_ffi/fieldops_ffi.kt" uniffi/tests/Smoke.kt uniffi/tests/CoroutinesShim.kt \
  -include-runtime -d "$kt_out/smoke.jar"
java -Djna.library.path="$target/debug" -cp "$kt_out/smoke.jar:$cp_jars" SmokeKt
