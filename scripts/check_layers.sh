#!/bin/bash
# Fails when a source file includes a folder above its own. Each folder may
# include itself and the folders listed for it; dependencies point down:
#
#   core  <-  shmem  <-  worker/pool  <-  worker
#                    <-  pg  <-  worker, backend  <-  sqlapi
#
# (core, shmem and worker/pool are also compiled without the server headers,
# which the Makefile enforces.) Run by every build.
set -euo pipefail
cd "$(dirname "$0")/../src"

allowed() {
    case $1 in
        core)        echo "core" ;;
        shmem)       echo "core shmem" ;;
        worker/pool) echo "core shmem worker/pool" ;;
        pg)          echo "core shmem pg" ;;
        worker)      echo "core shmem worker/pool pg worker" ;;
        backend)     echo "core shmem pg backend" ;;
        sqlapi)      echo "core shmem pg backend sqlapi" ;;
        *)           return 1 ;;
    esac
}

status=0
for f in $(find . -name '*.cpp' -o -name '*.hpp' | sed 's|^\./||' | sort); do
    dir=$(dirname "$f")
    if ! ok=$(allowed "$dir"); then
        echo "check_layers: $f is in a folder with no place in the layering" >&2
        status=1
        continue
    fi
    # Relative includes would get round the rule; the project has none.
    if grep -qE '^#include "\.\.?/' "$f"; then
        echo "check_layers: $f includes a relative path: name the folder under src/" >&2
        status=1
    fi
    while read -r inc; do
        target=$(dirname "$inc")
        # Server headers ("utils/guc.h") are not ours.
        case ${inc%%/*} in core|shmem|worker|pg|backend|sqlapi) ;; *) continue ;; esac
        # worker/pool/x.hpp belongs to worker/pool, worker/x.hpp to worker.
        if ! [[ " $ok " == *" $target "* ]]; then
            echo "check_layers: $f includes \"$inc\": $dir may include only: $ok" >&2
            status=1
        fi
    done < <(sed -n 's/^#include "\([^"]*\/[^"]*\)".*/\1/p' "$f")
done
exit $status
