// Exact-value tests of the transforms: the HSL shift against an independent RGB -> HSL -> RGB
// written here, crop statistics, flip, normalisation, the ten crops' positions, resizing against
// the plain reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "crunet/data.h"
#include "data/reference.h"
#include "data_test_util.h"

namespace crunet::data {
namespace {

using testing::pattern_image;
using testing::random_image;

// --- an independent HSL in double precision (the textbook formulas, not OpenCV's) ---------------

struct Rgb {
  int r, g, b;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

std::ostream& operator<<(std::ostream& out, const Rgb& p) {
  return out << "(" << p.r << ", " << p.g << ", " << p.b << ")";
}

// The HLS -> RGB half of the computation, for 8-bit H (0-180), L, S (0-255).
Rgb hls_to_rgb(int H, int L, int S) {
  // HSL -> RGB through chroma (Wikipedia's form).
  const double lf = L / 255.0, sf = S / 255.0, degrees = H * 2.0;
  const double chroma = (1 - std::fabs(2 * lf - 1)) * sf;
  const double hp = std::fmod(degrees / 60.0, 6.0);
  const double x = chroma * (1 - std::fabs(std::fmod(hp, 2.0) - 1));
  double r1 = 0, g1 = 0, b1 = 0;
  if (hp < 1) {
    r1 = chroma, g1 = x;
  } else if (hp < 2) {
    r1 = x, g1 = chroma;
  } else if (hp < 3) {
    g1 = chroma, b1 = x;
  } else if (hp < 4) {
    g1 = x, b1 = chroma;
  } else if (hp < 5) {
    r1 = x, b1 = chroma;
  } else {
    r1 = chroma, b1 = x;
  }
  const double m = lf - chroma / 2;
  auto byte = [](double v) {
    return std::clamp(static_cast<int>(std::nearbyint(v * 255)), 0, 255);
  };
  return {byte(r1 + m), byte(g1 + m), byte(b1 + m)};
}

// The roundings of an exact value to 8 bits: both neighbours at a tie (x.5, common for L when
// max + min is odd), where float and double arithmetic may legitimately go either way.
std::vector<int> roundings(double v) {
  const double below = std::floor(v);
  if (std::fabs(v - below - 0.5) < 1e-9)
    return {static_cast<int>(below), static_cast<int>(below) + 1};
  return {static_cast<int>(std::nearbyint(v))};
}

// MXNet's augmentation in OpenCV's 8-bit HLS space: H = hue degrees / 2 (0-180), L and S scaled to
// 0-255; offsets added and clamped; back to RGB. All results allowed by the roundings of ties.
std::vector<Rgb> expected_hsl_shifts(Rgb p, int dh, int ds, int dl) {
  const double r = p.r / 255.0, g = p.g / 255.0, b = p.b / 255.0;
  const double mx = std::max({r, g, b}), mn = std::min({r, g, b});
  const double l = (mx + mn) / 2;
  double h = 0, s = 0;
  if (mx > mn) {
    const double d = mx - mn;
    s = l < 0.5 ? d / (mx + mn) : d / (2 - mx - mn);
    if (mx == r) {
      h = 60 * std::fmod((g - b) / d + 6, 6.0);
    } else if (mx == g) {
      h = 60 * ((b - r) / d + 2);
    } else {
      h = 60 * ((r - g) / d + 4);
    }
  }
  std::vector<Rgb> out;
  for (int H : roundings(h / 2)) {
    for (int L : roundings(l * 255)) {
      for (int S : roundings(s * 255)) {
        out.push_back(hls_to_rgb(std::clamp(H + dh, 0, 180), std::clamp(L + dl, 0, 255),
                                 std::clamp(S + ds, 0, 255)));
      }
    }
  }
  return out;
}

Rgb shifted(void (*shift)(Image&, int, int, int), Rgb p, int dh, int ds, int dl) {
  Image image = make_image(1, 1, 3);
  image.pixels = {static_cast<std::uint8_t>(p.r), static_cast<std::uint8_t>(p.g),
                  static_cast<std::uint8_t>(p.b)};
  shift(image, dh, ds, dl);
  return {image.pixels[0], image.pixels[1], image.pixels[2]};
}

TEST(Hsl, KnownPixels) {
  // Pure red worked by hand: H 0, L 127.5 -> 128, S 255. Hue +20 units is +40 degrees:
  // R = m + C = 255, G = m + C * 40/60 = (1 + 254 * 2/3) -> 170.3 -> 170, B = m = 1/255 -> 1.
  const struct {
    Rgb in;
    int dh, ds, dl;
    Rgb out;
  } cases[] = {
      {{255, 0, 0}, 20, 0, 0, {255, 170, 1}},
      {{255, 0, 0}, 0, 0, 0, {255, 1, 1}},  // the 8-bit round trip is not the identity (L 128)
      {{255, 0, 0}, 0, 0, -50, {156, 0, 0}},
      {{128, 128, 128}, 20, 40, 50, {190, 182, 166}},
      {{0, 0, 0}, 20, 40, -50, {0, 0, 0}},              // L clamps at 0
      {{255, 255, 255}, -20, 40, 50, {255, 255, 255}},  // L clamps at 255
      {{200, 100, 50}, -20, -40, 30, {199, 111, 111}},  // H 11 - 20 clamps at 0
      {{10, 200, 120}, 20, 40, 50, {55, 208, 255}},
      {{255, 0, 40}, 20, 0, 0, {255, 1, 1}},  // H 175 + 20 clamps at 180 (red), no wrap to 15
      {{30, 60, 90}, -20, 0, 0, {30, 90, 80}},
  };
  for (const auto& c : cases) {
    const std::vector<Rgb> independent = expected_hsl_shifts(c.in, c.dh, c.ds, c.dl);
    EXPECT_NE(std::find(independent.begin(), independent.end(), c.out), independent.end()) << c.in;
    EXPECT_EQ(shifted(&shift_hsl_reference, c.in, c.dh, c.ds, c.dl), c.out) << c.in;
    EXPECT_EQ(shifted(&shift_hsl, c.in, c.dh, c.ds, c.dl), c.out) << c.in;
  }
}

// Every pixel of random images, many offsets: both implementations within one unit of the
// independent computation (float against double), and nearly always equal to it.
TEST(Hsl, RandomPixelsAgreeWithIndependentComputation) {
  Generator offsets(5);
  std::int64_t total = 0, exact_reference = 0, exact_fast = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const int dh = static_cast<int>(offsets.below(41)) - 20;
    const int ds = static_cast<int>(offsets.below(81)) - 40;
    const int dl = static_cast<int>(offsets.below(101)) - 50;
    const Image original = random_image(17, 23, 3, 100 + trial);  // odd sizes: SIMD tails too
    Image reference = original, fast = original;
    shift_hsl_reference(reference, dh, ds, dl);
    shift_hsl(fast, dh, ds, dl);
    for (std::int64_t i = 0; i < original.height * original.width; ++i) {
      const std::uint8_t* p = original.data() + 3 * i;
      const std::vector<Rgb> allowed = expected_hsl_shifts({p[0], p[1], p[2]}, dh, ds, dl);
      const Rgb a{reference.pixels[3 * i], reference.pixels[3 * i + 1],
                  reference.pixels[3 * i + 2]};
      const Rgb b{fast.pixels[3 * i], fast.pixels[3 * i + 1], fast.pixels[3 * i + 2]};
      for (const Rgb& got : {a, b}) {
        const bool close = std::any_of(allowed.begin(), allowed.end(), [&](const Rgb& want) {
          return std::abs(got.r - want.r) <= 1 && std::abs(got.g - want.g) <= 1 &&
                 std::abs(got.b - want.b) <= 1;
        });
        ASSERT_TRUE(close) << "pixel " << Rgb{p[0], p[1], p[2]} << " -> " << got << ", expected "
                           << allowed[0] << " (offsets " << dh << " " << ds << " " << dl << ")";
      }
      exact_reference += std::find(allowed.begin(), allowed.end(), a) != allowed.end();
      exact_fast += std::find(allowed.begin(), allowed.end(), b) != allowed.end();
      ++total;
    }
  }
  EXPECT_GT(exact_reference, total * 95 / 100);
  EXPECT_GT(exact_fast, total * 95 / 100);
}

TEST(Hsl, GrayImagesGetTheLightnessOffsetOnly) {
  Image gray = make_image(1, 3, 1);
  gray.pixels = {0, 100, 250};
  shift_hsl(gray, 20, 40, 10);
  EXPECT_EQ(gray.pixels, (std::vector<std::uint8_t>{10, 110, 255}));
}

// The training transform draws the flip, then the three offsets with MXNet's formula.
TEST(Hsl, TrainTransformDrawsOffsetsLikeMxnet) {
  TrainTransformParams params;
  params.crop = TrainCrop::None;
  params.size = 8;
  params.flip = 0.0;
  const TrainTransform transform(params, Normalization{}, 3);
  const Image image = random_image(8, 8, 3, 3);
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Generator rng(seed), replay(seed);
    const Image got = transform.augment(image, rng);
    replay.uniform();  // the flip
    auto offset = [&](int max) {
      return static_cast<int>(static_cast<float>(replay.uniform()) * max * 2.0f - max);
    };
    const int dh = offset(20), ds = offset(40), dl = offset(50);
    EXPECT_LE(std::abs(dh), 20);
    EXPECT_LE(std::abs(ds), 40);
    EXPECT_LE(std::abs(dl), 50);
    Image want = image;
    shift_hsl(want, dh, ds, dl);
    EXPECT_EQ(got.pixels, want.pixels) << "seed " << seed;
  }
}

// --- random area crop
// -----------------------------------------------------------------------------

TEST(AreaCrop, TenThousandDrawsStayInsideTheBoundsAndCoverThem) {
  const std::int64_t height = 375, width = 500;
  const AreaCropParams params;  // area 0.08-1, aspect 3/4-4/3
  Generator rng(42);
  double min_area = 2, max_area = 0, min_aspect = 10, max_aspect = 0;
  std::int64_t full_image = 0;
  std::set<std::int64_t> tops, lefts;
  for (int i = 0; i < 10000; ++i) {
    const CropBox box = sample_area_crop(height, width, params, rng);
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_GT(box.height, 0);
    ASSERT_GT(box.width, 0);
    ASSERT_LE(box.top + box.height, height);
    ASSERT_LE(box.left + box.width, width);
    const double area = static_cast<double>(box.height * box.width) / (height * width);
    const double aspect = static_cast<double>(box.width) / box.height;
    // Sides are rounded to whole pixels: allow what half a pixel on each side can change.
    const double side_slack = 0.5 / box.height + 0.5 / box.width;
    ASSERT_GE(area, 0.08 * (1 - 2 * side_slack));
    ASSERT_LE(area, 1.0);
    ASSERT_GE(aspect, 0.75 * (1 - 2 * side_slack));
    ASSERT_LE(aspect, 4.0 / 3.0 * (1 + 2 * side_slack));
    min_area = std::min(min_area, area);
    max_area = std::max(max_area, area);
    min_aspect = std::min(min_aspect, aspect);
    max_aspect = std::max(max_aspect, aspect);
    full_image += box.height == height && box.width == width;
    tops.insert(box.top);
    lefts.insert(box.left);
  }
  EXPECT_LT(min_area, 0.085);
  EXPECT_GT(max_area, 0.98);
  EXPECT_LT(min_aspect, 0.76);
  EXPECT_GT(max_aspect, 1.31);
  EXPECT_LT(full_image, 300);  // the fallback is rare on a 4:3 image
  EXPECT_EQ(*tops.begin(), 0);
  EXPECT_EQ(*lefts.begin(), 0);
  // The smallest crops (about 106 x 141) reach within a few pixels of the far edges.
  EXPECT_GT(*tops.rbegin(), 240);
  EXPECT_GT(*lefts.rbegin(), 340);
}

// On a square image no aspect ratio fits worse than its inverse: the log aspect is symmetric.
TEST(AreaCrop, AspectIsLogUniformOnASquareImage) {
  Generator rng(7);
  double sum = 0;
  int below_one = 0;
  for (int i = 0; i < 10000; ++i) {
    const CropBox box = sample_area_crop(400, 400, AreaCropParams{}, rng);
    const double log_aspect = std::log(static_cast<double>(box.width) / box.height);
    sum += log_aspect;
    below_one += log_aspect < 0;
  }
  EXPECT_NEAR(sum / 10000, 0.0, 0.01);
  EXPECT_NEAR(below_one, 5000, 250);
}

TEST(AreaCrop, FallsBackToTheCentreClampedToTheAspectRange) {
  Generator rng(1);
  // 1000 x 10: no 8%-100% area fits with aspect >= 3/4, so every attempt fails.
  const CropBox tall = sample_area_crop(1000, 10, AreaCropParams{}, rng);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.height, 13);  // round(10 / 0.75)
  EXPECT_EQ(tall.top, (1000 - 13) / 2);
  EXPECT_EQ(tall.left, 0);
  const CropBox wide = sample_area_crop(10, 1000, AreaCropParams{}, rng);
  EXPECT_EQ(wide.height, 10);
  EXPECT_EQ(wide.width, 13);  // round(10 * 4/3)
  EXPECT_EQ(wide.left, (1000 - 13) / 2);
}

