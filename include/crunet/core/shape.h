#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crunet {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
// "[8, 64, 56, 56]", for error messages.
std::string shape_str(const Shape& shape);
// Row-major (NCHW-contiguous) strides of a shape, in elements.
Shape contiguous_strides(const Shape& shape);

}  // namespace crunet
