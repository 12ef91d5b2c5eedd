#!/bin/bash
# Installs the Debian packages the benchmark needs on top of scripts/deps.sh's
# (which `make bench` runs first), when any is missing. Quiet and quick when
# everything is there.
#
# The benchmark starts its own Redis and PgBouncer in throwaway folders, so
# the packages' own services must not start at install time: when the
# machine has no policy-rc.d, one that refuses every start is put in place
# for the duration of the install.
set -euo pipefail

packages=(
    redis-server gunicorn apache2-utils pgbouncer postgresql-contrib curl
    python3-flask python3-redis python3-xgboost python3-ujson python3-msgpack
    python3-pandas python3-matplotlib python3-numpy
    python3-sklearn   # xgboost.XGBRegressor needs it
)

# dpkg-query fails on a package it has never seen: that one is missing too.
installed=$({ dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>/dev/null || true; } |
            awk '$1 == "installed" { print $2 }' | sort)
missing=($(comm -23 <(printf '%s\n' "${packages[@]}" | sort) <(echo "$installed")))
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "bench/deps: missing ${missing[*]}; as root: apt-get install ${missing[*]}" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap 'rm -f "$policy"' EXIT INT TERM
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
fi

echo "bench/deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
