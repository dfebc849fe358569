#!/usr/bin/env bash
# pnpm bench:diagnostics — what core's diagnostics channels cost when no one
# subscribes. Times one `hasSubscribers` read (the only code compiled out
# below), then builds a second tree of this commit in which the `hasSubscribers`
# checks of the send, deliver, drop and bind paths are compiled out (the code
# as it was before the channels), then measures throughput and latency of both
# cores loaded in each process, in interleaved rounds (this tree's first in odd
# processes, the other's in even ones), and writes bench/results-diagnostics.json,
# which BENCHMARKS.md's "Observability" section reads.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

pairs="${PAIRS:-12}"
rounds="${ROUNDS:-3}"
targets="${TARGETS:-memory,amqp,redis,nats,nats (durable),postgres}"
here="$(pwd)"
work="$(mktemp -d)"
without="$work/tree"
trap 'git -C "$here" worktree remove --force "$without" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$here" worktree add --quiet --detach "$without" HEAD
core="$without/packages/amq-core/src"
sed -i 's/if (!sendChannel.hasSubscribers) {/if (true as boolean) {/' "$core/handler.ts"
sed -i 's/if (deliverChannel.hasSubscribers) return/if (false as boolean) return/' "$core/delivery-queue.ts"
sed -i 's/if (dropChannel.hasSubscribers) {/if (false as boolean) {/' "$core/delivery-queue.ts"
sed -i 's/if (!channel.hasSubscribers) {/if (true as boolean) {/' "$core/holds.ts"
# Each check must have been found: a renamed one would make the comparison empty.
changed="$(git -C "$without" diff --numstat | awk '{ n += $1 } END { print n + 0 }')"
if [ "$changed" -ne 4 ]; then
  echo "bench:diagnostics: expected 4 checks to compile out, changed $changed lines; update diagnostics.sh" >&2
  exit 1
fi
(cd "$without" && pnpm install --offline --frozen-lockfile >/dev/null)
mkdir "$work/runs"
node --conditions=@teal/source --import tsx src/diagnostics.ts checks "$work/checks.json"

echo "bench:diagnostics: $pairs processes, each with both cores in $rounds interleaved rounds"
for i in $(seq 1 "$pairs"); do
  order=AB
  ((i % 2)) || order=BA
  node --expose-gc --conditions=@teal/source --import tsx \
    src/diagnostics.ts measure "$work/runs/$i.json" "$without" "$targets" "$rounds" "$order" >/dev/null
  echo "bench:diagnostics: $(date +%T) process $i of $pairs ($order) done"
done
node --conditions=@teal/source --import tsx src/diagnostics.ts combine "$work/runs" "$work/checks.json" results-diagnostics.json