// --- flip, pad, crop, normalisation
// ---------------------------------------------------------------

TEST(Flip, MirrorsEachRow) {
  Image image = make_image(2, 3, 3);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<std::uint8_t>(i);
  flip_horizontal(image);
  EXPECT_EQ(image.pixels, (std::vector<std::uint8_t>{6, 7, 8, 3, 4, 5, 0, 1, 2,  //
                                                     15, 16, 17, 12, 13, 14, 9, 10, 11}));
  Image gray = make_image(1, 4, 1);
  gray.pixels = {1, 2, 3, 4};
  flip_horizontal(gray);
  EXPECT_EQ(gray.pixels, (std::vector<std::uint8_t>{4, 3, 2, 1}));
}

TEST(Flip, TrainTransformFlipsWithTheGivenProbability) {
  TrainTransformParams params;
  params.crop = TrainCrop::None;
  params.size = 6;
  params.hsl = {0, 0, 0};
  const Image image = pattern_image(6, 6, 3);
  Image mirrored = image;
  flip_horizontal(mirrored);
  params.flip = 1.0;
  Generator rng(0);
  EXPECT_EQ(TrainTransform(params, Normalization{}).augment(image, rng).pixels, mirrored.pixels);
  params.flip = 0.0;
  EXPECT_EQ(TrainTransform(params, Normalization{}).augment(image, rng).pixels, image.pixels);
  params.flip = 0.5;
  const TrainTransform half(params, Normalization{});
  int flips = 0;
  for (int i = 0; i < 2000; ++i) flips += half.augment(image, rng).pixels == mirrored.pixels;
  EXPECT_NEAR(flips, 1000, 100);
}

