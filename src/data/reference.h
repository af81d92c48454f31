#pragma once
// The plain scalar versions of the image operations that use OpenCV when the build has it. They
// are what a build without OpenCV runs, and what the tests compare OpenCV's results with.
#include <cstdint>

#include "crunet/data/transforms.h"

namespace crunet::data {

// Linear: OpenCV's INTER_LINEAR geometry (pixel centres at +0.5, edges clamped) in float, within
// one unit of OpenCV's fixed point. Nearest: the source pixel whose centre is closest
// (INTER_NEAREST_EXACT). Area and cubic throw NotImplementedError.
void resize_linear_reference(const Image& src, const CropBox& box, Image& dst);
void resize_nearest_reference(const Image& src, const CropBox& box, Image& dst);
Image resized_crop_reference(const Image& image, const CropBox& box, std::int64_t height,
                             std::int64_t width, Interpolation interpolation);

// shift_hsl, one pixel at a time with OpenCV's float formulas for its 8-bit RGB <-> HLS
// conversions; within one unit of OpenCV's vectorised code.
void shift_hsl_reference(Image& image, int hue, int saturation, int lightness);

}  // namespace crunet::data
