#pragma once
// Helpers shared by the data tests: small generated images and files, error messages.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "crunet/data.h"
#include "support/temp_dir.h"

// Skips a test that writes or decodes image files in a build without OpenCV.
#define REQUIRE_IMAGE_FILES()                    \
  if (!::crunet::data::image_files_supported()) \
  GTEST_SKIP() << "built without OpenCV: no image files"

namespace crunet::data::testing {

// The message of the UserError that `body` throws ("" when it throws none).
template <typename Body>
std::string user_error(Body body) {
  try {
    body();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using crunet::testing::TempDir;

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path);
  out << text;
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// An image whose pixels follow a smooth pattern plus `seed`, so that JPEG keeps it recognisable.
inline Image pattern_image(std::int64_t height, std::int64_t width, std::int64_t channels,
                           int seed = 0) {
  Image image = make_image(height, width, channels);
  for (std::int64_t y = 0; y < height; ++y) {
    for (std::int64_t x = 0; x < width; ++x) {
      for (std::int64_t c = 0; c < channels; ++c) {
        image.at(y, x)[c] = static_cast<std::uint8_t>((y * 3 + x * 5 + c * 60 + seed * 17) % 256);
      }
    }
  }
  return image;
}

// Pixels drawn uniformly from a Generator.
inline Image random_image(std::int64_t height, std::int64_t width, std::int64_t channels,
                          std::uint64_t seed) {
  Generator rng(seed);
  Image image = make_image(height, width, channels);
  for (std::uint8_t& v : image.pixels) v = static_cast<std::uint8_t>(rng.below(256));
  return image;
}

// Writes the image, making its folder.
inline void save(const std::string& path, const Image& image) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  write_image(path, image);
}

// One sample as a rank of a data-parallel run read it through the loader.
struct SampleRead {
  std::int64_t index, rank, label;
};

// Reads `dataset` as each of `world_size` ranks would (no shuffle, batches of 2, a centre crop
// to `size` of 3-channel images), and returns every sample each rank read.
inline std::vector<SampleRead> read_as_ranks(const std::shared_ptr<const Dataset>& dataset,
                                             int world_size, std::int64_t size) {
  EvalTransformParams crop;
  crop.resize = size;
  crop.size = size;
  std::vector<SampleRead> reads;
  for (int rank = 0; rank < world_size; ++rank) {
    LoaderOptions options;
    options.batch_size = 2;
    options.shuffle = false;
    options.drop_last = false;
    options.rank = rank;
    options.world_size = world_size;
    DataLoader loader(dataset, std::make_shared<EvalTransform>(crop, Normalization{}, 3), options);
    loader.start_epoch(0);
    Batch batch;
    while (loader.next(batch)) {
      const std::vector<std::int64_t> labels = batch.labels.to_int64_vector();
      for (std::size_t i = 0; i < batch.indices.size(); ++i) {
        reads.push_back({batch.indices[i], rank, labels[i]});
      }
    }
  }
  return reads;
}

}  // namespace crunet::data::testing
