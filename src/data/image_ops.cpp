// The building blocks of the transforms: crop geometry, crop / pad / flip / resize, channel
// conversion and normalisation into a float tensor. Resizing uses OpenCV where the build has it
// (SIMD, all interpolations); the plain loops here cover nearest and bilinear without it.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "crunet/data/transforms.h"
#include "data/reference.h"

#if CRUNET_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace crunet::data {
namespace {

void check_image(const Image& image, const char* what) {
  if ((image.channels != 1 && image.channels != 3) || image.height <= 0 || image.width <= 0 ||
      static_cast<std::int64_t>(image.pixels.size()) != image.numel()) {
    throw ValueError(std::string(what) + ": not a valid image (" + std::to_string(image.height) +
                     "x" + std::to_string(image.width) + "x" + std::to_string(image.channels) +
                     " with " + std::to_string(image.pixels.size()) + " bytes)");
  }
}

void check_box(const Image& image, const CropBox& box, const char* what) {
  if (box.height <= 0 || box.width <= 0 || box.top < 0 || box.left < 0 ||
      box.top + box.height > image.height || box.left + box.width > image.width) {
    throw ValueError(std::string(what) + ": crop box (top " + std::to_string(box.top) + ", left " +
                     std::to_string(box.left) + ", " + std::to_string(box.height) + "x" +
                     std::to_string(box.width) + ") is outside the " +
                     std::to_string(image.height) + "x" + std::to_string(image.width) + " image");
  }
}

#if CRUNET_WITH_OPENCV
int cv_interpolation(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::Nearest:
      return cv::INTER_NEAREST_EXACT;
    case Interpolation::Linear:
      return cv::INTER_LINEAR;
    case Interpolation::Area:
      return cv::INTER_AREA;
    case Interpolation::Cubic:
      return cv::INTER_CUBIC;
  }
  return cv::INTER_LINEAR;
}
#endif

// One output index's pair of source taps along an axis of `extent` pixels scaled by `scale`: the
// first tap, the second (clamped at the border) and the second's weight.
struct LinearTap {
  std::int64_t first, second;
  float weight;
};

LinearTap linear_tap(std::int64_t index, double scale, std::int64_t extent) {
  const double position = (index + 0.5) * scale - 0.5;
  std::int64_t i = static_cast<std::int64_t>(std::floor(position));
  float a = static_cast<float>(position - i);
  if (i < 0) {
    i = 0;
    a = 0;
  }
  if (i >= extent - 1) {
    i = extent - 1;
    a = 0;
  }
  return {i, std::min(i + 1, extent - 1), a};
}

}  // namespace

// Bilinear with pixel centres at +0.5 and edges clamped (OpenCV's INTER_LINEAR geometry, in float
// instead of its 11-bit fixed point: the two agree within one unit).
void resize_linear_reference(const Image& src, const CropBox& box, Image& dst) {
  const std::int64_t c = src.channels;
  const double sy = static_cast<double>(box.height) / dst.height;
  const double sx = static_cast<double>(box.width) / dst.width;
  std::vector<std::int64_t> x0(dst.width), x1(dst.width);
  std::vector<float> ax(dst.width);
  for (std::int64_t x = 0; x < dst.width; ++x) {
    const LinearTap tap = linear_tap(x, sx, box.width);
    x0[x] = (box.left + tap.first) * c;
    x1[x] = (box.left + tap.second) * c;
    ax[x] = tap.weight;
  }
  for (std::int64_t y = 0; y < dst.height; ++y) {
    const LinearTap tap = linear_tap(y, sy, box.height);
    const float b = tap.weight;
    const std::uint8_t* row0 = src.data() + (box.top + tap.first) * src.width * c;
    const std::uint8_t* row1 = src.data() + (box.top + tap.second) * src.width * c;
    std::uint8_t* out = dst.data() + y * dst.width * c;
    for (std::int64_t x = 0; x < dst.width; ++x) {
      for (std::int64_t k = 0; k < c; ++k) {
        const float top = row0[x0[x] + k] + ax[x] * (row0[x1[x] + k] - row0[x0[x] + k]);
        const float bottom = row1[x0[x] + k] + ax[x] * (row1[x1[x] + k] - row1[x0[x] + k]);
        out[x * c + k] = static_cast<std::uint8_t>(std::lround(top + b * (bottom - top)));
      }
    }
  }
}

