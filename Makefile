SWIFT ?= swift

.DEFAULT_GOAL := build
.PHONY: deps build test demo bench differential clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product tripline

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

demo: deps build
	@if [ ! -f Examples/demo.sh ]; then echo "demo: Examples/demo.sh not found"; exit 1; fi
	bash Examples/demo.sh

bench: deps build
	@if [ ! -f Benchmarks/run.sh ]; then echo "bench: Benchmarks/run.sh not found"; exit 1; fi
	bash Benchmarks/run.sh

# ORACLE="command" compares the matcher with a reference on random pairs (scripts/differential).
differential: deps build
	bash scripts/differential/run.sh $(SEED) $(COUNT)

clean:
	rm -rf .build
