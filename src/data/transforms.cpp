// The two pipelines: the paper's training augmentation and the evaluation crop (with ten-crop).
#include "crunet/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace crunet::data {
namespace {

void check_normalization(const Normalization& normalization, std::int64_t channels,
                         const char* what) {
  auto check = [&](const std::vector<float>& values, const char* name) {
    if (values.size() != 1 && static_cast<std::int64_t>(values.size()) != channels) {
      throw ValueError(std::string(what) + ": normalisation " + name + " needs 1 or " +
                       std::to_string(channels) + " values, not " + std::to_string(values.size()));
    }
  };
  check(normalization.mean, "mean");
  check(normalization.scale, "scale");
  if (channels != 1 && channels != 3) {
    throw ValueError(std::string(what) + ": channels must be 1 or 3, not " +
                     std::to_string(channels));
  }
}

// MXNet's offset draw: int(u * 2 * max - max), truncated toward zero.
int hsl_offset(Generator& rng, int max) {
  return static_cast<int>(static_cast<float>(rng.uniform()) * static_cast<float>(max) * 2.0f -
                          static_cast<float>(max));
}

// The image in the wanted number of channels, converting only when needed.
const Image& in_channels(const Image& image, std::int64_t channels, Image& storage) {
  if (image.channels == channels) return image;
  storage = convert_channels(image, channels);
  return storage;
}

}  // namespace

// --- training
// -------------------------------------------------------------------------------------

TrainTransform::TrainTransform(TrainTransformParams params, Normalization normalization,
                               std::int64_t channels)
    : params_(std::move(params)), normalization_(std::move(normalization)), channels_(channels) {
  check_normalization(normalization_, channels_, "TrainTransform");
  const AreaCropParams& a = params_.area;
  if (!(a.min_area > 0 && a.min_area <= a.max_area && a.max_area <= 1)) {
    throw ValueError("TrainTransform: the crop area range must satisfy 0 < min <= max <= 1");
  }
  if (!(a.min_aspect > 0 && a.min_aspect <= a.max_aspect)) {
    throw ValueError("TrainTransform: the aspect ratio range must satisfy 0 < min <= max");
  }
  if (a.attempts < 1) throw ValueError("TrainTransform: attempts must be at least 1");
  if (params_.size <= 0) throw ValueError("TrainTransform: size must be positive");
  if (params_.pad < 0) throw ValueError("TrainTransform: pad must not be negative");
  if (!(params_.flip >= 0 && params_.flip <= 1)) {
    throw ValueError("TrainTransform: the flip probability must be in [0, 1]");
  }
  const HslParams& h = params_.hsl;
  if (h.hue < 0 || h.hue > 180 || h.saturation < 0 || h.saturation > 255 || h.lightness < 0 ||
      h.lightness > 255) {
    throw ValueError(
        "TrainTransform: HSL ranges must be hue 0-180, saturation and lightness 0-255");
  }
}

Image TrainTransform::augment(const Image& image, Generator& rng) const {
  Image converted;
  const Image& source = in_channels(image, channels_, converted);
  const std::int64_t size = params_.size;
  Image out;
  switch (params_.crop) {
    case TrainCrop::RandomArea: {
      const CropBox box = sample_area_crop(source.height, source.width, params_.area, rng);
      out = resized_crop(source, box, size, size, params_.interpolation);
      break;
    }
    case TrainCrop::PadRandom: {
      Image padded_storage;
      const Image& padded =
          params_.pad > 0 ? (padded_storage = pad(source, params_.pad, params_.fill)) : source;
      CropBox box;
      box.height = std::min(size, padded.height);
      box.width = std::min(size, padded.width);
      box.top = static_cast<std::int64_t>(
          rng.below(static_cast<std::uint64_t>(padded.height - box.height + 1)));
      box.left = static_cast<std::int64_t>(
          rng.below(static_cast<std::uint64_t>(padded.width - box.width + 1)));
      out = resized_crop(padded, box, size, size, params_.interpolation);
      break;
    }
    case TrainCrop::None:
      out = resize(source, size, size, params_.interpolation);
      break;
  }
  // The flip is drawn even when its probability is 0, so that the draws that follow stay put.
  if (rng.uniform() < params_.flip) flip_horizontal(out);
  if (params_.hsl.enabled()) {
    const int hue = hsl_offset(rng, params_.hsl.hue);
    const int saturation = hsl_offset(rng, params_.hsl.saturation);
    const int lightness = hsl_offset(rng, params_.hsl.lightness);
    shift_hsl(out, hue, saturation, lightness);
  }
  return out;
}

