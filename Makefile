# The entry points: `make demo`, `make test`, `make bench`. Everything builds in build/ (Release).
# Checked builds beside it: build-fuzz/ (clang, libFuzzer, ASan+UBSan) and build-sanitize/ (the
# tests under ASan+UBSan, `make check-sanitize`).
BUILD  ?= build
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_BUILD ?= build-fuzz
SANITIZE_BUILD ?= build-sanitize
# Seconds each fuzz target runs: 10 in `make test` (which must stay within 15 minutes on two
# cores); `make fuzz FUZZ_SECONDS=600` for a long run.
FUZZ_SECONDS ?= 10

.PHONY: all deps corpora configure build test demo bench zoo clean fuzz-build fuzz check-sanitize

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
	@if command -v clang++ >/dev/null; then $(MAKE) --no-print-directory fuzz; \
	 else echo "make test: clang++ not found, the fuzz targets were skipped"; fi

# The fuzz targets (fuzz/), each run for FUZZ_SECONDS after replaying its past crashes.
fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
	  -DNABLA_FUZZ=ON -DNABLA_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS)

# The unit and end-to-end tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
check-sanitize: deps corpora
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNABLA_SANITIZE=ON \
	  -DNABLA_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	@cd $(SANITIZE_BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@$(BUILD)/nabla train

bench: configure
	@NABLA_WITH_BENCH=1 scripts/install-deps.sh
	@cmake --build $(BUILD) -j $(JOBS) --target nabla_bench nabla_compare nabla_predict_compare nabla_cli nabla_pipeline_bench \
	  $$(grep -q '^NABLA_WITH_MPI:BOOL=ON' $(BUILD)/CMakeCache.txt && echo nabla_dist_scaling)
	@bench/run.sh $(BUILD)

# The model zoo page (docs/model-zoo.md): every preset trained at its defaults, hours on two
# cores; `scripts/zoo.py --only mlp,cnn` reruns some.
zoo: build
	@/usr/bin/python3 scripts/zoo.py --nabla $(BUILD)/nabla

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)