TEST(Normalize, SubtractsTheMeanAndScalesPerChannelIntoChw) {
  Image image = make_image(1, 2, 3);
  image.pixels = {124, 117, 104, 255, 0, 10};
  const Tensor t = to_tensor(image, Normalization{});  // mean [124, 117, 104], scale 0.0167
  ASSERT_EQ(t.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0.0f, (255.0f - 124.0f) * 0.0167f,    // R
                                               0.0f, (0.0f - 117.0f) * 0.0167f,      // G
                                               0.0f, (10.0f - 104.0f) * 0.0167f}));  // B
  const Normalization per_channel{{0.0f, 10.0f, 20.0f}, {1.0f, 0.5f, 2.0f}};
  EXPECT_EQ(to_tensor(image, per_channel).to_vector(),
            (std::vector<float>{124, 255, 53.5f, -5.0f, 168, -20}));
  EXPECT_THROW(to_tensor(image, Normalization{{1.0f, 2.0f}, {1.0f}}), ValueError);
  Image gray = make_image(1, 1, 1, 200);
  EXPECT_EQ(to_tensor(gray, Normalization{{100.0f}, {0.5f}}).to_vector(),
            std::vector<float>{50.0f});
}

TEST(Pad, RandomCropOfThePaddedImageCoversEveryShift) {
  TrainTransformParams params;
  params.crop = TrainCrop::PadRandom;
  params.pad = 2;
  params.fill = 7;
  params.size = 28;
  params.flip = 0.0;
  params.hsl = {0, 0, 0};
  const TrainTransform transform(params, Normalization{{0.0f}, {1.0f}}, 1);
  Image image = make_image(28, 28, 1);
  for (std::int64_t y = 0; y < 28; ++y) {
    for (std::int64_t x = 0; x < 28; ++x)
      image.at(y, x)[0] = static_cast<std::uint8_t>(100 + y + x);
  }
  const Image padded = pad(image, 2, 7);
  ASSERT_EQ(padded.height, 32);
  EXPECT_EQ(padded.at(0, 0)[0], 7);
  EXPECT_EQ(padded.at(2, 2)[0], 100);
  std::set<std::pair<std::int64_t, std::int64_t>> shifts;
  Generator rng(3);
  for (int i = 0; i < 500; ++i) {
    const Image out = transform.augment(image, rng);
    ASSERT_EQ(out.height, 28);
    ASSERT_EQ(out.width, 28);
    bool found = false;
    for (std::int64_t top = 0; top <= 4 && !found; ++top) {
      for (std::int64_t left = 0; left <= 4 && !found; ++left) {
        if (crop(padded, {top, left, 28, 28}).pixels == out.pixels) {
          shifts.insert({top, left});
          found = true;
        }
      }
    }
    ASSERT_TRUE(found) << "draw " << i << " is no 28x28 window of the padded image";
  }
  EXPECT_EQ(shifts.size(), 25u);  // every offset 0..4 x 0..4 occurs
}

