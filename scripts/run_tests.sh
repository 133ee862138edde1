#!/usr/bin/env bash
# Run the whole test suite on SQLite, then on PostgreSQL when one is reachable.
#
#   scripts/run_tests.sh [pytest args...]      (what `make test` and .ci/run call)
#
# PostgreSQL: DATABASE_URL when it is a postgres:// URL, else postgres@127.0.0.1:5432. Every run uses a
# fresh database name (dcc_test_<timestamp>_<pid>; pytest-django creates and drops test_<name>).
# CI=true makes PostgreSQL mandatory; elsewhere an unreachable server only skips that run.
set -euo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON_BIN:-.venv/bin/python}"
CI="${CI:-false}"
ORIGINAL_DATABASE_URL="${DATABASE_URL:-}"
mkdir -p var/static
if [[ ! -x "$PY" ]]; then
    echo "ERROR: $PY not found: run \`make test\` (it creates .venv) or \`make venv\` first" >&2
    exit 1
fi

say() { printf '\n==> %s\n' "$*"; }

# pytest exit codes: 0 ok, 1 failures, 2 interrupted, 3 internal error, 4 usage, 5 no tests collected.
run_pytest() {
    local label="$1"
    shift
    local rc=0
    "$PY" -m pytest "$@" || rc=$?
    if [[ $rc -eq 5 ]]; then
        echo "ERROR: pytest collected no tests in the $label run (exit code 5)" >&2
        return 1
    fi
    if [[ $rc -ne 0 ]]; then
        echo "ERROR: the $label run failed (pytest exit code $rc)" >&2
    fi
    return "$rc"
}

# Prints the base postgres URL to use, or nothing when there is none.
postgres_base_url() {
    if [[ "$ORIGINAL_DATABASE_URL" =~ ^postgres(ql)?:// ]]; then
        echo "$ORIGINAL_DATABASE_URL"
    elif [[ -z "$ORIGINAL_DATABASE_URL" || "$ORIGINAL_DATABASE_URL" =~ ^sqlite ]]; then
        echo "postgres://postgres@127.0.0.1:5432/postgres"
    fi
}

# Exit 0 when a connection to the server of $1 succeeds.
postgres_reachable() {
    "$PY" - "$1" <<'PYEOF'
import sys
from urllib.parse import urlsplit, unquote

import psycopg2

url = urlsplit(sys.argv[1])
try:
    psycopg2.connect(
        host=url.hostname or "127.0.0.1", port=url.port or 5432, user=unquote(url.username or "postgres"),
        password=unquote(url.password or "") or None, dbname="postgres", connect_timeout=3,
    ).close()
except psycopg2.OperationalError as exc:
    print(f"    ({str(exc).strip().splitlines()[0]})", file=sys.stderr)
    sys.exit(1)
PYEOF
}

# $1 with its database name replaced by $2.
with_database() {
    "$PY" - "$1" "$2" <<'PYEOF'
import sys
from urllib.parse import urlsplit, urlunsplit

url = urlsplit(sys.argv[1])
print(urlunsplit(url._replace(path="/" + sys.argv[2])))
PYEOF
}

# On a CI machine whose PostgreSQL is installed but stopped, start it once.
try_start_postgres() {
    if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
        local version
        for version in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
        done
        sleep 2
    fi
}

say "pytest on SQLite"
DATABASE_URL="sqlite:///$PWD/var/test-runner.sqlite3" run_pytest SQLite "$@"

base_url="$(postgres_base_url)"
if [[ -z "$base_url" ]]; then
    say "DATABASE_URL is neither SQLite nor PostgreSQL: skipping the PostgreSQL run"
    exit 0
fi
if ! postgres_reachable "$base_url"; then
    if [[ "$CI" == "true" ]]; then
        try_start_postgres
    fi
    if ! postgres_reachable "$base_url"; then
        if [[ "$CI" == "true" ]]; then
            echo "ERROR: PostgreSQL not reachable and CI=true: the PostgreSQL run is required in CI" >&2
            exit 1
        fi
        say "PostgreSQL not reachable: skipping the PostgreSQL run (set DATABASE_URL=postgres://... to use one)"
        exit 0
    fi
fi

db_name="dcc_test_$(date +%Y%m%d%H%M%S)_$$"
say "pytest on PostgreSQL (database test_${db_name}, created fresh)"
DATABASE_URL="$(with_database "$base_url" "$db_name")" run_pytest PostgreSQL --create-db "$@"
