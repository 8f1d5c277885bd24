#!/usr/bin/env bash
# check-layers — the layers of src/ and the one direction of their arrows.
#
#   core, proto   pure: the state machine with its encodings, and RESP. They
#                 include only their own layer's headers and no header that
#                 brings I/O, clocks or threads (uv.h, raft.h, unistd.h ...).
#   base          logging, clocks, configuration: may use core and proto.
#   raft          libraft glue (fsm, node, transport, identity, membership).
#   server        connections, commands, batching, forwarding, main.
#
# A file may include headers of its own layer and of inner ones; an arrow
# from an inner layer to an outer one fails, and so does a file of src/
# outside every layer. Exit 0 when the tree keeps the rules.
# usage: check-layers.sh [SRC_DIR]   |   check-layers.sh --self-test
set -u

rank_of() {
    case "$1" in
        core | proto) echo 0 ;;
        base) echo 1 ;;
        raft) echo 2 ;;
        server) echo 3 ;;
        *) echo -1 ;;
    esac
}

check() {
    local src=$1 bad=0
    declare -A layer_of
    for f in "$src"/*; do
        if [ -f "$f" ]; then
            echo "check-layers: $f is outside every layer (put it in one of src/{core,proto,base,raft,server})"
            bad=1
        fi
    done
    for dir in "$src"/*/; do
        local layer
        layer=$(basename "$dir")
        if [ "$(rank_of "$layer")" -lt 0 ]; then
            echo "check-layers: $dir is not a layer"
            bad=1
            continue
        fi
        for h in "$dir"*.h; do
            [ -e "$h" ] && layer_of[$(basename "$h")]=$layer
        done
    done
    for dir in "$src"/*/; do
        local layer rank
        layer=$(basename "$dir")
        rank=$(rank_of "$layer")
        [ "$rank" -ge 0 ] || continue
        for f in "$dir"*.[ch]; do
            [ -e "$f" ] || continue
            while IFS= read -r line; do
                local hdr=${line#*\"}
                hdr=${hdr%%\"*}
                local to=${layer_of[$hdr]:-}
                if [ -z "$to" ]; then
                    echo "check-layers: $f includes \"$hdr\", which is in no layer of $src"
                    bad=1
                    continue
                fi
                local to_rank
                to_rank=$(rank_of "$to")
                if [ "$to" != "$layer" ] && { [ "$to_rank" -ge "$rank" ] || [ "$rank" -eq 0 ]; }; then
                    echo "check-layers: $f ($layer) includes \"$hdr\" ($to): an arrow outward"
                    bad=1
                fi
            done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
            if [ "$rank" -eq 0 ]; then
                local impure
                impure=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(uv\.h|uv/|raft\.h|raft/|unistd\.h|fcntl\.h|sys/|time\.h|pthread\.h|dirent\.h|signal\.h|netinet/|arpa/)' "$f")
                if [ -n "$impure" ]; then
                    echo "check-layers: $f is in a pure layer ($layer) but includes: $impure"
                    bad=1
                fi
            fi
        done
    done
    return $bad
}

self_test() {
    local t
    t=$(mktemp -d)
    trap 'rm -rf "$t"' RETURN
    mkdir -p "$t/core" "$t/server"
    printf '#include "b.h"\n' > "$t/core/a.c"
    printf '\n' > "$t/server/b.h"
    if check "$t" > /dev/null; then echo "self-test: an inward-to-outward arrow passed"; return 1; fi
    printf '#include <uv.h>\n' > "$t/core/a.c"
    if check "$t" > /dev/null; then echo "self-test: uv.h in the core passed"; return 1; fi
    printf '#include "a.h"\n' > "$t/server/b.h"
    printf '\n' > "$t/core/a.h"
    printf '#include "a.h"\n' > "$t/core/a.c"
    if ! check "$t" > /dev/null; then echo "self-test: a good tree failed"; return 1; fi
    printf '\n' > "$t/loose.c"
    if check "$t" > /dev/null; then echo "self-test: a file outside the layers passed"; return 1; fi
    echo "check-layers: self-test passed"
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit $?
fi
src=${1:-src}
if check "$src"; then
    echo "check-layers: $(find "$src" -name '*.[ch]' | wc -l) files keep the layers"
else
    exit 1
fi