TEST(Crop, CopiesTheWindowAndChecksItsBounds) {
  const Image image = pattern_image(5, 6, 3);
  const Image window = crop(image, {1, 2, 3, 2});
  ASSERT_EQ(window.height, 3);
  ASSERT_EQ(window.width, 2);
  for (std::int64_t y = 0; y < 3; ++y) {
    for (std::int64_t x = 0; x < 2; ++x) {
      for (int c = 0; c < 3; ++c) EXPECT_EQ(window.at(y, x)[c], image.at(y + 1, x + 2)[c]);
    }
  }
  EXPECT_THROW(crop(image, {4, 0, 2, 2}), ValueError);
  EXPECT_THROW(crop(image, {0, 0, 0, 2}), ValueError);
}

TEST(Channels, ConvertsBetweenGrayAndRgb) {
  Image rgb = make_image(1, 2, 3);
  rgb.pixels = {255, 0, 0, 10, 200, 30};
  const Image gray = convert_channels(rgb, 1);
  // OpenCV's fixed-point luma: (R 4899 + G 9617 + B 1868 + 8192) >> 14.
  EXPECT_EQ(gray.pixels, (std::vector<std::uint8_t>{76, 124}));
  EXPECT_EQ(convert_channels(gray, 3).pixels,
            (std::vector<std::uint8_t>{76, 76, 76, 124, 124, 124}));
}

