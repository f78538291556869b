# Makefile — the two commands (DEVELOPERS.md): `make demo` and `make test` work on a
# fresh Debian 12 machine.  A thin wrapper over CMake: it installs missing Debian
# packages first (apt-get as root; otherwise it prints the exact command and stops).
#
#   make               build build/smelt
#   make demo          compile the shipped digit classifier and classify held-out digits
#   make test          the whole ctest suite (unit, ir, golden, conformance, e2e, fuzz)
#   make test-sanitize the suite with ASan+UBSan on smelt and on the generated code
#   make bench         speed against peers measured in the same run (LLAMA_BENCH=path to
#                      llama.cpp's llama-bench; rows without a peer say so)
#   make conformance-report   rewrite tests/conformance/REPORT.md
#   make update-golden / update-expected   refresh checked-in golden files / the pass list
#   make readme-ops    regenerate README.md's operator table from `smelt ops --markdown`

BUILD     ?= build
BUILD_SAN ?= build-san
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Debian packages: build tools, the libraries smelt links, ONNX's proto and test data,
# clang for the fuzz harnesses, numpy/onnx/sklearn only to regenerate fixtures; the aarch64
# cross compiler and qemu-user for the NEON kernels (unit_simd) and the cross tests (tests/cross).
PACKAGES := build-essential cmake ninja-build pkg-config libprotobuf-c-dev protobuf-c-compiler \
            libxxhash-dev libcjson-dev libonnx-dev libonnx-testdata clang libclang-rt-dev \
            gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
# `make bench` only: numpy and onnx make the bench models, OpenBLAS is the GEMM peer, node
# and npm fetch ONNX Runtime (onnxruntime-node, unpacked outside the checkout).
BENCH_PACKAGES := python3-numpy python3-onnx libopenblas-dev
LLVM_PKG := llvm-dev
# the samples' cross builds: aarch64 Linux (static, run by qemu-user), Cortex-M4 bare metal
# (newlib with semihosting, run by qemu-system-arm's mps2-an386)
PACKAGES += gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm

.PHONY: all deps configure demo test test-sanitize conformance-report update-golden update-expected readme-ops clean

all: $(BUILD)/smelt

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if ! ls /usr/bin/llvm-config* >/dev/null 2>&1; then missing="$$missing $(LLVM_PKG)"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "smelt needs these Debian packages; run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

configure: $(BUILD)/build.ninja

$(BUILD)/smelt: deps configure FORCE
	cmake --build $(BUILD) -j $(JOBS)

FORCE:

demo: all
	@sh samples/digits/demo.sh $(BUILD)

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-sanitize: deps
	cmake -S . -B $(BUILD_SAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSMELT_SANITIZE=ON >/dev/null
	cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ctest --output-on-failure -j $(JOBS)

# One table, every row measured in this run (tools/bench_all.py; README "Benchmarks").
bench: all
	@missing=""; \
	for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages for make bench:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || \
	      echo "make bench: could not install$$missing; the rows that need them say so"; \
	  else echo "make bench: missing$$missing (sudo apt-get install -y$$missing); the rows that need them say so"; fi; \
	fi
	/usr/bin/python3 tools/bench_all.py $(BUILD)

conformance-report: all
	$(BUILD)/tests/conformance --work $(BUILD)/conformance-work --report tests/conformance/REPORT.md

update-expected: all
	$(BUILD)/tests/conformance --work $(BUILD)/conformance-work --report tests/conformance/REPORT.md \
	  --expected tests/conformance/expected_pass.txt --update-expected

update-golden: all
	SMELT_UPDATE_GOLDEN=1 sh -c 'cd $(BUILD) && ctest -L "golden|ir" --output-on-failure'

# Replaces the lines between the smelt-ops:begin and smelt-ops:end markers of README.md.
readme-ops: all
	$(BUILD)/smelt ops --markdown > $(BUILD)/readme-ops.md
	awk -v gen=$(BUILD)/readme-ops.md ' \
	  /<!-- smelt-ops:end/ { skip = 0 } \
	  !skip { print } \
	  /<!-- smelt-ops:begin/ { while ((getline line < gen) > 0) print line; skip = 1 }' README.md > README.md.tmp
	grep -q '<!-- smelt-ops:end' README.md.tmp && mv README.md.tmp README.md || { rm -f README.md.tmp; echo "README.md: smelt-ops markers missing" >&2; exit 1; }

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
