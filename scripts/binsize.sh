#!/usr/bin/env bash
# What a blank import of memwatch/auto adds to a program, and proof that the
# core packages pull no HTTP stack. Prints the sizes; fails when the import
# adds more than MAX_ADDED bytes (decimal 1.5 MB by default) or when
# memwatch or memwatch/auto import net/http or expvar.
#
# Both programs are built with -trimpath: a default build embeds the
# absolute path of every source file, so the same commit measured in a
# checkout with a longer path came out 4 KB larger (1,496,883 bytes added in
# /work/main, 1,501,075 in a clone under a 45-character directory). A user's
# build embeds the module cache path instead; -trimpath makes the number a
# property of the code, not of where it was checked out.
#
#   ./scripts/binsize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_ADDED="${MAX_ADDED:-1500000}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if heavy=$(go list -deps ./memwatch ./memwatch/auto | grep -xE 'net/http|expvar'); then
	echo "memwatch or memwatch/auto imports: $heavy"; exit 1
fi
echo "ok: memwatch and memwatch/auto import neither net/http nor expvar"

go build -trimpath -o "$tmp/plain" ./memwatch/auto/testdata/hello-plain
go build -trimpath -o "$tmp/auto" ./memwatch/auto/testdata/hello
plain=$(stat -c %s "$tmp/plain")
auto=$(stat -c %s "$tmp/auto")
added=$((auto - plain))
printf 'hello-world            %9d bytes\n' "$plain"
printf 'with memwatch/auto     %9d bytes\n' "$auto"
printf 'added                  %9d bytes (limit %d)\n' "$added" "$MAX_ADDED"
if [ "$added" -gt "$MAX_ADDED" ]; then
	echo "memwatch/auto adds more than $MAX_ADDED bytes"; exit 1
fi