// --- resize
// ---------------------------------------------------------------------------------------

TEST(Resize, BuildResizeAgreesWithThePlainReference) {
  for (const auto& sizes : std::vector<std::array<std::int64_t, 4>>{
           {375, 500, 224, 224}, {31, 17, 64, 40}, {28, 28, 28, 28}, {100, 80, 7, 9}}) {
    for (std::int64_t channels : {1, 3}) {
      const Image image = random_image(sizes[0], sizes[1], channels, 9);
      const CropBox box{sizes[0] / 5, sizes[1] / 7, sizes[0] - sizes[0] / 5,
                        sizes[1] - sizes[1] / 7};
      const Image fast = resized_crop(image, box, sizes[2], sizes[3], Interpolation::Linear);
      const Image plain =
          resized_crop_reference(image, box, sizes[2], sizes[3], Interpolation::Linear);
      ASSERT_EQ(fast.pixels.size(), plain.pixels.size());
      int worst = 0;
      for (std::size_t i = 0; i < fast.pixels.size(); ++i) {
        worst = std::max(worst, std::abs(fast.pixels[i] - plain.pixels[i]));
      }
      EXPECT_LE(worst, 1) << sizes[0] << "x" << sizes[1] << " -> " << sizes[2] << "x" << sizes[3];
    }
  }
}

