// The datasets: image folders and list files (written with write_image into temporary folders),
// IDX and CIFAR files (written byte by byte), and every bad input the issue names.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "crunet/data.h"
#include "data_test_util.h"

namespace crunet::data {
namespace {

using testing::user_error;
using testing::contains;
using testing::pattern_image;
using testing::read_bytes;
using testing::save;
using testing::TempDir;
using testing::write_bytes;
using testing::write_text;

// --- image folders
// --------------------------------------------------------------------------------

TEST(ImageFolder, SortedClassesLabelsAndDecoding) {
  REQUIRE_IMAGE_FILES();
  TempDir dir;
  const Image a = pattern_image(12, 10, 3, 1), b = pattern_image(9, 14, 3, 2);
  save(dir / "dog/e.PNG", pattern_image(8, 8, 3, 5));
  save(dir / "dog/d.png", pattern_image(8, 8, 3, 4));
  save(dir / "ant/b.jpg", b);
  save(dir / "ant/a.png", a);
  save(dir / "cat/sub/c.png", pattern_image(8, 8, 3, 3));    // nested folders count for their class
  write_text(dir / "dog/notes.txt", "not an image");         // left out (with one warning)
  save(dir / "dog/.hidden.png", pattern_image(8, 8, 3, 6));  // hidden: left out
  const ImageFolderDataset dataset(dir.path());
  EXPECT_EQ(dataset.class_names(), (std::vector<std::string>{"ant", "cat", "dog"}));
  ASSERT_EQ(dataset.size(), 5);
  EXPECT_EQ(dataset.classes(), 3);
  EXPECT_EQ(dataset.describe(), "image folder " + dir.path() + " (3 classes, 5 images)");
  const std::vector<std::string> files = {"ant/a.png", "ant/b.jpg", "cat/sub/c.png", "dog/d.png",
                                          "dog/e.PNG"};
  const std::vector<std::int64_t> labels = {0, 0, 1, 2, 2};
  for (std::int64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(dataset.path(i), dir / files[static_cast<std::size_t>(i)]);
    EXPECT_EQ(dataset.label(i), labels[static_cast<std::size_t>(i)]);
    EXPECT_EQ(dataset.get(i).label, labels[static_cast<std::size_t>(i)]);
  }
  // PNG is lossless: the very pixels, in RGB order.
  const Example first = dataset.get(0);
  EXPECT_EQ(first.image.height, 12);
  EXPECT_EQ(first.image.width, 10);
  EXPECT_EQ(first.image.channels, 3);
  EXPECT_EQ(first.image.pixels, a.pixels);
  // JPEG is close.
  const Image jpeg = dataset.get(1).image;
  ASSERT_EQ(jpeg.pixels.size(), b.pixels.size());
  double error = 0;
  for (std::size_t i = 0; i < b.pixels.size(); ++i) error += std::abs(jpeg.pixels[i] - b.pixels[i]);
  EXPECT_LT(error / b.pixels.size(), 6.0);
  // channels 1 decodes to gray (libpng's own conversion: within one unit of OpenCV's luma).
  const ImageFolderDataset gray(dir.path(), 1);
  const Image g = gray.get(0).image;
  EXPECT_EQ(g.channels, 1);
  const Image luma = convert_channels(a, 1);
  ASSERT_EQ(g.pixels.size(), luma.pixels.size());
  for (std::size_t i = 0; i < luma.pixels.size(); ++i) EXPECT_NEAR(g.pixels[i], luma.pixels[i], 1);
}

TEST(ImageFolder, ValidationFolderUsesTheTrainingClasses) {
  TempDir dir;  // listing a folder reads no image: any bytes will do
  write_text(dir / "val/cat/x.png", "x");
  write_text(dir / "val/dog/y.png", "y");
  // The training set has a class (ant) that the validation folder lacks: labels must not shift.
  const ImageFolderDataset val(dir / "val", 3, {"ant", "cat", "dog"});
  EXPECT_EQ(val.classes(), 3);
  EXPECT_EQ(val.label(0), 1);
  EXPECT_EQ(val.label(1), 2);
  write_text(dir / "val/eel/z.png", "z");
  EXPECT_TRUE(contains(user_error([&] {
                         ImageFolderDataset(dir / "val", 3, {"ant", "cat", "dog"});
                       }),
                       "class folder 'eel' is not one of the 3 classes"));
}

TEST(ImageFolder, BadInputsAreClearUserErrors) {
  TempDir dir;
  EXPECT_TRUE(contains(user_error([&] { ImageFolderDataset(dir / "missing"); }),
                       dir / "missing" + ": no such directory"));
  write_text(dir / "file", "x");
  EXPECT_TRUE(contains(user_error([&] { ImageFolderDataset(dir / "file"); }), "not a directory"));
  std::filesystem::create_directories(dir / "empty");
  EXPECT_TRUE(
      contains(user_error([&] { ImageFolderDataset(dir / "empty"); }), "no class sub-folders"));
  write_text(dir / "textonly/cls/readme.txt", "x");
  EXPECT_TRUE(contains(user_error([&] { ImageFolderDataset(dir / "textonly"); }),
                       "class folder 'cls' has no images"));
  EXPECT_THROW(ImageFolderDataset(dir.path(), 2), ValueError);
}

TEST(ImageFolder, UnreadableFilesAreBadSamplesNamingThem) {
  REQUIRE_IMAGE_FILES();
  TempDir dir;
  save(dir / "c/good.jpg", pattern_image(32, 32, 3));
  const std::vector<std::uint8_t> jpeg = read_bytes(dir / "c/good.jpg");
  write_bytes(dir / "c/truncated.jpg",
              std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  write_text(dir / "c/text.jpg", "this is not a JPEG at all");
  write_bytes(dir / "c/empty.png", {});
  const ImageFolderDataset dataset(dir.path());
  ASSERT_EQ(dataset.size(), 4);  // empty.png, good.jpg, text.jpg, truncated.jpg
  EXPECT_NO_THROW(dataset.get(1));
  for (std::int64_t i : {0, 2, 3}) {
    try {
      dataset.get(i);
      ADD_FAILURE() << dataset.path(i) << " was read";
    } catch (const BadSample& e) {
      EXPECT_EQ(e.path(), dataset.path(i));
      EXPECT_TRUE(contains(e.what(), dataset.path(i)));
    }
  }
  EXPECT_THROW(read_image(dir / "c/none.png", 3), BadSample);
}

TEST(ImageFiles, WithoutOpenCvReadingIsNotImplementedNamingTheFile) {
  if (image_files_supported()) GTEST_SKIP() << "this build has OpenCV";
  try {
    read_image("/some/where/x.png", 3);
    FAIL();
  } catch (const NotImplementedError& e) {
    EXPECT_TRUE(contains(e.what(), "/some/where/x.png"));
  }
}

// --- list files
// -----------------------------------------------------------------------------------

TEST(ListFile, ReadsIndexLabelPathLines) {
  TempDir dir;
  write_text(dir / "train.lst",
             "0\t2\timages/a.png\n"
             "\n"
             "7\t0.000000\timages/b.png\r\n"
             "3\t5.0\t" +
                 (dir / "abs.png") + "\n");
  const ListFileDataset list(dir / "train.lst", dir.path());
  ASSERT_EQ(list.size(), 3);
  EXPECT_EQ(list.classes(), 6);
  EXPECT_EQ(list.label(0), 2);
  EXPECT_EQ(list.label(1), 0);
  EXPECT_EQ(list.label(2), 5);
  EXPECT_EQ(list.list_indices(), (std::vector<std::int64_t>{0, 7, 3}));
  EXPECT_EQ(list.path(0), dir.path() + "/images/a.png");
  EXPECT_EQ(list.path(2), dir / "abs.png");
  EXPECT_EQ(ListFileDataset(dir / "train.lst", dir.path(), 3, 10).classes(), 10);
  if (image_files_supported()) {
    save(dir / "images/a.png", pattern_image(5, 6, 3));
    const Example example = list.get(0);
    EXPECT_EQ(example.label, 2);
    EXPECT_EQ(example.image.pixels, pattern_image(5, 6, 3).pixels);
    EXPECT_THROW(list.get(1), BadSample);  // images/b.png does not exist
  }
}

TEST(ListFile, BadLinesAreReportedWithTheirLineNumber) {
  TempDir dir;
  const std::string file = dir / "bad.lst";
  const std::string good = "0\t1\ta.png\n1\t0\tb.png\n";
  const struct {
    std::string line;
    std::string message;
  } cases[] = {
      {"2 1 c.png", "expected 'index<TAB>label<TAB>path'"},
      {"2\t1", "expected 'index<TAB>label<TAB>path'"},
      {"x\t1\tc.png", "the index 'x' is not an integer"},
      {"2\tcat\tc.png", "the label 'cat' is not an integer"},
      {"2\t1.5\tc.png", "the label '1.5' is not an integer"},
      {"2\t-1\tc.png", "is negative"},
      {"2\t1\t\t", "label columns"},
      {"2\t1\t", "the path is empty"},
      {"2\t0\t1\tc.png", "has 2 label columns"},
      {"2\t9223372036854775807\tc.png", "is too large"},  // found by fuzz_list_file's seeds
      {"2\t99999999999999999999\tc.png", "is not an integer"},
  };
  for (const auto& c : cases) {
    write_text(file, good + c.line + "\n");
    const std::string message = user_error([&] { ListFileDataset(file, dir.path()); });
    EXPECT_TRUE(contains(message, file + ":3: ")) << c.line << " -> " << message;
    EXPECT_TRUE(contains(message, c.message)) << c.line << " -> " << message;
  }
  write_text(file, good + "2\t12\tc.png\n");
  EXPECT_TRUE(contains(user_error([&] { ListFileDataset(file, dir.path(), 3, 10); }),
                       file + ":3: the label 12 is out of range for 10 classes"));
  write_text(file, "\n\n");
  EXPECT_TRUE(contains(user_error([&] { ListFileDataset(file, dir.path()); }), "has no samples"));
  EXPECT_TRUE(contains(user_error([&] { ListFileDataset(dir / "none.lst", dir.path()); }),
                       "no such list file"));
  write_text(file, good);
  EXPECT_TRUE(
      contains(user_error([&] { ListFileDataset(file, dir / "nowhere"); }), "no such directory"));
}

// --- IDX
// ------------------------------------------------------------------------------------------

std::vector<std::uint8_t> be32(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

std::vector<std::uint8_t> idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  std::vector<std::uint8_t> out = be32(0x00000803);
  for (std::uint32_t d : {count, rows, cols}) {
    const auto bytes = be32(d);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  for (std::uint32_t i = 0; i < count * rows * cols; ++i)
    out.push_back(static_cast<std::uint8_t>(i * 7));
  return out;
}

std::vector<std::uint8_t> idx_labels(const std::vector<std::uint8_t>& labels) {
  std::vector<std::uint8_t> out = be32(0x00000801);
  const auto count = be32(static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), count.begin(), count.end());
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

// A gzip file of stored (uncompressed) deflate blocks, written by hand: no zlib in the tests.
std::vector<std::uint8_t> gzip_stored(const std::vector<std::uint8_t>& data) {
  std::uint32_t table[256];
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::uint8_t byte : data) crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  crc ^= 0xFFFFFFFFu;
  std::vector<std::uint8_t> out = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF};
  std::size_t offset = 0;
  do {
    const std::size_t length = std::min<std::size_t>(65535, data.size() - offset);
    const bool last = offset + length == data.size();
    out.push_back(last ? 1 : 0);
    out.push_back(static_cast<std::uint8_t>(length));
    out.push_back(static_cast<std::uint8_t>(length >> 8));
    out.push_back(static_cast<std::uint8_t>(~length));
    out.push_back(static_cast<std::uint8_t>(~length >> 8));
    out.insert(out.end(), data.begin() + offset, data.begin() + offset + length);
    offset += length;
  } while (offset < data.size());
  for (std::uint32_t v : {crc, static_cast<std::uint32_t>(data.size())}) {
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
  }
  return out;
}

TEST(Idx, ReadsRawAndGzippedFiles) {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte.gz", gzip_stored(idx_images(3, 2, 4)));
  write_bytes(dir / "train-labels-idx1-ubyte.gz", gzip_stored(idx_labels({1, 0, 2})));
  write_bytes(dir / "t10k-images.idx3-ubyte", idx_images(2, 2, 4));  // the other spelling, raw
  write_bytes(dir / "t10k-labels.idx1-ubyte", idx_labels({4, 4}));
  const auto train = load_idx_split(dir.path(), "train");
  ASSERT_EQ(train->size(), 3);
  EXPECT_EQ(train->classes(), 3);
  const Example second = train->get(1);
  EXPECT_EQ(second.label, 0);
  EXPECT_EQ(second.image.height, 2);
  EXPECT_EQ(second.image.width, 4);
  EXPECT_EQ(second.image.channels, 1);
  std::vector<std::uint8_t> expected;
  for (int i = 8; i < 16; ++i) expected.push_back(static_cast<std::uint8_t>(i * 7));
  EXPECT_EQ(second.image.pixels, expected);
  EXPECT_TRUE(contains(train->describe(), "IDX " + (dir / "train-images-idx3-ubyte.gz")));
  EXPECT_EQ(train->sample_name(2), (dir / "train-images-idx3-ubyte.gz") + "[2]");
  const auto test = load_idx_split(dir.path(), "t10k", 10);
  EXPECT_EQ(test->size(), 2);
  EXPECT_EQ(test->classes(), 10);
  EXPECT_THROW(train->get(3), ValueError);
}

TEST(Idx, BadFilesAreClearUserErrors) {
  TempDir dir;
  const std::string images = dir / "i", labels = dir / "l";
  write_bytes(labels, idx_labels({1, 0, 2}));
  std::vector<std::uint8_t> bytes = idx_images(3, 2, 4);
  bytes[3] = 0x01;  // magic 0x00000801: a label file given as images
  write_bytes(images, bytes);
  EXPECT_TRUE(contains(
      user_error([&] { load_idx(images, labels); }),
      images + ": wrong magic number 0x00000801 for an IDX image file (expected 0x00000803)"));
  bytes = idx_images(3, 2, 4);
  bytes.resize(bytes.size() - 5);  // truncated body
  write_bytes(images, bytes);
  EXPECT_TRUE(contains(
      user_error([&] { load_idx(images, labels); }),
      images + ": truncated IDX file: the header announces 24 bytes of data, the file has 19"));
  write_bytes(images, gzip_stored(idx_images(3, 2, 4)));
  const std::vector<std::uint8_t> gz = read_bytes(images);
  write_bytes(images, std::vector<std::uint8_t>(gz.begin(), gz.begin() + 30));  // truncated gzip
  EXPECT_TRUE(contains(user_error([&] { load_idx(images, labels); }), images + ": "));
  write_bytes(images, idx_images(4, 2, 4));
  EXPECT_TRUE(contains(user_error([&] { load_idx(images, labels); }), "has 4 images but"));
  write_bytes(images, idx_images(3, 2, 4));
  EXPECT_TRUE(
      contains(user_error([&] { load_idx(images, labels, 2); }), "out of range for 2 classes"));
  write_bytes(images, {0, 0});
  EXPECT_TRUE(contains(user_error([&] { load_idx(images, labels); }), "too short"));
  EXPECT_TRUE(contains(user_error([&] { load_idx(dir / "none", labels); }), "no such file"));
  EXPECT_TRUE(
      contains(user_error([&] { load_idx_split(dir / "nowhere", "train"); }), "no such directory"));
  EXPECT_TRUE(contains(user_error([&] { load_idx_split(dir.path(), "train"); }), "no images file"));
}

TEST(Idx, FashionMnistFromTheDebianPackage) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  const auto train = load_idx_split(root, "train");
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(train->classes(), 10);
  const Example first = train->get(0);
  EXPECT_EQ(first.image.height, 28);
  EXPECT_EQ(first.image.width, 28);
  EXPECT_EQ(first.label, 9);  // the first training image is an ankle boot
  EXPECT_EQ(load_idx_split(root, "t10k")->size(), 10000);
}

// --- CIFAR
// ----------------------------------------------------------------------------------------

std::vector<std::uint8_t> cifar_record(std::vector<std::uint8_t> labels, std::uint8_t base) {
  for (int p = 0; p < 3072; ++p)
    labels.push_back(static_cast<std::uint8_t>(base + p / 1024 * 10 + p % 1024 % 7));
  return labels;
}

TEST(Cifar, ReadsRecordsIntoHwcRgb) {
  TempDir dir;
  std::vector<std::uint8_t> bytes = cifar_record({3}, 0);
  const std::vector<std::uint8_t> second = cifar_record({9}, 100);
  bytes.insert(bytes.end(), second.begin(), second.end());
  write_bytes(dir / "data_batch_1.bin", bytes);
  write_bytes(dir / "data_batch_2.bin", cifar_record({0}, 50));
  const auto cifar =
      load_cifar({dir / "data_batch_1.bin", dir / "data_batch_2.bin"}, CifarLabels::Cifar10);
  ASSERT_EQ(cifar->size(), 3);
  EXPECT_EQ(cifar->classes(), 10);
  const Example e = cifar->get(1);
  EXPECT_EQ(e.label, 9);
  ASSERT_EQ(e.image.channels, 3);
  ASSERT_EQ(e.image.height, 32);
  // Pixel p: R = base + p % 7, G = base + 10 + p % 7, B = base + 20 + p % 7.
  const std::uint8_t* pixel = e.image.at(1, 3);  // p = 35
  EXPECT_EQ(pixel[0], 100 + 0);
  EXPECT_EQ(pixel[1], 110 + 0);
  EXPECT_EQ(pixel[2], 120 + 0);
  EXPECT_EQ(e.image.at(0, 1)[2], 121);
  EXPECT_EQ(cifar->get(2).label, 0);
  EXPECT_TRUE(contains(cifar->describe(), "CIFAR-10 " + (dir / "data_batch_1.bin") + " + 1 more"));

  write_bytes(dir / "train.bin", cifar_record({4, 77}, 0));
  EXPECT_EQ(load_cifar({dir / "train.bin"}, CifarLabels::Cifar100Fine)->get(0).label, 77);
  EXPECT_EQ(load_cifar({dir / "train.bin"}, CifarLabels::Cifar100Coarse)->get(0).label, 4);
  EXPECT_EQ(load_cifar({dir / "train.bin"}, CifarLabels::Cifar100Fine)->classes(), 100);
}

TEST(Cifar, BadFilesAreClearUserErrors) {
  TempDir dir;
  std::vector<std::uint8_t> bytes = cifar_record({3}, 0);
  bytes.pop_back();
  write_bytes(dir / "short.bin", bytes);
  EXPECT_TRUE(contains(user_error([&] { load_cifar({dir / "short.bin"}, CifarLabels::Cifar10); }),
                       "3072 bytes is not a whole number of CIFAR-10 records of 3073 bytes"));
  write_bytes(dir / "label.bin", cifar_record({12}, 0));
  EXPECT_TRUE(contains(user_error([&] { load_cifar({dir / "label.bin"}, CifarLabels::Cifar10); }),
                       "has label 12, out of range for 10 classes"));
  EXPECT_TRUE(contains(user_error([&] { load_cifar({dir / "none.bin"}, CifarLabels::Cifar10); }),
                       "no such file"));
}

}  // namespace
}  // namespace crunet::data
