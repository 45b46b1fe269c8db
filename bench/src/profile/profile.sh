#!/bin/sh
# bench/src/profile/profile.sh OUT_DIR [seconds] [in-flight]: CPU profiles of caller and responder
# at N in flight (hot-path.ts), then the top self-time frames of each within the measured window.
set -e
# the workspace packages from source, as npm run bench has them (the responder inherits it)
export NODE_OPTIONS=--conditions=@switchyard/source
out=${1:?usage: profile.sh OUT_DIR [seconds] [in-flight]}
mkdir -p "$out"
node --cpu-prof --cpu-prof-dir="$out/caller" --import tsx bench/src/profile/hot-path.ts "$out/responder" "${2:-8}" "${3:-64}" >"$out/window.json" 2>"$out/log.txt"
for side in caller responder; do
  # the main thread's profile (tsx's loader thread writes a second one)
  file=$(ls "$out/$side"/*.0.001.cpuprofile | head -1)
  echo "== $side ($(cat "$out/window.json"))"
  node --import tsx bench/src/profile/cpu-profile-summary.ts "$file" "$out/window.json" 30
done
