#include "conv2d_group_merge.h"

#include <cstring>
#include <string>

#include "crunet/core/error.h"

namespace crunet::ops::cpu {

Tensor merge_group_weight(const Tensor& weight, std::int64_t groups, std::int64_t merge) {
  if (weight.dim() != 4 || groups < 1 || merge < 1 || groups % merge != 0 ||
      weight.size(0) % groups != 0) {
    throw ValueError("merge_group_weight: weight " + shape_str(weight.shape()) + ", " +
                     std::to_string(groups) + " groups, merge " + std::to_string(merge));
  }
  const Tensor w = weight.contiguous();
  const std::int64_t c_out = w.size(0), in_per_group = w.size(1);
  const std::int64_t out_per_group = c_out / groups;
  const std::size_t taps = static_cast<std::size_t>(w.size(2) * w.size(3));
  const std::size_t element = dtype_size(w.dtype());
  Tensor merged =
      zeros({c_out, merge * in_per_group, w.size(2), w.size(3)}, TensorOptions(w.dtype()));
  const auto* from = static_cast<const std::uint8_t*>(w.data_ptr());
  auto* to = static_cast<std::uint8_t*>(merged.data_ptr());
  const std::size_t row = static_cast<std::size_t>(in_per_group) * taps * element;
  for (std::int64_t o = 0; o < c_out; ++o) {
    // Output o belongs to original group o / out_per_group, which is block (that % merge) of its
    // merged group: its inputs sit at that block's offset among the merged group's inputs.
    const std::int64_t block = (o / out_per_group) % merge;
    std::memcpy(to + (static_cast<std::size_t>(o * merge + block)) * row,
                from + static_cast<std::size_t>(o) * row, row);
  }
  return merged;
}

}  // namespace crunet::ops::cpu
