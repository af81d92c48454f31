// The HSL colour augmentation of MXNet's ImageRecordIter (random_h / random_s / random_l), which
// the paper trained with: convert RGB to OpenCV's 8-bit HLS, add one offset per channel to every
// pixel, clamp (hue to [0, 180], not wrapped, as MXNet does), convert back. With OpenCV this runs
// MXNet's very calls (cvtColor both ways, vectorised); without it, a scalar version of the same
// float formulas, which agrees within one unit.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "crunet/data/transforms.h"
#include "data/reference.h"

#if CRUNET_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace crunet::data {
namespace {

inline std::uint8_t round_to_byte(float value) {
  const long rounded = std::lrint(value);  // round half to even, as OpenCV's saturate_cast
  return static_cast<std::uint8_t>(std::clamp<long>(rounded, 0, 255));
}

inline int clamp_int(int value, int low, int high) { return std::min(std::max(value, low), high); }

void check_rgb_or_gray(const Image& image) {
  if ((image.channels != 1 && image.channels != 3) ||
      static_cast<std::int64_t>(image.pixels.size()) != image.numel()) {
    throw ValueError("shift_hsl: not a valid 1- or 3-channel image");
  }
}

// A gray pixel has saturation 0, and OpenCV's HLS lightness of gray v is v itself.
void shift_gray(Image& image, int lightness) {
  for (std::uint8_t& v : image.pixels)
    v = static_cast<std::uint8_t>(clamp_int(v + lightness, 0, 255));
}

}  // namespace

void shift_hsl_reference(Image& image, int hue, int saturation, int lightness) {
  check_rgb_or_gray(image);
  if (image.channels == 1) return shift_gray(image, lightness);
  static const int kSector[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1},
                                    {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
  std::uint8_t* p = image.data();
  const std::int64_t pixels = image.height * image.width;
  for (std::int64_t i = 0; i < pixels; ++i, p += 3) {
    // RGB -> HLS (OpenCV's RGB2HLS_f on values / 255, then H * 0.5, L * 255, S * 255).
    const float r = p[0] * (1.f / 255.f), g = p[1] * (1.f / 255.f), b = p[2] * (1.f / 255.f);
    const float vmax = std::max(r, std::max(g, b)), vmin = std::min(r, std::min(g, b));
    float diff = vmax - vmin;
    const float l = (vmax + vmin) * 0.5f;
    float h = 0.f, s = 0.f;
    if (diff > FLT_EPSILON) {
      s = l < 0.5f ? diff / (vmax + vmin) : diff / (2 - vmax - vmin);
      diff = 60.f / diff;
      if (vmax == r) {
        h = (g - b) * diff;
      } else if (vmax == g) {
        h = (b - r) * diff + 120.f;
      } else {
        h = (r - g) * diff + 240.f;
      }
      if (h < 0.f) h += 360.f;
    }
    const int H = clamp_int(round_to_byte(h * 0.5f) + hue, 0, 180);
    const int L = clamp_int(round_to_byte(l * 255.f) + lightness, 0, 255);
    const int S = clamp_int(round_to_byte(s * 255.f) + saturation, 0, 255);
    // HLS -> RGB (OpenCV's HLS2RGB_f on H, L / 255, S / 255, then * 255).
    const float lf = L * (1.f / 255.f), sf = S * (1.f / 255.f);
    if (S == 0) {
      p[0] = p[1] = p[2] = round_to_byte(lf * 255.f);
      continue;
    }
    const float p2 = lf <= 0.5f ? lf * (1 + sf) : lf + sf - lf * sf;
    const float p1 = 2 * lf - p2;
    float hf = H * (6.f / 180.f);
    if (hf >= 6) hf -= 6;
    const int sector = static_cast<int>(std::floor(hf));
    hf -= static_cast<float>(sector);
    const float tab[4] = {p2, p1, p1 + (p2 - p1) * (1 - hf), p1 + (p2 - p1) * hf};
    // OpenCV's table gives (b, g, r).
    p[2] = round_to_byte(tab[kSector[sector][0]] * 255.f);
    p[1] = round_to_byte(tab[kSector[sector][1]] * 255.f);
    p[0] = round_to_byte(tab[kSector[sector][2]] * 255.f);
  }
}

void shift_hsl(Image& image, int hue, int saturation, int lightness) {
#if CRUNET_WITH_OPENCV
  check_rgb_or_gray(image);
  if (image.channels == 1) return shift_gray(image, lightness);
  cv::Mat rgb(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC3, image.data());
  cv::Mat hls;
  cv::cvtColor(rgb, hls, cv::COLOR_RGB2HLS);
  cv::Mat table(1, 256, CV_8UC3);
  for (int v = 0; v < 256; ++v) {
    table.at<cv::Vec3b>(0, v) =
        cv::Vec3b(static_cast<std::uint8_t>(clamp_int(v + hue, 0, 180)),
                  static_cast<std::uint8_t>(clamp_int(v + lightness, 0, 255)),
                  static_cast<std::uint8_t>(clamp_int(v + saturation, 0, 255)));
  }
  cv::LUT(hls, table, hls);
  cv::cvtColor(hls, rgb, cv::COLOR_HLS2RGB);
#else
  shift_hsl_reference(image, hue, saturation, lightness);
#endif
}

}  // namespace crunet::data
