# Entry points. `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(PATH)

.PHONY: setup setup-system setup-system-if-root build demo test test-node test-bun e2e e2e-local e2e-netns bench clean

setup:
	@scripts/setup.sh

setup-system:
	@scripts/setup.sh --system

build: setup
	pnpm build

# The local mesh demo. CHECK=1 runs the tour once and exits non-zero if a step fails.
# RUNTIME=bun runs every component on Bun (from TypeScript source) instead of Node (built dist/).
demo: build
	node e2e/dist/demo.js $(if $(CHECK),--check,) $(if $(RUNTIME),--runtime $(RUNTIME),)

# The full test job, as CI runs it: build, typecheck, lint, unit tests on Node, then on Bun,
# then the end-to-end scenarios on the local (loopback) driver, then that tier and the demo's
# tour again with every component on Bun, then the netns driver (real network namespaces and
# interception; as root it first installs iptables, iproute2 and the CNI plugins when missing;
# without root it prints why it is skipped), then the proxyless SDK packed into tarballs and
# imported from a plain npm project outside the workspace, on Node and Bun.
test: setup-system-if-root build
	pnpm typecheck
	pnpm lint
	pnpm test
	pnpm test:bun
	pnpm e2e:local
	pnpm e2e:local:bun
	pnpm demo:check:bun
	pnpm e2e:netns
	pnpm --filter @weft/proxyless-sdk run test:pack

setup-system-if-root:
	@if [ "$$(id -u)" = 0 ]; then scripts/setup.sh --system; fi

e2e-local: build
	pnpm e2e:local

e2e:
	@echo "make e2e: the kind driver is not built yet." >&2
	@exit 1

# Real interception on network namespaces (root): nodes and pods as netns, Debian's CNI plugins
# with weft-cni chained after them, iptables REDIRECT, the same scenarios as the local driver.
e2e-netns: setup-system build
	pnpm e2e:netns

# Benchmarks print tables (they assert nothing). ambient and waypoint install Debian's haproxy,
# nginx and wrk when missing (root) and use loopback only.
bench: build
	pnpm bench:ca
	pnpm bench:xds
	pnpm bench:ambient
	pnpm bench:waypoint
	pnpm bench:sidecar
	pnpm bench:netns
	pnpm bench:proxyless
	pnpm bench:restart

clean:
	rm -rf node_modules packages/*/node_modules packages/*/dist packages/*/src/gen apps/*/node_modules apps/*/dist .turbo