Tensor TrainTransform::apply(const Image& image, Generator& rng) const {
  return to_tensor(augment(image, rng), normalization_);
}

// --- evaluation
// -----------------------------------------------------------------------------------

EvalTransform::EvalTransform(EvalTransformParams params, Normalization normalization,
                             std::int64_t channels)
    : params_(std::move(params)), normalization_(std::move(normalization)), channels_(channels) {
  check_normalization(normalization_, channels_, "EvalTransform");
  if (params_.resize < 0) throw ValueError("EvalTransform: resize must not be negative");
  if (params_.size < 0) throw ValueError("EvalTransform: size must not be negative");
}

Image EvalTransform::prepare(const Image& image) const {
  Image converted;
  const Image& source = in_channels(image, channels_, converted);
  Image out = params_.resize > 0 ? resize_short_side(source, params_.resize, params_.interpolation)
                                 : source;
  if (params_.size > 0 && (out.height < params_.size || out.width < params_.size)) {
    throw ValueError("EvalTransform: the " + std::to_string(params_.size) + "x" +
                     std::to_string(params_.size) + " centre crop does not fit the " +
                     std::to_string(out.height) + "x" + std::to_string(out.width) +
                     " image (raise eval.resize or lower eval.size)");
  }
  return out;
}

Tensor EvalTransform::apply(const Image& image) const {
  const Image prepared = prepare(image);
  if (params_.size == 0) return to_tensor(prepared, normalization_);
  const CropBox centre =
      five_crop_boxes(prepared.height, prepared.width, params_.size, params_.size)[4];
  if (centre.height == prepared.height && centre.width == prepared.width) {
    return to_tensor(prepared, normalization_);
  }
  return to_tensor(crop(prepared, centre), normalization_);
}

Tensor EvalTransform::apply(const Image& image, Generator& /*rng*/) const { return apply(image); }

std::vector<Tensor> EvalTransform::ten_crop(const Image& image) const {
  const Image prepared = prepare(image);
  const std::int64_t size =
      params_.size > 0 ? params_.size : std::min(prepared.height, prepared.width);
  std::vector<Tensor> crops;
  std::vector<Image> mirrors;
  for (const CropBox& box : five_crop_boxes(prepared.height, prepared.width, size, size)) {
    Image window = crop(prepared, box);
    crops.push_back(to_tensor(window, normalization_));
    flip_horizontal(window);
    mirrors.push_back(std::move(window));
  }
  for (const Image& mirror : mirrors) crops.push_back(to_tensor(mirror, normalization_));
  return crops;
}

Tensor EvalTransform::ten_crop_stacked(const Image& image) const {
  const Image prepared = prepare(image);
  const std::int64_t size =
      params_.size > 0 ? params_.size : std::min(prepared.height, prepared.width);
  const std::int64_t numel = prepared.channels * size * size;
  Tensor stacked = empty({10, prepared.channels, size, size});
  float* out = stacked.data<float>();
  std::int64_t k = 0;
  for (const CropBox& box : five_crop_boxes(prepared.height, prepared.width, size, size)) {
    Image window = crop(prepared, box);
    write_tensor(window, normalization_, out + k * numel);
    flip_horizontal(window);
    write_tensor(window, normalization_, out + (k + 5) * numel);  // the mirrors after the five
    ++k;
  }
  return stacked;
}

TenCropTransform::TenCropTransform(std::shared_ptr<const EvalTransform> eval)
    : eval_(std::move(eval)) {
  if (!eval_) throw ValueError("TenCropTransform: no evaluation transform");
}

Tensor TenCropTransform::apply(const Image& image, Generator& /*rng*/) const {
  return eval_->ten_crop_stacked(image);
}

}  // namespace crunet::data
