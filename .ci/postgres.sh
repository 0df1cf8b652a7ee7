#!/usr/bin/env bash
# A throwaway PostgreSQL for the multi-worker tests, listening only on 127.0.0.1.
#
#   . .ci/postgres.sh                     # exports NAS_MNIST_TEST_PG for the tests
#   eval "$(bash .ci/postgres.sh)"        # the same from a child shell
#
# Installs Debian's postgresql package when no server binaries are there, initialises a cluster
# owned by the `postgres` user in $NAS_MNIST_PG_DIR (default /tmp/nas-mnist-pg), starts it on a
# free port and creates the database nas_mnist_test. Idempotent: a cluster of an earlier call that
# still answers is reused. Every step has a time limit, so it cannot hang a CI run; on failure it
# says why in its one line and exports nothing (the tests then skip, or fail where CI=true).
# Stop the server with: pg_ctl -D "$NAS_MNIST_PG_DIR/data" stop (as the postgres user).

_nas_pg() {
    local dir=${NAS_MNIST_PG_DIR:-/tmp/nas-mnist-pg} db=nas_mnist_test bin port url as=()

    if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        if [ "$(id -u)" != 0 ]; then
            echo "postgres.sh: PostgreSQL is not installed and installing needs root; skipped"
            return 1
        fi
        if ! { timeout 300 apt-get update -qq \
               && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq \
                  --no-install-recommends postgresql; } >"${TMPDIR:-/tmp}/nas-mnist-pg-apt.log" 2>&1
        then
            echo "postgres.sh: apt-get install postgresql failed (${TMPDIR:-/tmp}/nas-mnist-pg-apt.log)"
            return 1
        fi
    fi
    bin=$(compgen -G "/usr/lib/postgresql/*/bin" | sort -V | tail -n 1)

    # as root, the server must run as an unprivileged user: the package's `postgres`
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        as=(runuser -u postgres --)
    fi

    if [ -f "$dir/url" ] && [ -f "$dir/port" ] \
        && timeout 10 "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$dir/port")" -t 5; then
        url=$(cat "$dir/url")
        export NAS_MNIST_TEST_PG=$url
        echo "postgres.sh: reusing PostgreSQL on 127.0.0.1:$(cat "$dir/port"), NAS_MNIST_TEST_PG=$url"
        return 0
    fi

    # a cluster left by a run whose server is gone (reboot, kill): start over
    if [ -f "$dir/data/postmaster.pid" ]; then
        timeout 30 "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
    fi
    rm -rf "$dir" && mkdir -p "$dir" && chmod 700 "$dir" || {
        echo "postgres.sh: cannot create $dir"; return 1; }
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || {
        echo "postgres.sh: no free port found"; return 1; }

    if ! timeout 120 "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
            --no-sync >"$dir/initdb.log" 2>&1; then
        echo "postgres.sh: initdb failed ($dir/initdb.log)"
        return 1
    fi
    if ! timeout 60 "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start \
            >/dev/null 2>&1; then
        echo "postgres.sh: server did not start ($dir/server.log)"
        return 1
    fi
    if ! PGCONNECT_TIMEOUT=5 timeout 30 "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db" \
            >"$dir/createdb.log" 2>&1; then
        echo "postgres.sh: createdb failed ($dir/createdb.log)"
        return 1
    fi
    url="postgresql://postgres@127.0.0.1:$port/$db"
    echo "$port" >"$dir/port"
    echo "$url" >"$dir/url"
    export NAS_MNIST_TEST_PG=$url
    echo "postgres.sh: started PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on" \
        "127.0.0.1:$port (cluster $dir/data), NAS_MNIST_TEST_PG=$url"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    # executed, not sourced: report on stderr, print the export for eval on stdout
    if _nas_pg >&2; then
        printf "export NAS_MNIST_TEST_PG=%q\n" "$NAS_MNIST_TEST_PG"
    fi
    exit 0
else
    _nas_pg || true
fi
