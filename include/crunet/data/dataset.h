#pragma once
// Datasets: random access to (image, label) examples. Image folders and list files decode on
// demand; IDX (MNIST, Fashion-MNIST) and CIFAR files are read into memory when opened.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crunet/data/image.h"

namespace crunet::data {

// Random access; get() is thread-safe (the loader calls it from several threads).
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // Throws BadSample for an unreadable file.
  virtual Example get(std::int64_t index) const = 0;
  virtual std::int64_t classes() const = 0;
  // One line for logs: "image folder /x (12 classes, 3400 images)".
  virtual std::string describe() const = 0;
  // What sample `index` is, for messages: its file, or "file[index]" for in-memory datasets.
  virtual std::string sample_name(std::int64_t index) const;
  // The class names in label order, where the format has them (image folders); else empty.
  virtual std::vector<std::string> class_names() const { return {}; }
};

// The first `count` samples of another dataset (data.train_limit / data.val_limit).
class PrefixDataset : public Dataset {
 public:
  PrefixDataset(std::shared_ptr<const Dataset> dataset, std::int64_t count);
  std::int64_t size() const override { return count_; }
  Example get(std::int64_t index) const override;
  std::int64_t classes() const override { return dataset_->classes(); }
  std::string describe() const override;
  std::string sample_name(std::int64_t index) const override { return dataset_->sample_name(index); }
  std::vector<std::string> class_names() const override { return dataset_->class_names(); }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::int64_t count_;
};

// One sub-folder per class under `root`, the classes sorted by name, the images of a class sorted
// by file name. Files whose extension is not an image's (.jpg .jpeg .png .bmp .ppm .pgm .pbm
// .webp .tif .tiff, any case) and hidden files are left out, with one warning that counts them.
// `classes`, when given, fixes the class list in label order (a validation folder then uses the
// training folder's classes, so that a missing class cannot shift the labels); a sub-folder not
// in the list is a UserError. A missing root, no class folder, or a class folder without images
// is a UserError. `channels` 3 decodes to RGB, 1 to gray.
class ImageFolderDataset : public Dataset {
 public:
  explicit ImageFolderDataset(std::string root, std::int64_t channels = 3,
                              std::vector<std::string> classes = {});
  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  Example get(std::int64_t index) const override;
  std::int64_t classes() const override { return static_cast<std::int64_t>(class_names_.size()); }
  std::string describe() const override;
  std::string sample_name(std::int64_t index) const override { return path(index); }
  std::vector<std::string> class_names() const override { return class_names_; }

  std::string path(std::int64_t index) const;
  std::int64_t label(std::int64_t index) const;

 private:
  std::string root_;
  std::int64_t channels_;
  std::vector<std::string> class_names_;
  std::vector<std::string> files_;  // relative to root_: "class/name.jpg"
  std::vector<std::int64_t> labels_;
};

// MXNet's .lst format, one sample a line: `index<TAB>label<TAB>path`, the path relative to
// `image_root` (or absolute). The label may be written as a float with an integral value
// ("3.000000", as im2rec writes it). Blank lines are ignored. A malformed line, a negative label,
// or a label >= `classes` (when classes > 0) is a UserError "file:line: ...". `classes` 0 takes
// the largest label + 1. `class_names` (a class map, data.class_map) fixes the classes to theirs.
// Images are decoded when read; a missing one is a BadSample.
class ListFileDataset : public Dataset {
 public:
  ListFileDataset(std::string list_file, std::string image_root, std::int64_t channels = 3,
                  std::int64_t classes = 0, std::vector<std::string> class_names = {});
  std::int64_t size() const override { return static_cast<std::int64_t>(paths_.size()); }
  Example get(std::int64_t index) const override;
  std::int64_t classes() const override { return classes_; }
  std::string describe() const override;
  std::string sample_name(std::int64_t index) const override { return path(index); }
  std::vector<std::string> class_names() const override { return class_names_; }

  std::string path(std::int64_t index) const;
  std::int64_t label(std::int64_t index) const {
    return labels_.at(static_cast<std::size_t>(index));
  }
  // The first column of each line, in file order.
  const std::vector<std::int64_t>& list_indices() const { return indices_; }

