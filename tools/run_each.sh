#!/usr/bin/env bash
# make demo | bench | reproduce: run what exists, say clearly what does not.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
job=$1
case "$job" in
demo)
    if [[ -d apps/compress-embedder ]]; then
        exec $UV run --frozen --package compress-embedder compress-embedder run --overwrite "${@:2}"
    fi
    echo "make demo: the compress-embedder app does not exist yet (see the README's package table)."
    exit 0
    ;;
bench)
    ran=0
    for script in benchmarks/bench_*.py; do
        [[ -e "$script" ]] || continue
        mod=$(basename "$script" .py); mod=${mod#bench_}; dist=${mod//_/-}
        [[ -n "${PKG:-}" && "$PKG" != "$dist" ]] && continue
        echo "=== bench $dist ==="
        UV_PROJECT_ENVIRONMENT=".venvs/$dist" $UV run --frozen --exact --package "$dist" python "$script"
        ran=1
    done
    [[ $ran == 1 ]] || echo "make bench: no benchmarks/bench_*.py exists yet."
    ;;
reproduce)
    ran=0
    for dir in packages/*/; do
        dist=$(basename "$dir"); mod=${dist//-/_}
        [[ -n "${PKG:-}" && "$PKG" != "$dist" ]] && continue
        [[ -f "packages/$dist/src/$mod/reproduce.py" ]] || continue
        echo "=== reproduce $dist ==="
        UV_PROJECT_ENVIRONMENT=".venvs/$dist" $UV run --frozen --exact --package "$dist" "$dist" reproduce
        ran=1
    done
    [[ $ran == 1 ]] || echo "make reproduce: no package has a reproduce command yet."
    ;;
*)
    echo "usage: tools/run_each.sh demo|bench|reproduce" >&2
    exit 2
    ;;
esac
