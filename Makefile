# goldsmith — two commands: `make demo` and `make test`.
SHELL := /bin/bash
export GOFLAGS ?= -buildvcs=false
export PATH := $(PATH):/usr/local/go/bin

.PHONY: demo test bench build generate

## demo: install what the host needs, build, start goldsmith on its defaults and run the main job end to end
demo:
	scripts/demo.sh

## test: the whole test suite (generated code, gofmt, vet, staticcheck, SQLite + PostgreSQL, fuzz seeds)
test:
	scripts/test.sh

## bench: benchmarks, reported as ratios against baselines measured in the same run
bench:
	scripts/bench.sh

build:
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/goldsmith ./cmd/goldsmith
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/goldsmith-agent ./cmd/goldsmith-agent
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/goldsmith-runner ./cmd/goldsmith-runner

generate:
	go generate ./...
