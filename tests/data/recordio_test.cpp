// MXNet RecordIO datasets. tests/fixtures/mxnet/small.rec and small.idx were written by MXNet
// 1.9.1's own recordio module (tools/mxnet_fixtures.py): five PNG records, record 2 with a
// two-label header whose second label is the record magic, so that MXNet split it into two
// parts; small_golden.safetensors holds the labels and the pixels MXNet decodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "crunet/core/safetensors.h"
#include "crunet/data.h"
#include "data_test_util.h"
#include "recordio_test_util.h"

namespace crunet::data {
namespace {

using testing::user_error;
using testing::contains;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;
using testing::write_text;
using testing::encode_record;
using testing::image_record;
using testing::magic_as_float;
using testing::put_u32;
using testing::u32_at;

const std::string kDir = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/";
const std::string kRec = kDir + "small.rec";
const std::string kIdx = kDir + "small.idx";

template <typename Body>
std::string bad_sample(Body body) {
  try {
    body();
  } catch (const BadSample& e) {
    return e.what();
  }
  return "";
}

// The fixture with one change, written to `folder` as small.rec / small.idx.
struct DamagedCopy {
  std::string rec, idx;
};
DamagedCopy copy_fixture(const TempDir& folder, const std::vector<std::uint8_t>& rec_bytes) {
  DamagedCopy copy{folder / "small.rec", folder / "small.idx"};
  write_bytes(copy.rec, rec_bytes);
  write_bytes(copy.idx, read_bytes(kIdx));
  return copy;
}

std::vector<std::string> loader_bad_samples(std::shared_ptr<const Dataset> dataset, bool train,
                                            std::int64_t* delivered = nullptr) {
  LoaderOptions options;
  options.batch_size = 2;
  options.shuffle = false;
  options.drop_last = false;
  options.workers = 2;
  options.max_bad_fraction = 1.0;
  options.skip_bad = !train;
  EvalTransformParams crop;
  crop.resize = 8;
  crop.size = 8;
  DataLoader loader(dataset, std::make_shared<EvalTransform>(crop, Normalization{}, 3), options);
  loader.start_epoch(0);
  Batch batch;
  std::int64_t samples = 0;
  while (loader.next(batch)) samples += static_cast<std::int64_t>(batch.indices.size());
  if (delivered != nullptr) *delivered = samples;
  return loader.bad_samples();
}

TEST(RecordIO, MxnetFixtureReadsBackLabelsAndPixels) {
  REQUIRE_IMAGE_FILES();
  const SafetensorsFile golden = load_safetensors(kDir + "small_golden.safetensors");
  const std::vector<std::int64_t> labels = golden.at("labels").to_int64_vector();
  RecordIODataset dataset(kRec, kIdx);
  ASSERT_EQ(dataset.size(), static_cast<std::int64_t>(labels.size()));
  EXPECT_EQ(dataset.classes(), 3);  // labels 0, 1, 2, 0, 1
  for (std::int64_t i = 0; i < dataset.size(); ++i) {
    const Example example = dataset.get(i);
    const Tensor& want = golden.at("image" + std::to_string(i));
    EXPECT_EQ(example.label, labels[static_cast<std::size_t>(i)]) << "record " << i;
    ASSERT_EQ(want.shape(), (Shape{example.image.height, example.image.width, 3}))
        << "record " << i;
    const std::vector<float> pixels = want.to_vector();
    EXPECT_EQ(std::vector<float>(example.image.pixels.begin(), example.image.pixels.end()), pixels)
        << "record " << i;
    EXPECT_EQ(dataset.sample_name(i), kRec + "[" + std::to_string(i) + "]");
  }
  // Gray decodes the same records to one channel.
  RecordIODataset gray(kRec, kIdx, 1, 3);
  EXPECT_EQ(gray.get(1).image.channels, 1);
  EXPECT_EQ(gray.get(1).image.height, golden.at("image1").shape()[0]);
}

TEST(RecordIO, MultiPartRecordWithMultiLabelHeader) {
  // The fixture's record 2 really is in two parts: MXNet wrote cflag 1, then cflag 3.
  const std::vector<std::uint8_t> bytes = read_bytes(kRec);
  const RecordIODataset dataset(kRec, kIdx, 3, 3);
  const std::size_t offset = static_cast<std::size_t>(dataset.index()[2].offset);
  ASSERT_EQ(u32_at(bytes, offset), kRecordMagic);
  EXPECT_EQ(u32_at(bytes, offset + 4) >> 29, 1u);
  const std::size_t second = offset + 8 + (u32_at(bytes, offset + 4) & ((1u << 29) - 1));
  EXPECT_EQ(u32_at(bytes, second + 4) >> 29, 3u);

  const ImageRecord record = dataset.record(2);
  EXPECT_EQ(record.flag, 2u);
  ASSERT_EQ(record.labels.size(), 2u);
  EXPECT_EQ(record.labels[0], 2.0f);
  std::uint32_t bits = 0;
  std::memcpy(&bits, &record.labels[1], sizeof(bits));
  EXPECT_EQ(bits, kRecordMagic);  // the magic was put back between the parts
  EXPECT_EQ(record.id, 2u);
  // The image follows the two labels: a PNG signature.
  ASSERT_GE(record.image.size(), 8u);
  EXPECT_EQ(record.image[1], 'P');
  EXPECT_EQ(record.image[2], 'N');
  EXPECT_EQ(record.image[3], 'G');
  // A single-label record: the header's label, the image right after the 24 bytes.
  const ImageRecord single = dataset.record(1);
  EXPECT_EQ(single.flag, 0u);
  EXPECT_EQ(single.labels, std::vector<float>{1.0f});
  EXPECT_EQ(single.image[1], 'P');
}

TEST(RecordIO, RecordsOfThreePartsAndAnEmptyFirstPart) {
  // Two magic words in the labels give a first, a middle and a last part; a record that begins
  // with the magic (flag 0xced7230a is absurd, but the bytes are what matters) has an empty
  // first part.
  const std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', 1, 2, 3};
  const float m = magic_as_float();
  const std::vector<std::uint8_t> three = image_record({1.0f, m, m, 4.0f}, 7, png);
  std::vector<std::uint8_t> magic_first;
  put_u32(magic_first, kRecordMagic);
  magic_first.insert(magic_first.end(), png.begin(), png.end());
  std::vector<std::uint8_t> file = encode_record(three);
  const std::int64_t second_offset = static_cast<std::int64_t>(file.size());
  const std::vector<std::uint8_t> encoded_second = encode_record(magic_first);
  file.insert(file.end(), encoded_second.begin(), encoded_second.end());
  ASSERT_EQ(u32_at(file, 4) >> 29, 1u);
  ASSERT_EQ(u32_at(file, second_offset + 4), 1u << 29);  // cflag 1, length 0

  const ReadAt read = [&file](std::int64_t offset, std::int64_t count, std::uint8_t* out) {
    const std::int64_t n =
        std::min<std::int64_t>(count, static_cast<std::int64_t>(file.size()) - offset);
    std::memcpy(out, file.data() + offset, static_cast<std::size_t>(n));
    return n;
  };
  const std::int64_t size = static_cast<std::int64_t>(file.size());
  const RecordBytes first = read_record(read, size, 0, "mem[0]");
  EXPECT_EQ(first.bytes, three);
  EXPECT_EQ(first.end, second_offset);
  const ImageRecord parsed = parse_image_record(first.bytes, "mem[0]");
  ASSERT_EQ(parsed.labels.size(), 4u);
  EXPECT_EQ(parsed.labels[0], 1.0f);
  EXPECT_EQ(parsed.labels[3], 4.0f);
  EXPECT_EQ(parsed.id, 7u);
  EXPECT_EQ(parsed.image, png);
  const RecordBytes second = read_record(read, size, second_offset, "mem[1]");
  EXPECT_EQ(second.bytes, magic_first);
  EXPECT_EQ(second.end, size);
  // A header-only read stops early and keeps the first label.
  const RecordBytes head = read_record(read, size, 0, "mem[0]", 28);
  EXPECT_EQ(head.bytes.size(), 28u);
  const ImageRecord header = parse_image_record(head.bytes, "mem[0]", true);
  EXPECT_EQ(header.labels, std::vector<float>{1.0f});
  EXPECT_TRUE(header.image.empty());
  EXPECT_EQ(record_class(header, 0, "mem[0]"), 1);
}

TEST(RecordIO, TruncatedCopiesAreBadSamplesThatTheLoaderSkipsAndCounts) {
  REQUIRE_IMAGE_FILES();
  TempDir folder;
  const std::vector<std::uint8_t> original = read_bytes(kRec);
  const RecordIODataset reference(kRec, kIdx, 3, 3);
  // Cut inside record 3: record 3 runs past the end, record 4 starts past it.
  const std::int64_t cut = reference.index()[3].offset + 40;
  const DamagedCopy copy =
      copy_fixture(folder, std::vector<std::uint8_t>(original.begin(), original.begin() + cut));
  auto dataset = std::make_shared<RecordIODataset>(copy.rec, copy.idx, 3, 3);
  EXPECT_TRUE(contains(bad_sample([&] { dataset->get(3); }), "truncated"));
  EXPECT_TRUE(contains(bad_sample([&] { dataset->get(4); }), "past the end of the file"));
  EXPECT_EQ(dataset->get(1).label, 1);  // the records before the cut still read

  std::int64_t delivered = 0;
  const std::vector<std::string> bad = loader_bad_samples(dataset, false, &delivered);
  EXPECT_EQ(bad, (std::vector<std::string>{copy.rec + "[3]", copy.rec + "[4]"}));
  EXPECT_EQ(delivered, 3);
  // Training: the loader substitutes readable records and still counts the bad ones.
  EXPECT_EQ(loader_bad_samples(dataset, true, &delivered).size(), 2u);
  EXPECT_EQ(delivered, 5);

  // Counting classes from the headers works around unreadable records.
  const RecordIODataset counted(copy.rec, copy.idx);
  EXPECT_EQ(counted.classes(), 3);  // the labels 0, 1, 2 of records 0-2

  // Cut inside the header of part 2 of the multi-part record 2.
  const std::int64_t part_two = reference.index()[2].offset + 8 + 28 + 2;
  const DamagedCopy mid = copy_fixture(
      folder, std::vector<std::uint8_t>(original.begin(), original.begin() + part_two));
  const RecordIODataset cut_multi(mid.rec, mid.idx, 3, 3);
  EXPECT_TRUE(contains(bad_sample([&] { cut_multi.get(2); }), "truncated: the part header"));
}

TEST(RecordIO, CorruptedCopiesAreBadSamplesThatTheLoaderSkipsAndCounts) {
  REQUIRE_IMAGE_FILES();
  TempDir folder;
  const std::vector<std::uint8_t> original = read_bytes(kRec);
  const RecordIODataset reference(kRec, kIdx, 3, 3);
  auto at = [&](std::int64_t record, std::int64_t byte) {
    return static_cast<std::size_t>(reference.index()[static_cast<std::size_t>(record)].offset +
                                    byte);
  };
  std::vector<std::uint8_t> bytes = original;
  bytes[at(0, 0)] ^= 0xff;            // record 0: its magic
  bytes[at(1, 7)] = 0x1f;             // record 1: a part length of ~500 MB
  bytes[at(3, 8 + 0)] = 0xff;         // record 3: flag 255 labels, more than it holds
  bytes[at(4, 8 + 24 + 20)] ^= 0xff;  // record 4: the PNG's header chunk
  const DamagedCopy copy = copy_fixture(folder, bytes);
  auto dataset = std::make_shared<RecordIODataset>(copy.rec, copy.idx, 3, 3);
  EXPECT_TRUE(contains(bad_sample([&] { dataset->get(0); }), "no record magic at byte 0"));
  EXPECT_TRUE(contains(bad_sample([&] { dataset->get(1); }), "truncated"));
  EXPECT_TRUE(contains(bad_sample([&] { dataset->get(3); }), "announces 255 labels"));
  EXPECT_FALSE(bad_sample([&] { dataset->get(4); }).empty());
  EXPECT_EQ(dataset->get(2).label, 2);

  std::int64_t delivered = 0;
  const std::vector<std::string> bad = loader_bad_samples(dataset, false, &delivered);
  EXPECT_EQ(bad, (std::vector<std::string>{copy.rec + "[0]", copy.rec + "[1]", copy.rec + "[3]",
                                           copy.rec + "[4]"}));
  EXPECT_EQ(delivered, 1);

  // An .idx offset that points into the middle of a record; a label out of range.
  TempDir other;
  const DamagedCopy shifted = copy_fixture(other, original);
  write_text(shifted.idx, "0\t0\n1\t444\n");
  const RecordIODataset off(shifted.rec, shifted.idx, 3, 2);
  EXPECT_TRUE(contains(bad_sample([&] { off.get(1); }), "does not point at a record"));
  const RecordIODataset two_classes(kRec, kIdx, 3, 2);
  EXPECT_TRUE(contains(bad_sample([&] { two_classes.get(2); }), "out of range for 2 classes"));
}

TEST(RecordIO, BadIndexLinesAreUserErrorsNamingFileAndLine) {
  TempDir folder;
  const std::string idx = folder / "bad.idx";
  const auto error_for = [&](const std::string& text) {
    write_text(idx, text);
    return user_error([&] { RecordIODataset(kRec, idx, 3, 3); });
  };
  EXPECT_TRUE(contains(error_for("0\t0\n1\tx\n"), idx + ":2: expected 'key<TAB>offset'"));
  EXPECT_TRUE(contains(error_for("0\t0\n\n1 436\n"), idx + ":3: expected"));
  EXPECT_TRUE(contains(error_for("0\t0\t5\n"), idx + ":1: expected"));
  EXPECT_TRUE(contains(error_for("0\t-4\n"), idx + ":1: the offset -4 is negative"));
  EXPECT_TRUE(contains(error_for("0\t0\n0\t436\n"), idx + ":2: the key 0 appears twice"));
  EXPECT_TRUE(contains(error_for("\n\n"), idx + ": the index file has no records"));
  // (A dataset whose .idx is missing scans the .rec instead: recordio_scan_test.cpp.)
  EXPECT_TRUE(contains(user_error([&] { read_record_index(folder / "none.idx"); }),
                       "none.idx: no such index file"));
  EXPECT_TRUE(contains(user_error([&] { RecordIODataset(folder / "none.rec", kIdx); }),
                       "none.rec: cannot open the RecordIO file"));
  // Windows line ends and spaces around the numbers are fine.
  write_text(idx, "0 \t 0\r\n1\t436\r\n");
  EXPECT_EQ(RecordIODataset(kRec, idx, 3, 3).size(), 2);
}

TEST(RecordIO, ConfigFormatRecordioFindsTheIdxBesideTheRec) {
  TempDir folder;
  const std::string yaml = folder / "run.yaml";
  write_text(yaml, "data:\n  format: recordio\n  root: " + kDir +
                       "\n  train: small.rec\n  val: [small.rec, small.idx]\n  classes: 3\n");
  const DataConfig config = load_data_config(yaml);
  const auto train = make_dataset(config, "train");
  EXPECT_EQ(train->size(), 5);
  EXPECT_EQ(train->classes(), 3);
  EXPECT_TRUE(contains(train->describe(), "RecordIO file"));
  EXPECT_EQ(make_dataset(config, "val")->size(), 5);

  write_text(yaml, "data:\n  format: recordio\n  root: " + folder.path() + "\n");
  EXPECT_TRUE(contains(user_error([&] { make_dataset(load_data_config(yaml), "train"); }),
                       "train.rec: cannot open the RecordIO file"));
  write_text(yaml, "data:\n  format: recordio\n  root: /x\n  train: [a.rec, a.idx, b]\n");
  EXPECT_TRUE(contains(user_error([&] { load_data_config(yaml); }),
                       "takes a .rec file or a [rec, idx] pair, not 3"));
  // A bad .idx line through the config names the config and the .idx line.
  write_bytes(folder / "train.rec", read_bytes(kRec));
  write_text(folder / "train.idx", "0\t0\nfive\t436\n");
  write_text(yaml, "data:\n  format: recordio\n  root: " + folder.path() + "\n");
  const std::string message = user_error([&] { make_dataset(load_data_config(yaml), "train"); });
  EXPECT_TRUE(contains(message, yaml + ":3: data.root"));
  EXPECT_TRUE(contains(message, "train.idx:2: expected 'key<TAB>offset'"));
}

TEST(RecordIO, RanksShareTheRecordsThroughTheLoader) {
  REQUIRE_IMAGE_FILES();
  auto dataset = std::make_shared<RecordIODataset>(kRec, kIdx, 3, 3);
  std::vector<std::int64_t> seen;
  for (const testing::SampleRead& read : testing::read_as_ranks(dataset, 2, 8)) {
    EXPECT_EQ(read.index % 2, read.rank);
    EXPECT_EQ(read.label, read.index % 3);  // the fixture's labels are i % 3
    seen.push_back(read.index);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace crunet::data
