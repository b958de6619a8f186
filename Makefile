# hedui — household economic-status cross-check.
# `make demo` generates a county and reviews it; `make test` runs every test.

GO      ?= go
# Packages that run work concurrently are tested under the race detector.
RACE_PKGS := ./sources/... ./matcher/... ./review/... ./rules/...
SCALE   ?= city

.PHONY: build demo test bench lint clean

build:
	$(GO) build -o bin/hedui ./cmd/hedui

demo: build
	./bin/hedui demo --dir demo

test:
	$(GO) vet ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -E '/(sources|matcher|review|rules)(/|$$)')

# Micro-benchmarks of the hot paths; the end-to-end harness is under bench/.
bench:
	$(GO) test -run XXX -bench . -benchmem ./sources/... ./matcher/... ./rules/...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin demo
