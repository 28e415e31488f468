#!/usr/bin/env bash
# Run each package's tests against only its own dependencies (one venv per package under
# .venvs/), then the cross-package tests in a venv with the whole workspace.
# Includes the `claim` tests; `slow` ones stay off (pytest addopts). PKG=<dist> runs one.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
failed=()
summary=()
for dir in packages/*/; do
    dist=$(basename "$dir")
    [[ -n "${PKG:-}" && "$PKG" != "$dist" ]] && continue
    mod=${dist//-/_}
    if ! compgen -G "tests/$mod/test_*.py" >/dev/null; then
        echo "FAIL: package $dist has no tests (expected tests/$mod/test_*.py)"
        failed+=("$dist (no tests)")
        continue
    fi
    echo "=== $dist: tests/$mod ==="
    start=$SECONDS
    # shellcheck disable=SC2086
    if ! UV_PROJECT_ENVIRONMENT=".venvs/$dist" $UV run --frozen --exact --package "$dist" \
        python -m pytest "tests/$mod" ${PYTEST_ARGS:-}; then
        failed+=("$dist")
    fi
    summary+=("$dist: $((SECONDS - start)) s")
done
cross=()
for path in tests/apps tests/test_packaging.py tests/test_contract.py; do
    [[ -e "$path" ]] && cross+=("$path")
done
if [[ -z "${PKG:-}" && ${#cross[@]} -gt 0 ]]; then
    echo "=== cross-package: ${cross[*]} ==="
    start=$SECONDS
    # shellcheck disable=SC2086
    if ! UV_PROJECT_ENVIRONMENT=".venvs/all" $UV run --frozen --exact --all-packages \
        --all-extras python -m pytest "${cross[@]}" ${PYTEST_ARGS:-}; then
        failed+=("cross-package")
    fi
    summary+=("cross-package: $((SECONDS - start)) s")
fi
echo "=== test times ==="
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all tests passed"