TEST(Resize, ShortSideKeepsTheAspectRoundingDown) {
  const Image image = random_image(300, 401, 3, 1);
  const Image out = resize_short_side(image, 256);
  EXPECT_EQ(out.height, 256);
  EXPECT_EQ(out.width, 401 * 256 / 300);  // 342
  const Image tall = resize_short_side(random_image(500, 375, 1, 1), 256);
  EXPECT_EQ(tall.width, 256);
  EXPECT_EQ(tall.height, 341);
  // A constant image stays constant under every interpolation.
  const Image flat = make_image(40, 60, 3, 77);
  for (Interpolation mode : {Interpolation::Nearest, Interpolation::Linear}) {
    const Image scaled = resize(flat, 13, 29, mode);
    EXPECT_TRUE(std::all_of(scaled.pixels.begin(), scaled.pixels.end(),
                            [](std::uint8_t v) { return v == 77; }));
  }
}

// --- evaluation and ten-crop
// ----------------------------------------------------------------------

// Pixels that name their position: R = y, G = x % 256, B = x / 256.
Image position_image(std::int64_t height, std::int64_t width) {
  Image image = make_image(height, width, 3);
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      image.at(y, x)[0] = static_cast<std::uint8_t>(y);
      image.at(y, x)[1] = static_cast<std::uint8_t>(x % 256);
      image.at(y, x)[2] = static_cast<std::uint8_t>(x / 256);
    }
  }
  return image;
}

// (y, x) of a crop tensor's pixel, decoded from a position image (identity normalisation).
std::pair<int, int> position(const Tensor& crop_tensor, std::int64_t y, std::int64_t x) {
  const std::vector<float> v = crop_tensor.to_vector();
  const std::int64_t h = crop_tensor.size(1), w = crop_tensor.size(2);
  const auto at = [&](int c) {
    return static_cast<int>(v[static_cast<std::size_t>((c * h + y) * w + x)]);
  };
  return {at(0), at(1) + 256 * at(2)};
}