void resize_nearest_reference(const Image& src, const CropBox& box, Image& dst) {
  const std::int64_t c = src.channels;
  for (std::int64_t y = 0; y < dst.height; ++y) {
    const std::int64_t sy = std::min(box.height - 1, (2 * y + 1) * box.height / (2 * dst.height));
    for (std::int64_t x = 0; x < dst.width; ++x) {
      const std::int64_t sx = std::min(box.width - 1, (2 * x + 1) * box.width / (2 * dst.width));
      std::memcpy(dst.at(y, x), src.at(box.top + sy, box.left + sx), static_cast<std::size_t>(c));
    }
  }
}

Image resized_crop_reference(const Image& image, const CropBox& box, std::int64_t height,
                             std::int64_t width, Interpolation interpolation) {
  check_image(image, "resize");
  check_box(image, box, "resize");
  Image out = make_image(height, width, image.channels);
  switch (interpolation) {
    case Interpolation::Linear:
      resize_linear_reference(image, box, out);
      break;
    case Interpolation::Nearest:
      resize_nearest_reference(image, box, out);
      break;
    default:
      throw NotImplementedError(
          "resize: area and cubic interpolation need OpenCV (this crunet was built without it); "
          "use linear or nearest");
  }
  return out;
}

CropBox sample_area_crop(std::int64_t height, std::int64_t width, const AreaCropParams& params,
                         Generator& rng) {
  if (height <= 0 || width <= 0) throw ValueError("sample_area_crop: empty image");
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_min = std::log(params.min_aspect), log_max = std::log(params.max_aspect);
  for (int attempt = 0; attempt < params.attempts; ++attempt) {
    const double target =
        area * (params.min_area + rng.uniform() * (params.max_area - params.min_area));
    const double aspect = std::exp(log_min + rng.uniform() * (log_max - log_min));
    const std::int64_t w = std::llround(std::sqrt(target * aspect));
    const std::int64_t h = std::llround(std::sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      CropBox box;
      box.height = h;
      box.width = w;
      box.top = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(height - h + 1)));
      box.left = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(width - w + 1)));
      return box;
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centred.
  CropBox box{0, 0, height, width};
  const double ratio = static_cast<double>(width) / static_cast<double>(height);
  if (ratio < params.min_aspect) {
    box.height = std::clamp<std::int64_t>(std::llround(width / params.min_aspect), 1, height);
  } else if (ratio > params.max_aspect) {
    box.width = std::clamp<std::int64_t>(std::llround(height * params.max_aspect), 1, width);
  }
  box.top = (height - box.height) / 2;
  box.left = (width - box.width) / 2;
  return box;
}

std::array<CropBox, 5> five_crop_boxes(std::int64_t height, std::int64_t width,
                                       std::int64_t crop_height, std::int64_t crop_width) {
  if (crop_height <= 0 || crop_width <= 0 || crop_height > height || crop_width > width) {
    throw ValueError("five_crop_boxes: a " + std::to_string(crop_height) + "x" +
                     std::to_string(crop_width) + " crop does not fit a " + std::to_string(height) +
                     "x" + std::to_string(width) + " image");
  }
  const std::int64_t bottom = height - crop_height, right = width - crop_width;
  return {CropBox{0, 0, crop_height, crop_width}, CropBox{0, right, crop_height, crop_width},
          CropBox{bottom, 0, crop_height, crop_width},
          CropBox{bottom, right, crop_height, crop_width},
          CropBox{bottom / 2, right / 2, crop_height, crop_width}};
}

Image crop(const Image& image, const CropBox& box) {
  check_image(image, "crop");
  check_box(image, box, "crop");
  Image out = make_image(box.height, box.width, image.channels);
  const std::size_t row = static_cast<std::size_t>(box.width * image.channels);
  for (std::int64_t y = 0; y < box.height; ++y) {
    std::memcpy(out.at(y, 0), image.at(box.top + y, box.left), row);
  }
  return out;
}

Image resized_crop(const Image& image, const CropBox& box, std::int64_t height, std::int64_t width,
                   Interpolation interpolation) {
  check_image(image, "resize");
  check_box(image, box, "resize");
  if (height <= 0 || width <= 0) {
    throw ValueError("resize: target size " + std::to_string(height) + "x" + std::to_string(width) +
                     " must be positive");
  }
  if (box.height == height && box.width == width) return crop(image, box);
#if CRUNET_WITH_OPENCV
  Image out = make_image(height, width, image.channels);
  const int type = image.channels == 3 ? CV_8UC3 : CV_8UC1;
  const cv::Mat whole(static_cast<int>(image.height), static_cast<int>(image.width), type,
                      const_cast<std::uint8_t*>(image.data()));
  const cv::Mat window = whole(cv::Rect(static_cast<int>(box.left), static_cast<int>(box.top),
                                        static_cast<int>(box.width), static_cast<int>(box.height)));
  cv::Mat target(static_cast<int>(height), static_cast<int>(width), type, out.data());
  cv::resize(window, target, target.size(), 0, 0, cv_interpolation(interpolation));
  return out;
#else
  return resized_crop_reference(image, box, height, width, interpolation);
#endif
}

