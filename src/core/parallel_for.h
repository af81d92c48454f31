#pragma once
// The one way the CPU backend splits an elementwise loop over threads: [0, count) cut into one
// contiguous range per OpenMP thread, or run whole on the calling thread when it is too small to
// pay for waking the team. The body loops over its range with `#pragma omp simd`.
//
// Why not `#pragma omp parallel for simd if (count > N)`: since OpenMP 5.0 that if clause also
// governs the simd part, and GCC 12 then compiles the loop scalar, branch per element included;
// relu's backward spent 17% of a crunet56 training step that way.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace crunet {

// Elements below which one thread does the whole loop (a few microseconds of memory traffic).
constexpr std::int64_t kParallelGrain = 32768;

// Calls body(begin, end) on disjoint ranges covering [0, count); range boundaries are multiples of
// 16 elements so that two threads never write the same cache line.
template <typename Body>
void parallel_for(std::int64_t count, const Body& body, std::int64_t grain = kParallelGrain) {
  const std::int64_t teams = std::min<std::int64_t>(omp_get_max_threads(), count / grain);
  if (teams <= 1) {
    body(std::int64_t{0}, count);
    return;
  }
#pragma omp parallel num_threads(static_cast <int>(teams))
  {
    const std::int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const auto boundary = [&](std::int64_t t) {
      return t == threads ? count : count * t / threads / 16 * 16;
    };
    body(boundary(thread), boundary(thread + 1));
  }
}

}  // namespace crunet
