#!/usr/bin/env bash
# test.sh — the whole test suite (what `make test` and CI run).
#
# Checks that generated code is up to date, formatting, go vet and
# staticcheck; starts a throw-away PostgreSQL (scripts/pg.sh) so the store
# conformance suite runs against both stores; runs every test, including
# the seed corpora of the fuzz targets; stops PostgreSQL again.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--buildvcs=false}

step() { printf '\n== %s\n' "$*"; }

step "generated code is up to date"
go generate ./...
if ! git diff --quiet --exit-code -- internal/api/gen || [ -n "$(git status --porcelain --untracked-files=all -- internal/api/gen)" ]; then
	git status --short -- internal/api/gen
	echo "generated code is stale: run 'go generate ./...' and commit the result" >&2
	exit 1
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:" >&2
	echo "$unformatted" >&2
	exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION:-v0.7.0} ./...

step "PostgreSQL for the store tests"
GOLDSMITH_TEST_POSTGRES_URL=$(scripts/pg.sh start)
export GOLDSMITH_TEST_POSTGRES_URL
trap 'scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT

step "host packages (runc, qemu, mmdebstrap, awscli, ...)"
if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
	scripts/host-packages.sh
else
	echo "not root: tests needing missing host packages will skip" >&2
fi

step "go test"
go test -count=1 -timeout 20m ./...