Image resize(const Image& image, std::int64_t height, std::int64_t width,
             Interpolation interpolation) {
  return resized_crop(image, CropBox{0, 0, image.height, image.width}, height, width,
                      interpolation);
}

Image resize_short_side(const Image& image, std::int64_t short_side, Interpolation interpolation) {
  if (short_side <= 0) throw ValueError("resize_short_side: the size must be positive");
  check_image(image, "resize_short_side");
  std::int64_t height = short_side, width = short_side;
  if (image.height < image.width) {
    width = image.width * short_side / image.height;
  } else {
    height = image.height * short_side / image.width;
  }
  if (height == image.height && width == image.width) return image;
  return resize(image, height, width, interpolation);
}

Image pad(const Image& image, std::int64_t amount, std::uint8_t fill) {
  check_image(image, "pad");
  if (amount < 0) throw ValueError("pad: the amount must not be negative");
  Image out = make_image(image.height + 2 * amount, image.width + 2 * amount, image.channels, fill);
  const std::size_t row = static_cast<std::size_t>(image.width * image.channels);
  for (std::int64_t y = 0; y < image.height; ++y) {
    std::memcpy(out.at(y + amount, amount), image.at(y, 0), row);
  }
  return out;
}

void flip_horizontal(Image& image) {
  check_image(image, "flip_horizontal");
  const std::int64_t c = image.channels;
  for (std::int64_t y = 0; y < image.height; ++y) {
    std::uint8_t* left = image.at(y, 0);
    std::uint8_t* right = image.at(y, image.width - 1);
    while (left < right) {
      for (std::int64_t k = 0; k < c; ++k) std::swap(left[k], right[k]);
      left += c;
      right -= c;
    }
  }
}

Image convert_channels(const Image& image, std::int64_t channels) {
  check_image(image, "convert_channels");
  if (channels != 1 && channels != 3) {
    throw ValueError("convert_channels: channels must be 1 or 3, not " + std::to_string(channels));
  }
  if (image.channels == channels) return image;
  Image out = make_image(image.height, image.width, channels);
  const std::int64_t pixels = image.height * image.width;
  const std::uint8_t* in = image.data();
  std::uint8_t* o = out.data();
  if (channels == 3) {
    for (std::int64_t i = 0; i < pixels; ++i) o[3 * i] = o[3 * i + 1] = o[3 * i + 2] = in[i];
  } else {
    // OpenCV's RGB2GRAY fixed point: 0.299 R + 0.587 G + 0.114 B with 14 fraction bits.
    for (std::int64_t i = 0; i < pixels; ++i) {
      o[i] = static_cast<std::uint8_t>(
          (in[3 * i] * 4899 + in[3 * i + 1] * 9617 + in[3 * i + 2] * 1868 + 8192) >> 14);
    }
  }
  return out;
}

Tensor to_tensor(const Image& image, const Normalization& normalization) {
  check_image(image, "to_tensor");
  Tensor out = empty({image.channels, image.height, image.width});
  write_tensor(image, normalization, out.data<float>());
  return out;
}

void write_tensor(const Image& image, const Normalization& normalization, float* o) {
  check_image(image, "to_tensor");
  const std::int64_t c = image.channels;
  auto per_channel = [&](const std::vector<float>& values, const char* what) {
    if (values.size() == 1) return std::vector<float>(static_cast<std::size_t>(c), values[0]);
    if (static_cast<std::int64_t>(values.size()) != c) {
      throw ValueError(std::string("to_tensor: normalisation ") + what + " has " +
                       std::to_string(values.size()) + " values for a " + std::to_string(c) +
                       "-channel image (give 1 or " + std::to_string(c) + ")");
    }
    return values;
  };
  const std::vector<float> mean = per_channel(normalization.mean, "mean");
  const std::vector<float> scale = per_channel(normalization.scale, "scale");
  const std::int64_t plane = image.height * image.width;
  const std::uint8_t* in = image.data();
  for (std::int64_t k = 0; k < c; ++k) {
    float table[256];
    for (int v = 0; v < 256; ++v) table[v] = (static_cast<float>(v) - mean[k]) * scale[k];
    float* plane_out = o + k * plane;
    for (std::int64_t i = 0; i < plane; ++i) plane_out[i] = table[in[i * c + k]];
  }
}

}  // namespace crunet::data