 private:
  std::string list_file_;
  std::string image_root_;
  std::int64_t channels_;
  std::int64_t classes_ = 0;
  std::vector<std::string> class_names_;
  std::vector<std::string> paths_;
  std::vector<std::int64_t> labels_;
  std::vector<std::int64_t> indices_;
};

// A label file, one sample a line: `path label`, separated by spaces or tabs; the label is the
// last field and the path everything before it (so paths may hold spaces). The path is relative to
// `image_root`, a leading '/' included: Places365's lists write "/a/abbey/00000000.jpg 0" for
// data_256/a/abbey/00000000.jpg, ImageNet's validation labels "ILSVRC2012_val_00000001.JPEG 65".
// The label is a class index, or a class name from `class_names` (a wnid, "/a/abbey"). With class
// names the classes are theirs; else `classes`, or 0: the largest label + 1. Blank lines are
// ignored. A line without a label, a label that is neither an index nor a known name, a negative
// index or one >= the classes is a UserError "file:line: ...". Images are decoded when read; a
// missing one is a BadSample.
class PathLabelDataset : public Dataset {
 public:
  PathLabelDataset(std::string label_file, std::string image_root, std::int64_t channels = 3,
                   std::int64_t classes = 0, std::vector<std::string> class_names = {});
  std::int64_t size() const override { return static_cast<std::int64_t>(paths_.size()); }
  Example get(std::int64_t index) const override;
  std::int64_t classes() const override { return classes_; }
  std::string describe() const override;
  std::string sample_name(std::int64_t index) const override { return path(index); }
  std::vector<std::string> class_names() const override { return class_names_; }

  std::string path(std::int64_t index) const;
  std::int64_t label(std::int64_t index) const {
    return labels_.at(static_cast<std::size_t>(index));
  }

 private:
  std::string label_file_;
  std::string image_root_;
  std::int64_t channels_;
  std::int64_t classes_ = 0;
  std::vector<std::string> class_names_;
  std::vector<std::string> paths_;  // relative to image_root_, without a leading '/'
  std::vector<std::int64_t> labels_;
};

// Equal-sized images held in memory (IDX and CIFAR files are read into one of these).
class MemoryDataset : public Dataset {
 public:
  // `pixels` holds size * height * width * channels bytes, each image HWC.
  MemoryDataset(std::int64_t height, std::int64_t width, std::int64_t channels,
                std::vector<std::uint8_t> pixels, std::vector<std::int64_t> labels,
                std::int64_t classes, std::string description, std::string name = "memory");
  std::int64_t size() const override { return static_cast<std::int64_t>(labels_.size()); }
  Example get(std::int64_t index) const override;
  std::int64_t classes() const override { return classes_; }
  std::string describe() const override { return description_; }
  std::string sample_name(std::int64_t index) const override;

 private:
  std::int64_t height_, width_, channels_;
  std::vector<std::uint8_t> pixels_;
  std::vector<std::int64_t> labels_;
  std::int64_t classes_;
  std::string description_;
  std::string name_;
};

// MNIST / Fashion-MNIST IDX files: an unsigned-byte image file (magic 0x00000803: count, rows,
// columns) and its label file (magic 0x00000801: count), gzipped or raw. A wrong magic number, a
// truncated body, or counts that differ between the two files is a UserError naming the file.
// `classes` 0 takes the largest label + 1; labels >= classes are an error.
std::shared_ptr<MemoryDataset> load_idx(const std::string& images_file,
                                        const std::string& labels_file, std::int64_t classes = 0);
// The IDX pair of a split under `root`: `prefix` "train" finds train-images-idx3-ubyte[.gz] and
// train-labels-idx1-ubyte[.gz] (also the train-images.idx3-ubyte spelling).
std::shared_ptr<MemoryDataset> load_idx_split(const std::string& root, const std::string& prefix,
                                              std::int64_t classes = 0);

// CIFAR binary batches: records of 1 label byte (CIFAR-10) or 2 (CIFAR-100: coarse, fine) and
// 3072 bytes of 32x32 planar RGB. A file whose size is not a whole number of records is a
// UserError.
enum class CifarLabels { Cifar10, Cifar100Fine, Cifar100Coarse };
std::shared_ptr<MemoryDataset> load_cifar(const std::vector<std::string>& files,
                                          CifarLabels labels);

}  // namespace crunet::data
