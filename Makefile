# The entry points: `make demo`, `make test`, `make bench`. Everything builds in build/ (Release).
BUILD  ?= build
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps corpora configure build test demo bench clean

all: build

deps:
	@scripts/install-deps.sh

# The KJV text for the charlm preset (fortunes are read where Debian installs them).
corpora: deps
	@scripts/prepare-corpora.sh

configure: deps corpora
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@$(BUILD)/nabla train

bench: configure
	@NABLA_WITH_BENCH=1 scripts/install-deps.sh
	@cmake --build $(BUILD) -j $(JOBS) --target nabla_bench nabla_compare
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
