// Datasets held in memory: MNIST / Fashion-MNIST IDX files (gzip through zlib, or raw) and CIFAR
// binary batches, both decoded once when opened.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "crunet/data/dataset.h"

namespace crunet::data {
namespace {

namespace fs = std::filesystem;

// The whole file; gzread passes files that are not gzipped through unchanged.
std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) throw UserError(path + ": no such file");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw UserError(path + ": cannot open the file");
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint8_t> chunk(1 << 20);
  while (true) {
    const int got = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw UserError(path + ": corrupt or truncated gzip data (" + message + ")");
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + got);
  }
  gzclose(file);
  return bytes;
}

std::uint32_t big_endian(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::string hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08X", value);
  return text;
}

// Checks an IDX header (magic 0x0000 08 <dims>) and returns its dimensions.
std::vector<std::int64_t> idx_dims(const std::vector<std::uint8_t>& bytes, std::uint32_t magic,
                                   const std::string& path, const std::string& what) {
  if (bytes.size() < 4) throw UserError(path + ": too short for an IDX file");
  const std::uint32_t found = big_endian(bytes.data());
  if (found != magic) {
    throw UserError(path + ": wrong magic number " + hex(found) + " for an IDX " + what +
                    " file (expected " + hex(magic) + ")");
  }
  const std::size_t count = magic & 0xFF;
  if (bytes.size() < 4 + 4 * count) throw UserError(path + ": truncated IDX header");
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < count; ++i) dims.push_back(big_endian(bytes.data() + 4 + 4 * i));
  const std::size_t have = bytes.size() - 4 - 4 * count;
  // The product of the dimensions, saturated (a damaged header must not overflow it).
  std::uint64_t body = 1;
  for (std::int64_t d : dims) {
    const auto dim = static_cast<std::uint64_t>(d);
    body = (dim != 0 && body > UINT64_MAX / dim) ? UINT64_MAX : body * dim;
  }
  if (have < body) {
    throw UserError(path + ": truncated IDX file: the header announces " + std::to_string(body) +
                    " bytes of data, the file has " + std::to_string(have));
  }
  return dims;
}

std::int64_t checked_classes(const std::vector<std::int64_t>& labels, std::int64_t classes,
                             const std::string& path) {
  const std::int64_t largest =
      labels.empty() ? -1 : *std::max_element(labels.begin(), labels.end());
  if (classes > 0 && largest >= classes) {
    throw UserError(path + ": label " + std::to_string(largest) + " is out of range for " +
                    std::to_string(classes) + " classes");
  }
  return classes > 0 ? classes : largest + 1;
}

}  // namespace

MemoryDataset::MemoryDataset(std::int64_t height, std::int64_t width, std::int64_t channels,
                             std::vector<std::uint8_t> pixels, std::vector<std::int64_t> labels,
                             std::int64_t classes, std::string description, std::string name)
    : height_(height),
      width_(width),
      channels_(channels),
      pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      classes_(classes),
      description_(std::move(description)),
      name_(std::move(name)) {
  if (height_ <= 0 || width_ <= 0 || (channels_ != 1 && channels_ != 3)) {
    throw ValueError("MemoryDataset: bad image size " + std::to_string(height_) + "x" +
                     std::to_string(width_) + "x" + std::to_string(channels_));
  }
  const std::int64_t expected =
      static_cast<std::int64_t>(labels_.size()) * height_ * width_ * channels_;
  if (static_cast<std::int64_t>(pixels_.size()) != expected) {
    throw ValueError("MemoryDataset: " + std::to_string(pixels_.size()) + " bytes of pixels for " +
                     std::to_string(labels_.size()) + " images of " + std::to_string(height_) +
                     "x" + std::to_string(width_) + "x" + std::to_string(channels_));
  }
}

Example MemoryDataset::get(std::int64_t index) const {
  if (index < 0 || index >= size()) {
    throw ValueError(name_ + ": index " + std::to_string(index) + " out of range for " +
                     std::to_string(size()) + " samples");
  }
  Example example;
  example.image.height = height_;
  example.image.width = width_;
  example.image.channels = channels_;
  const std::int64_t bytes = height_ * width_ * channels_;
  const auto begin = pixels_.begin() + index * bytes;
  example.image.pixels.assign(begin, begin + bytes);
  example.label = labels_[static_cast<std::size_t>(index)];
  return example;
}

std::string MemoryDataset::sample_name(std::int64_t index) const {
  return name_ + "[" + std::to_string(index) + "]";
}

