#pragma once
// Image transforms: the building blocks (crop, resize, flip, HSL shift, normalisation) and the two
// pipelines made of them, the training augmentation of the paper and the evaluation crop.
// Randomness comes only from the Generator passed in, so that a sample's augmentation depends on
// the loader's seed, the epoch and the sample index, never on which thread ran it.
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "crunet/core/rng.h"
#include "crunet/core/tensor.h"
#include "crunet/data/image.h"

namespace crunet::data {

// What turns an image into a float32 [C, H, W] tensor.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual Tensor apply(const Image& image, Generator& rng) const = 0;
};

// A window of an image, in pixels.
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

enum class Interpolation { Nearest, Linear, Area, Cubic };

// (pixel - mean[c]) * scale[c]; one value stands for every channel.
struct Normalization {
  std::vector<float> mean = {124.0f, 117.0f, 104.0f};
  std::vector<float> scale = {0.0167f};
};

// Random area crop (Inception / torchvision RandomResizedCrop): area fraction uniform in
// [min_area, max_area], aspect ratio (width / height) log-uniform in [min_aspect, max_aspect];
// `attempts` tries to fit the image, then the centre crop of the whole image clamped to the
// aspect range.
struct AreaCropParams {
  double min_area = 0.08, max_area = 1.0;
  double min_aspect = 3.0 / 4.0, max_aspect = 4.0 / 3.0;
  int attempts = 10;
};

// Offsets added in OpenCV's 8-bit HLS space, as MXNet's ImageRecordIter random_h / random_s /
// random_l: hue in units of 2 degrees (0-180), lightness and saturation in 0-255.
struct HslParams {
  int hue = 20, saturation = 40, lightness = 50;
  bool enabled() const { return hue != 0 || saturation != 0 || lightness != 0; }
};

enum class TrainCrop {
  RandomArea,  // random area crop, resized to size x size
  PadRandom,   // pad, then a random size x size window (CIFAR / MNIST style)
  None,        // the whole image, resized to size x size
};

struct TrainTransformParams {
  TrainCrop crop = TrainCrop::RandomArea;
  AreaCropParams area;
  std::int64_t pad = 4;   // PadRandom: pixels added on each side
  std::uint8_t fill = 0;  // PadRandom: value of the added pixels
  double flip = 0.5;      // probability of a horizontal flip
  HslParams hsl;
  std::int64_t size = 224;  // output height and width
  Interpolation interpolation = Interpolation::Linear;
};

struct EvalTransformParams {
  std::int64_t resize = 256;  // short side after resizing; 0 keeps the image's size
  std::int64_t size = 224;    // centre crop (and ten-crop) size; 0 keeps the whole image
  Interpolation interpolation = Interpolation::Linear;
};

// --- building blocks
// ------------------------------------------------------------------------------

// A random area crop of a height x width image (see AreaCropParams).
CropBox sample_area_crop(std::int64_t height, std::int64_t width, const AreaCropParams& params,
                         Generator& rng);
// The four corners and the centre (top-left, top-right, bottom-left, bottom-right, centre) of size
// crop_height x crop_width; the centre's offsets are rounded down.
std::array<CropBox, 5> five_crop_boxes(std::int64_t height, std::int64_t width,
                                       std::int64_t crop_height, std::int64_t crop_width);

Image crop(const Image& image, const CropBox& box);
Image resize(const Image& image, std::int64_t height, std::int64_t width,
             Interpolation interpolation = Interpolation::Linear);
// crop then resize, without the intermediate copy.
Image resized_crop(const Image& image, const CropBox& box, std::int64_t height, std::int64_t width,
                   Interpolation interpolation = Interpolation::Linear);
// Scales so that the shorter side becomes `short_side`; the longer is rounded down, as
// torchvision's Resize(int) and MXNet's resize do.
Image resize_short_side(const Image& image, std::int64_t short_side,
                        Interpolation interpolation = Interpolation::Linear);
Image pad(const Image& image, std::int64_t amount, std::uint8_t fill = 0);
void flip_horizontal(Image& image);
// RGB -> HLS (OpenCV's 8-bit conversion: H = degrees / 2 in 0-180, L and S in 0-255), add the
// offsets, clamp H to [0, 180] and L, S to [0, 255], HLS -> RGB. MXNet's colour augmentation, to
// the unit. A gray image gets the lightness offset only (its saturation stays 0).
void shift_hsl(Image& image, int hue, int saturation, int lightness);
// Gray -> RGB by replication, RGB -> gray by ITU-R 601 luma (OpenCV's weights).
Image convert_channels(const Image& image, std::int64_t channels);
// float32 [C, H, W] of (pixel - mean) * scale.
Tensor to_tensor(const Image& image, const Normalization& normalization);
// The same values written to `out` (C * H * W floats), for callers that place several images in
// one tensor without a copy.
void write_tensor(const Image& image, const Normalization& normalization, float* out);

// --- pipelines
// ------------------------------------------------------------------------------------

// The paper's training augmentation: crop (random area by default) resized to size x size,
// horizontal flip, HSL shift, normalisation; the image is first converted to `channels`.
// Random draws, in order: the crop, the flip, the three HSL offsets (MXNet's formula
// int(u * 2 * max - max), u uniform in [0, 1), truncated toward zero).
class TrainTransform : public Transform {
 public:
  TrainTransform(TrainTransformParams params, Normalization normalization,
                 std::int64_t channels = 3);
  Tensor apply(const Image& image, Generator& rng) const override;
  // Everything but the normalisation: the 8-bit image the network will see.
  Image augment(const Image& image, Generator& rng) const;
  const TrainTransformParams& params() const { return params_; }

 private:
  TrainTransformParams params_;
  Normalization normalization_;
  std::int64_t channels_;
};

// Evaluation: resize the short side to `resize`, centre crop size x size, normalise.
class EvalTransform : public Transform {
 public:
  EvalTransform(EvalTransformParams params, Normalization normalization, std::int64_t channels = 3);
  Tensor apply(const Image& image, Generator& rng) const override;
  Tensor apply(const Image& image) const;
  // The ten crops: the five of five_crop_boxes after the resize, then their mirror images in the
  // same order. Average the ten softmax outputs.
  std::vector<Tensor> ten_crop(const Image& image) const;
  // The same ten crops in one float32 [10, C, H, W] tensor, each written in place (no copies).
  Tensor ten_crop_stacked(const Image& image) const;
  const EvalTransformParams& params() const { return params_; }

 private:
  Image prepare(const Image& image) const;  // channels and resize
  EvalTransformParams params_;
  Normalization normalization_;
  std::int64_t channels_;
};

// Ten-crop evaluation through the loader: one image becomes a float32 [10, C, H, W] tensor, the
// crops of EvalTransform::ten_crop in its order (the loader's batches are then [N, 10, C, H, W]).
class TenCropTransform : public Transform {
 public:
  explicit TenCropTransform(std::shared_ptr<const EvalTransform> eval);
  Tensor apply(const Image& image, Generator& rng) const override;

 private:
  std::shared_ptr<const EvalTransform> eval_;
};

}  // namespace crunet::data
