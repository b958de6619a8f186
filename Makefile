# hedui — household economic-status cross-check.
# `make demo` generates a county and reviews it; `make test` runs every test.

GO      ?= go
# Packages that run work concurrently are tested under the race detector.
RACE_PKGS := ./sources/... ./matcher/... ./review/... ./rules/... ./serve/... ./whatif/...
SCALE   ?= city

.PHONY: build demo test bench bench-micro lint clean dist-test dist-build dist-run

build:
	$(GO) build -o bin/hedui ./cmd/hedui

demo: build
	./bin/hedui demo --dir demo

test:
	$(GO) vet ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -E '/(sources|matcher|review|rules|serve|whatif)(/|$$)')
	$(MAKE) dist-test

# `make bench SCALE=county|city|province|N PAIRS=5 [SEED=1] [JOB=product|same] [CPUPROFILE=file]`:
# the micro-benchmarks, then the end-to-end harness (bench/harness): hedui's
# full-base review against the same job in DuckDB SQL (bench/duckdb, a module
# of its own: cgo and DuckDB stay out of hedui's go.mod), on data generated
# once under bench/data/<scale>-seed<seed>/. -mod=mod lets that module's
# go.sum follow hedui's own dependencies. The harness's last line is
# `wall ratio hedui/duckdb: R (pairs N, scale S)`.
PAIRS   ?= 5
SEED    ?= 1
bench: build bench-micro
	$(GO) build -o bin/keyscan ./bench/keyscan
	$(GO) build -o bin/bench-harness ./bench/harness
	cd bench/duckdb && $(GO) build -mod=mod -o ../../bin/hedui-duckdb .
	./bin/bench-harness --scale $(SCALE) --seed $(SEED) --pairs $(PAIRS) --data bench/data --bin bin $(if $(JOB),--job $(JOB)) $(if $(CPUPROFILE),--cpuprofile $(CPUPROFILE))

# Micro-benchmarks of the hot paths.
bench-micro:
	$(GO) test -run XXX -bench . -benchmem ./sources/... ./matcher/... ./rules/...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin demo

# Scale-out: the review as an Apache Beam pipeline (dist/beam, a module of its
# own, so Beam never enters hedui's go.mod; -mod=mod lets its go.sum follow
# hedui's own dependencies). dist-test runs the parity test on prism
# (in-process; the first build downloads ≈90 modules, see docs/scale-out.md).
# `make dist-run RUNNER=prism|flink|spark|dataflow MANIFEST=… OUT=… [BEAM_FLAGS="…"]`
# builds bin/hedui-beam and submits the job; README "Scale-out" lists the
# runner flags. RUNNER=dataflow builds with -tags dataflow (Google Cloud libraries).
RUNNER     ?= prism
MANIFEST   ?= demo/sources.yaml
OUT        ?= demo/run-beam
BEAM_FLAGS ?=
dist-test:
	cd dist/beam && $(GO) test -mod=mod -count=1 ./...

dist-build:
	cd dist/beam && $(GO) build -mod=mod $(if $(filter dataflow,$(RUNNER)),-tags dataflow) -o ../../bin/hedui-beam ./cmd/hedui-beam

dist-run: dist-build
	./bin/hedui-beam --runner $(RUNNER) --manifest $(MANIFEST) --out $(OUT) $(BEAM_FLAGS)
