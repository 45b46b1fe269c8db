#!/bin/sh
# bench/src/profile/balance-ab.sh OUT_DIR [pairs] [top]: one CPU profile of both arms of the balance
# suite's throughput figure (balance-ab.ts), then each frame's µs per call in each arm and the
# difference, largest first (balance-ab-summary.ts).
set -e
export NODE_OPTIONS=--conditions=@switchyard/source
out=${1:?usage: balance-ab.sh OUT_DIR [pairs] [top]}
mkdir -p "$out"
node --cpu-prof --cpu-prof-dir="$out" --import tsx bench/src/profile/balance-ab.ts "${2:-10}" >"$out/rounds.json" 2>"$out/log.txt"
# the main thread's profile (tsx's loader thread writes a second one)
node --import tsx bench/src/profile/balance-ab-summary.ts "$(ls "$out"/*.0.001.cpuprofile | head -1)" "$out/rounds.json" "${3:-25}"