TEST(TenCrop, CornersCentreAndMirrorsAtTheirPositions) {
  EvalTransformParams params;
  params.resize = 0;  // keep the 256 x 300 image as it is
  params.size = 224;
  const EvalTransform transform(params, Normalization{{0.0f}, {1.0f}});
  const std::vector<Tensor> crops = transform.ten_crop(position_image(256, 300));
  ASSERT_EQ(crops.size(), 10u);
  const std::pair<int, int> corners[5] = {{0, 0}, {0, 76}, {32, 0}, {32, 76}, {16, 38}};
  for (int k = 0; k < 5; ++k) {
    ASSERT_EQ(crops[k].shape(), (Shape{3, 224, 224}));
    EXPECT_EQ(position(crops[k], 0, 0), corners[k]) << "crop " << k;
    EXPECT_EQ(position(crops[k], 223, 223),
              std::make_pair(corners[k].first + 223, corners[k].second + 223));
    // The mirror: its first column is the crop's last one.
    EXPECT_EQ(position(crops[5 + k], 0, 0),
              std::make_pair(corners[k].first, corners[k].second + 223))
        << "mirror " << k;
    EXPECT_EQ(position(crops[5 + k], 10, 223),
              std::make_pair(corners[k].first + 10, corners[k].second));
  }
  // The centre crop of apply() is crop 4.
  EXPECT_EQ(transform.apply(position_image(256, 300)).to_vector(), crops[4].to_vector());
}

TEST(TenCrop, ResizesTheShortSideFirst) {
  const EvalTransform transform(EvalTransformParams{}, Normalization{});  // resize 256, crop 224
  const Image image = random_image(375, 500, 3, 2);
  const std::vector<Tensor> crops = transform.ten_crop(image);
  ASSERT_EQ(crops.size(), 10u);
  const Image resized = resize_short_side(image, 256);  // 256 x 341
  const auto boxes = five_crop_boxes(resized.height, resized.width, 224, 224);
  EXPECT_EQ(boxes[1].left, 117);
  EXPECT_EQ(boxes[4].top, 16);
  EXPECT_EQ(boxes[4].left, 58);
  for (int k = 0; k < 5; ++k) {
    Image window = crop(resized, boxes[k]);
    EXPECT_EQ(crops[k].to_vector(), to_tensor(window, Normalization{}).to_vector());
    flip_horizontal(window);
    EXPECT_EQ(crops[5 + k].to_vector(), to_tensor(window, Normalization{}).to_vector());
  }
}

TEST(EvalTransform, RejectsACropLargerThanTheImage) {
  EvalTransformParams params;
  params.resize = 0;
  params.size = 32;
  const EvalTransform transform(params, Normalization{{0.0f}, {1.0f}}, 1);
  EXPECT_THROW(transform.apply(make_image(28, 28, 1)), ValueError);
  params.size = 28;
  EXPECT_EQ(EvalTransform(params, Normalization{{0.0f}, {1.0f}}, 1)
                .apply(make_image(28, 28, 1, 3))
                .shape(),
            (Shape{1, 28, 28}));
}

// --- the training pipeline
// ------------------------------------------------------------------------

TEST(TrainTransform, PaperDefaultsGiveA224CropAndAreDeterministic) {
  const TrainTransform transform(TrainTransformParams{}, Normalization{});
  const Image image = pattern_image(375, 500, 3);
  Generator a(11), b(11), c(12);
  const Tensor first = transform.apply(image, a);
  EXPECT_EQ(first.shape(), (Shape{3, 224, 224}));
  EXPECT_EQ(first.to_vector(), transform.apply(image, b).to_vector());
  EXPECT_NE(first.to_vector(), transform.apply(image, c).to_vector());
  // A gray input becomes RGB.
  Generator d(1);
  EXPECT_EQ(transform.apply(pattern_image(100, 90, 1), d).shape(), (Shape{3, 224, 224}));
}

TEST(TrainTransform, RejectsBadParameters) {
  TrainTransformParams params;
  params.area.min_area = 0.0;
  EXPECT_THROW(TrainTransform(params, Normalization{}), ValueError);
  params = TrainTransformParams{};
  params.flip = 1.5;
  EXPECT_THROW(TrainTransform(params, Normalization{}), ValueError);
  params = TrainTransformParams{};
  params.hsl.hue = 200;
  EXPECT_THROW(TrainTransform(params, Normalization{}), ValueError);
  EXPECT_THROW(TrainTransform(TrainTransformParams{}, Normalization{{1.0f, 2.0f}, {1.0f}}),
               ValueError);
}

}  // namespace
}  // namespace crunet::data
