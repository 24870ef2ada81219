#!/usr/bin/env bash
# Installs this build into a temporary prefix, then builds and runs a separate
# project against it twice: through find_package(shmlease) (CMake package and
# shmlease::shmlease target) and through pkg-config (shmlease.pc). Also runs
# the installed `shmlease` command. Everything is removed, pass or fail.
#   install_consumer_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/shmlease-install-test.XXXXXX")
segment="shmlease-test-$$-install-consumer"
trap 'rm -rf "$work"; rm -f "/dev/shm/$segment"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null

echo "--- find_package(shmlease)"
cmake -S "$src/tests/install_consumer" -B "$work/cmake-build" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer" "$segment"

echo "--- pkg-config shmlease"
pc_dir=$(dirname "$(find "$work/prefix" -name shmlease.pc | head -1)")
export PKG_CONFIG_PATH="$pc_dir"
# shellcheck disable=SC2046  # pkg-config prints several flags on purpose.
c++ -o "$work/pc-consumer" "$src/tests/install_consumer/consumer.cc" \
  $(pkg-config --cflags --libs shmlease)
"$work/pc-consumer" "$segment"

echo "--- the installed shmlease command"
"$work/prefix/bin/shmlease" --segment "$segment" claim job --holder me --for 10s
"$work/prefix/bin/shmlease" --segment "$segment" check job --holder me
"$work/prefix/bin/shmlease" --segment "$segment" dump --json | grep -q '"holder": *"me"'
"$work/prefix/bin/shmlease" --segment "$segment" revoke job --holder me
"$work/prefix/bin/shmlease" --segment "$segment" destroy
echo "install consumer: ok"
