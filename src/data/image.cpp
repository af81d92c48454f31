// Image files: decoding through OpenCV (libjpeg-turbo, libpng, ...) into RGB or gray, and writing.
#include "crunet/data/image.h"

#include <algorithm>
#include <fstream>

#if CRUNET_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace crunet::data {
namespace {

#if !CRUNET_WITH_OPENCV
[[noreturn]] void no_opencv(const std::string& name) {
  throw NotImplementedError(name +
                            ": cannot read or write image files: this crunet was built without "
                            "OpenCV (CRUNET_OPENCV=OFF or libopencv-dev missing); IDX and CIFAR "
                            "datasets still work");
}
#endif

// libjpeg decodes a truncated JPEG "successfully", filling the missing part with gray and only
// printing a warning; such a file must count as bad. Inside the entropy-coded data 0xFF is always
// followed by 0x00 or a restart marker, so an end-of-image marker (FF D9) near the end of the file
// is present exactly when the file is complete (trailing padding of up to 4 KiB is tolerated).
[[maybe_unused]] bool jpeg_truncated(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return false;  // not a JPEG
  const std::size_t begin = bytes.size() > 4098 ? bytes.size() - 4098 : 2;
  for (std::size_t i = begin; i + 1 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9) return false;
  }
  return true;
}

}  // namespace

Image make_image(std::int64_t height, std::int64_t width, std::int64_t channels,
                 std::uint8_t value) {
  if (height < 0 || width < 0 || (channels != 1 && channels != 3)) {
    throw ValueError("make_image: bad size " + std::to_string(height) + "x" +
                     std::to_string(width) + "x" + std::to_string(channels) +
                     " (channels must be 1 or 3)");
  }
  Image image;
  image.height = height;
  image.width = width;
  image.channels = channels;
  image.pixels.assign(static_cast<std::size_t>(height * width * channels), value);
  return image;
}

bool image_files_supported() { return CRUNET_WITH_OPENCV != 0; }

Image decode_image(const std::vector<std::uint8_t>& bytes, std::int64_t channels,
                   const std::string& name) {
  if (channels != 1 && channels != 3) {
    throw ValueError("decode_image: channels must be 1 or 3, not " + std::to_string(channels));
  }
#if CRUNET_WITH_OPENCV
  if (bytes.empty()) throw BadSample(name, "empty file");
  if (jpeg_truncated(bytes)) throw BadSample(name, "truncated JPEG (no end-of-image marker)");
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<std::uint8_t*>(bytes.data()));
    decoded = cv::imdecode(buffer, channels == 3 ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE);
  } catch (const cv::Exception& e) {
    throw BadSample(name, std::string("cannot decode: ") + e.what());
  }
  if (decoded.empty() || decoded.depth() != CV_8U) {
    throw BadSample(name, "not a readable image");
  }
  Image image = make_image(decoded.rows, decoded.cols, channels);
  cv::Mat out(decoded.rows, decoded.cols, channels == 3 ? CV_8UC3 : CV_8UC1, image.data());
  if (channels == 3) {
    cv::cvtColor(decoded, out, cv::COLOR_BGR2RGB);
  } else {
    decoded.copyTo(out);
  }
  return image;
#else
  no_opencv(name);
#endif
}

Image read_image(const std::string& path, std::int64_t channels) {
#if CRUNET_WITH_OPENCV
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw BadSample(path, "cannot open the file");
  const std::streamsize size = in.tellg();
  if (size < 0) throw BadSample(path, "cannot read the file");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw BadSample(path, "cannot read the file");
  }
  return decode_image(bytes, channels, path);
#else
  (void)channels;
  no_opencv(path);
#endif
}

void write_image(const std::string& path, const Image& image, int jpeg_quality) {
  if ((image.channels != 1 && image.channels != 3) || image.numel() == 0 ||
      static_cast<std::int64_t>(image.pixels.size()) != image.numel()) {
    throw ValueError("write_image: " + path + ": not a valid 1- or 3-channel image");
  }
#if CRUNET_WITH_OPENCV
  const cv::Mat rgb(static_cast<int>(image.height), static_cast<int>(image.width),
                    image.channels == 3 ? CV_8UC3 : CV_8UC1,
                    const_cast<std::uint8_t*>(image.data()));
  cv::Mat bgr;
  if (image.channels == 3) {
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  } else {
    bgr = rgb;
  }
  bool written = false;
  try {
    written = cv::imwrite(path, bgr, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality});
  } catch (const cv::Exception& e) {
    throw RuntimeError(path + ": cannot write the image: " + e.what());
  }
  if (!written) throw RuntimeError(path + ": cannot write the image");
#else
  (void)jpeg_quality;
  no_opencv(path);
#endif
}

}  // namespace crunet::data
