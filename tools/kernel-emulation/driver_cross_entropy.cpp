// kernels/cross_entropy.cu's kernels on the CPU, launched in the order and configuration of
// cross_entropy_forward / _backward: the per-row softmax and loss (block reductions by warp
// shuffles), the single-block mean in double, the bad-target record (atomicMin), and the backward,
// with and without label smoothing, against double loops.
#include "harness.h"
#include "cross_entropy.cpp"  // transformed, kernels only
#include "check.h"
#include <algorithm>
#include <cstring>
using namespace crunet;
using namespace crunet::ops::cuda;
using I64 = std::int64_t;

void run(I64 rows, I64 classes, float smoothing, float spread, std::vector<I64> bad = {}, unsigned grid = 0) {
  auto z = rnd(rows * classes, 51, 0, spread);
  std::vector<I64> t(rows);
  std::mt19937 gen(52);
  for (auto& e : t) e = I64(gen() % classes);
  for (I64 r : bad) t[r] = (r % 2) ? classes : -1;
  std::vector<double> p(rows * classes), loss_row(rows), grad(rows * classes);
  double loss = 0;
  const float grad_loss = 0.75f;
  for (I64 r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (I64 c = 0; c < classes; ++c) m = std::max(m, double(z[r * classes + c]));
    for (I64 c = 0; c < classes; ++c) s += std::exp(z[r * classes + c] - m);
    const bool ok = t[r] >= 0 && t[r] < classes;
    double l = 0;
    for (I64 c = 0; c < classes; ++c) {
      const double logp = z[r * classes + c] - m - std::log(s);
      p[r * classes + c] = std::exp(logp);
      const double q = smoothing / classes + (c == t[r] ? 1.0 - smoothing : 0.0);
      l -= q * logp;
      grad[r * classes + c] = (p[r * classes + c] - q) * grad_loss / rows;
    }
    loss_row[r] = ok ? l : 0;
    loss += loss_row[r] / rows;
  }
  // As cross_entropy_forward: the bad-row word set to all ones, the rows kernel, the mean kernel.
  std::vector<float> kp(rows * classes + 1, -5.0f), krow(rows + 1, -5.0f), kloss(2, -5.0f), kgrad(rows * classes + 1, -5.0f);
  unsigned long long bad_row;
  std::memset(&bad_row, 0xff, sizeof bad_row);
  const unsigned row_blocks = grid ? grid : static_cast<unsigned>(rows < 65536 ? rows : 65536);
  emulate_launch(dim3(row_blocks), dim3(kernels::kThreads), [&] {
    softmax_loss_rows_kernel(z.data(), t.data(), kp.data(), krow.data(), &bad_row, rows, classes, smoothing); });
  emulate_launch(dim3(1), dim3(kernels::kThreads), [&] { mean_kernel(krow.data(), kloss.data(), rows); });
  emulate_launch(dim3(kernels::blocks_for(rows * classes)), dim3(kernels::kThreads), [&] {
    cross_entropy_backward_kernel(&grad_loss, kp.data(), t.data(), kgrad.data(), rows, classes, smoothing); });
  char what[128];
  auto name = [&](const char* s) { std::snprintf(what, sizeof what, "rows %ld classes %ld s %g spread %g grid %u: %s", rows, classes, smoothing, spread, row_blocks, s); return what; };
  compare(name("probabilities"), std::vector<float>(kp.begin(), kp.end() - 1), p, 1e-5, 1e-7);
  compare(name("row losses"), std::vector<float>(krow.begin(), krow.end() - 1), loss_row, 1e-5, 1e-5);
  compare(name("loss"), std::vector<float>(kloss.begin(), kloss.begin() + 1), std::vector<double>{loss}, 1e-5, 1e-6);
  compare(name("backward"), std::vector<float>(kgrad.begin(), kgrad.end() - 1), grad, 1e-5, 1e-8);
  ++checks;
  const unsigned long long want_bad = bad.empty() ? ~0ull : *std::min_element(bad.begin(), bad.end());
  if (bad_row != want_bad) { ++failures; std::printf("  FAIL %s bad row %llu want %llu\n", name(""), bad_row, want_bad); }
  ++checks;
  if (kp.back() != -5.0f || krow.back() != -5.0f || kloss[1] != -5.0f || kgrad.back() != -5.0f) { ++failures; std::printf("  FAIL %s wrote past the end\n", name("")); }
}

int main() {
  run(1, 1, 0.0f, 1);
  run(3, 10, 0.0f, 1);
  run(3, 10, 0.1f, 1);
  run(5, 1000, 0.1f, 3);    // a row longer than the block
  run(4, 257, 0.0f, 1);
  run(300, 7, 0.2f, 2);     // more rows than the mean kernel's block
  run(2, 33, 0.0f, 40);     // large logits: the max shift matters
  run(70, 5, 0.1f, 1, {9, 3, 50});
  run(70, 5, 0.1f, 1, {9, 3, 50}, 3);  // a grid shorter than the rows (as above 65536 rows)
  run(40, 300, 0.0f, 1, {}, 2);  // targets outside [0, C): the first bad row is recorded
  std::printf("cross_entropy: %s (%d of %d checks failed, %lld blocks emulated)\n", failures ? "FAILED" : "pass", failures, checks, emulated_blocks);
  return failures != 0;
}
