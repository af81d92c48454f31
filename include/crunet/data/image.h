#pragma once
// 8-bit images as the data pipeline sees them, and reading / writing them as files.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crunet/core/error.h"

namespace crunet::data {

// An 8-bit image, HWC (row-major, channels interleaved), RGB or gray (channels 1 or 3).
struct Image {
  std::int64_t height = 0, width = 0, channels = 0;
  std::vector<std::uint8_t> pixels;

  std::int64_t numel() const { return height * width * channels; }
  bool empty() const { return pixels.empty(); }
  std::uint8_t* data() { return pixels.data(); }
  const std::uint8_t* data() const { return pixels.data(); }
  // The first channel of pixel (y, x).
  std::uint8_t* at(std::int64_t y, std::int64_t x) {
    return pixels.data() + (y * width + x) * channels;
  }
  const std::uint8_t* at(std::int64_t y, std::int64_t x) const {
    return pixels.data() + (y * width + x) * channels;
  }
};

// A height x width x channels image filled with `value`.
Image make_image(std::int64_t height, std::int64_t width, std::int64_t channels,
                 std::uint8_t value = 0);

struct Example {
  Image image;
  std::int64_t label = 0;
};

// A sample that cannot be read (missing, truncated or not an image). The loader skips it with a
// warning and substitutes another sample; anything else that goes wrong stops the loader.
class BadSample : public RuntimeError {
 public:
  BadSample(std::string path, const std::string& reason)
      : RuntimeError(path + ": " + reason), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Whether this build reads and writes image files (it does when built with OpenCV).
bool image_files_supported();

// Decodes a JPEG / PNG / BMP / ... held in memory into RGB (channels 3) or gray (channels 1).
// `name` is used in messages. Throws BadSample when the bytes are not a readable image
// (a JPEG without its end-of-image marker counts as truncated), NotImplementedError in a build
// without OpenCV.
Image decode_image(const std::vector<std::uint8_t>& bytes, std::int64_t channels,
                   const std::string& name);
// Reads and decodes a file; a missing or unreadable file is a BadSample.
Image read_image(const std::string& path, std::int64_t channels);
// Writes an image; the format follows the extension (.png, .jpg/.jpeg, .bmp, ...).
// `jpeg_quality` is 1-100. Throws RuntimeError when the file cannot be written.
void write_image(const std::string& path, const Image& image, int jpeg_quality = 95);

}  // namespace crunet::data
