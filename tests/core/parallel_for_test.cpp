// parallel_for: every index of [0, count) visited exactly once, in ranges that start on 16-element
// boundaries, for counts below, at and far above the grain, whatever the number of threads.
#include "core/parallel_for.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <vector>

namespace crunet {
namespace {

TEST(ParallelFor, VisitsEveryIndexOnceInAlignedRanges) {
  const std::int64_t grain = 64;
  for (const std::int64_t count : {0L, 1L, 63L, 64L, 129L, 1000L, 4099L, 100000L}) {
    std::vector<int> visits(static_cast<std::size_t>(count), 0);
    std::vector<std::int64_t> starts;
    parallel_for(
        count,
        [&](std::int64_t begin, std::int64_t end) {
#pragma omp critical
          starts.push_back(begin);
          for (std::int64_t i = begin; i < end; ++i) ++visits[static_cast<std::size_t>(i)];
        },
        grain);
    for (std::int64_t i = 0; i < count; ++i) {
      ASSERT_EQ(visits[static_cast<std::size_t>(i)], 1) << "index " << i << " of " << count;
    }
    for (const std::int64_t start : starts) EXPECT_EQ(start % 16, 0) << "count " << count;
    if (count / grain >= 2 && omp_get_max_threads() >= 2) {
      EXPECT_GE(starts.size(), 2u) << "count " << count << " should be split";
    }
    if (count < 2 * grain) EXPECT_EQ(starts.size(), 1u) << "count " << count;
  }
}

}  // namespace
}  // namespace crunet
