#!/usr/bin/env bash
# The GPU check of the CUDA sampler, as one short script for a machine with a GPU (issue 9):
# builds only the CUDA targets (the GPU test and the benchmark) with nvcc, runs the test, then
# the benchmark. Needs nvcc and the CUDA runtime only (no CMake configure, no Eigen, Boost or
# Google Benchmark), so it runs on a bare GPU machine; about a minute of building and under
# a minute of running on an H200.
#
#   bash bench/cuda/run.sh            # from the project root; results under $OUT or build/cuda-check
#
# Writes gpu_test.txt, cuda_bench.txt and cuda_bench.json (Google Benchmark's JSON shape).
# Exit status: 0 when the test passed (the benchmark's figures are for bench/RESULTS.md), 77
# when there is no CUDA device, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-build/cuda-check}
bin=build/cuda-check
mkdir -p "$out" "$bin"
nvcc=${NVCC:-nvcc}
command -v "$nvcc" >/dev/null || nvcc=/usr/local/cuda/bin/nvcc
arch=${LLMSCALE_CUDA_ARCH:-90}
flags=(-std=c++17 -O2 -Iinclude "-gencode=arch=compute_${arch},code=[sm_${arch},compute_${arch}]"
       -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror)

start=$(date +%s)
"$nvcc" --version | tail -n 1 | tee "$out/nvcc.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv 2>/dev/null | tee -a "$out/nvcc.txt"
"$nvcc" "${flags[@]}" tests/cuda/gpu_test.cu tests/cuda/second_tu.cu -o "$bin/gpu_test" || { echo "cuda-check: gpu_test did not build"; exit 1; }
"$nvcc" "${flags[@]}" bench/cuda/sampler_bench.cu -o "$bin/sampler_bench" || { echo "cuda-check: sampler_bench did not build"; exit 1; }
echo "cuda-check: built in $(( $(date +%s) - start )) s"

timeout 180 "$bin/gpu_test" 2>&1 | tee "$out/gpu_test.txt"
test_rc=${PIPESTATUS[0]}
if [ "$test_rc" -eq 77 ]; then echo "cuda-check: no CUDA device"; exit 77; fi
timeout 180 "$bin/sampler_bench" --json "$out/cuda_bench.json" 2>&1 | tee "$out/cuda_bench.txt"
bench_rc=${PIPESTATUS[0]}
echo "cuda-check: test exit $test_rc, benchmark exit $bench_rc, $(( $(date +%s) - start )) s in all"
[ "$test_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
