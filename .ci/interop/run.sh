#!/usr/bin/env bash
# Atea's interoperability suite (issue 8): installs the SP software that is missing — Debian's
# Apache 2.4 + Shibboleth SP 3, pysaml2 + xmlsec1, chromium, Node's npm packages from the
# committed lockfile — then runs cmd/atea-interop, which prints one PASS/FAIL line per check
# and "N passed, N failed", and exits non-zero when anything failed.
#
#   bash .ci/interop/run.sh [atea-interop flags, e.g. --only shibboleth,pysaml2 --atea-binary PATH]
#
# Everything it starts listens on 127.0.0.1 and is stopped when it ends. Run as root (CI) or
# with the Debian packages already installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -e /usr/lib/apache2/modules/mod_shib.so ] || need+=(libapache2-mod-shib)
[ -d /usr/lib/python3/dist-packages/saml2 ] || need+=(python3-pysaml2)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# Debian's npm only when there is none: nodesource's nodejs brings its own and conflicts with it.
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== interop: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d keeps Debian from starting the system apache2/shibd on install, so that
  # nothing but the suite's own processes listens (on 127.0.0.1 only).
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
export PATH="$PATH:/usr/sbin"

if [ ! -d .ci/interop/node/node_modules/@node-saml/node-saml ]; then
  echo "== interop: npm ci (.ci/interop/node)"
  (cd .ci/interop/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# --install-only: stop here (.ci/run installs first, then the suite runs inside `go test ./...`
# as cmd/atea-interop's TestInteropSuite).
if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi

echo "== interop suite"
exec go run ./cmd/atea-interop "$@"