std::shared_ptr<MemoryDataset> load_idx(const std::string& images_file,
                                        const std::string& labels_file, std::int64_t classes) {
  std::vector<std::uint8_t> images = read_whole_file(images_file);
  const std::vector<std::int64_t> dims = idx_dims(images, 0x00000803, images_file, "image");
  const std::vector<std::uint8_t> label_bytes = read_whole_file(labels_file);
  const std::vector<std::int64_t> label_dims =
      idx_dims(label_bytes, 0x00000801, labels_file, "label");
  if (dims[0] != label_dims[0]) {
    throw UserError(images_file + " has " + std::to_string(dims[0]) + " images but " + labels_file +
                    " has " + std::to_string(label_dims[0]) + " labels");
  }
  if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0) throw UserError(images_file + ": no images");
  std::vector<std::int64_t> labels(label_bytes.begin() + 8, label_bytes.begin() + 8 + dims[0]);
  const std::int64_t class_count = checked_classes(labels, classes, labels_file);
  images.erase(images.begin(), images.begin() + 16);
  images.resize(static_cast<std::size_t>(dims[0] * dims[1] * dims[2]));
  const std::string description = "IDX " + images_file + " (" + std::to_string(class_count) +
                                  " classes, " + std::to_string(dims[0]) + " images of " +
                                  std::to_string(dims[1]) + "x" + std::to_string(dims[2]) + "x1)";
  return std::make_shared<MemoryDataset>(dims[1], dims[2], 1, std::move(images), std::move(labels),
                                         class_count, description, images_file);
}

std::shared_ptr<MemoryDataset> load_idx_split(const std::string& root, const std::string& prefix,
                                              std::int64_t classes) {
  std::error_code error;
  if (!fs::is_directory(root, error)) throw UserError("IDX folder " + root + ": no such directory");
  auto find = [&](const std::string& kind, int dims) {
    const std::string base = (fs::path(root) / prefix).string();
    const std::string dashed = base + "-" + kind + "-idx" + std::to_string(dims) + "-ubyte";
    const std::string dotted = base + "-" + kind + ".idx" + std::to_string(dims) + "-ubyte";
    for (const std::string& candidate : {dashed + ".gz", dashed, dotted + ".gz", dotted}) {
      if (fs::is_regular_file(candidate, error)) return candidate;
    }
    throw UserError("IDX folder " + root + ": no " + kind + " file for '" + prefix +
                    "' (looked for " + dashed + "[.gz] and " + dotted + "[.gz])");
  };
  const std::string images = find("images", 3);
  const std::string labels = find("labels", 1);
  return load_idx(images, labels, classes);
}

std::shared_ptr<MemoryDataset> load_cifar(const std::vector<std::string>& files, CifarLabels kind) {
  if (files.empty()) throw ValueError("load_cifar: no files given");
  const std::size_t label_bytes = kind == CifarLabels::Cifar10 ? 1 : 2;
  const std::size_t image_bytes = 32 * 32 * 3;
  const std::size_t record = label_bytes + image_bytes;
  const std::int64_t classes = kind == CifarLabels::Cifar10        ? 10
                               : kind == CifarLabels::Cifar100Fine ? 100
                                                                   : 20;
  std::vector<std::uint8_t> pixels;
  std::vector<std::int64_t> labels;
  for (const std::string& path : files) {
    const std::vector<std::uint8_t> bytes = read_whole_file(path);
    if (bytes.empty() || bytes.size() % record != 0) {
      throw UserError(path + ": " + std::to_string(bytes.size()) +
                      " bytes is not a whole number of CIFAR-" +
                      (kind == CifarLabels::Cifar10 ? "10" : "100") + " records of " +
                      std::to_string(record) + " bytes (truncated, or the wrong CIFAR format)");
    }
    const std::size_t count = bytes.size() / record;
    pixels.reserve(pixels.size() + count * image_bytes);
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint8_t* r = bytes.data() + i * record;
      const std::int64_t label = kind == CifarLabels::Cifar100Coarse ? r[0] : r[label_bytes - 1];
      if (label >= classes) {
        throw UserError(path + ": record " + std::to_string(i) + " has label " +
                        std::to_string(label) + ", out of range for " + std::to_string(classes) +
                        " classes (the wrong CIFAR format?)");
      }
      labels.push_back(label);
      // Planar RGB (1024 R, 1024 G, 1024 B) -> HWC.
      const std::uint8_t* planes = r + label_bytes;
      for (std::size_t p = 0; p < 1024; ++p) {
        pixels.push_back(planes[p]);
        pixels.push_back(planes[1024 + p]);
        pixels.push_back(planes[2048 + p]);
      }
    }
  }
  const std::string name = kind == CifarLabels::Cifar10 ? "CIFAR-10" : "CIFAR-100";
  const std::string shown =
      files[0] +
      (files.size() > 1 ? " + " + std::to_string(files.size() - 1) + " more" : std::string());
  const std::string description = name + " " + shown + " (" + std::to_string(classes) +
                                  " classes, " + std::to_string(labels.size()) +
                                  " images of 32x32x3)";
  return std::make_shared<MemoryDataset>(32, 32, 3, std::move(pixels), std::move(labels), classes,
                                         description, files[0]);
}

}  // namespace crunet::data
