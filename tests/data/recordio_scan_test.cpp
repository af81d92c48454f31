// A RecordIO .rec without its .idx: the index comes from one scan of the part headers, which must
// find the offsets an .idx holds (MXNet's own fixture included), pass over corrupt regions and
// count them, and refuse a file that is not RecordIO at all, naming it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "crunet/data.h"
#include "data_test_util.h"
#include "recordio_test_util.h"

namespace crunet::data {
namespace {

using testing::user_error;
using testing::contains;
using testing::encode_record;
using testing::image_record;
using testing::magic_as_float;
using testing::pattern_image;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;
using testing::write_text;

const std::string kDir = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/";

ReadAt memory_reader(const std::vector<std::uint8_t>& file) {
  return [&file](std::int64_t offset, std::int64_t count, std::uint8_t* out) {
    const std::int64_t n = std::max<std::int64_t>(
        0, std::min<std::int64_t>(count, static_cast<std::int64_t>(file.size()) - offset));
    if (n > 0) std::memcpy(out, file.data() + offset, static_cast<std::size_t>(n));
    return n;
  };
}

// Records laid end to end, and where each begins.
struct RecFile {
  std::vector<std::uint8_t> bytes;
  std::vector<std::int64_t> offsets;
};

void append(RecFile& file, const std::vector<std::uint8_t>& record) {
  file.offsets.push_back(static_cast<std::int64_t>(file.bytes.size()));
  const std::vector<std::uint8_t> encoded = encode_record(record);
  file.bytes.insert(file.bytes.end(), encoded.begin(), encoded.end());
}

// Six records with payloads of assorted lengths (so that padding varies); record 2 has two magic
// words in its labels, so the writer split it into three parts.
RecFile framing_file() {
  RecFile file;
  const float m = magic_as_float();
  for (int i = 0; i < 6; ++i) {
    const std::vector<std::uint8_t> payload(static_cast<std::size_t>(5 + 7 * i),
                                            static_cast<std::uint8_t>(i + 1));
    append(file, image_record(i == 2 ? std::vector<float>{2.0f, m, m, 9.0f}
                                     : std::vector<float>{static_cast<float>(i % 3)},
                              static_cast<std::uint64_t>(i), payload));
  }
  return file;
}

std::vector<std::int64_t> offsets_of(const RecordScan& scan) {
  std::vector<std::int64_t> offsets;
  for (const RecordIndexEntry& entry : scan.entries) offsets.push_back(entry.offset);
  return offsets;
}

std::vector<std::int64_t> without(std::vector<std::int64_t> values, std::size_t at) {
  values.erase(values.begin() + static_cast<std::ptrdiff_t>(at));
  return values;
}

// Seven PNG records of pattern images, labels i % 3, record 2 in three parts, written to
// folder/gen.rec with its .idx (offsets known from the writing) at folder/gen.idx.
RecFile write_image_rec(const TempDir& folder) {
  RecFile file;
  const float m = magic_as_float();
  for (int i = 0; i < 7; ++i) {
    const std::string png = folder / "image.png";
    write_image(png, pattern_image(6 + i, 5, 3, i));
    const std::vector<float> labels = i == 2 ? std::vector<float>{2.0f, m, m, 9.0f}
                                             : std::vector<float>{static_cast<float>(i % 3)};
    append(file, image_record(labels, static_cast<std::uint64_t>(i), read_bytes(png)));
  }
  write_bytes(folder / "gen.rec", file.bytes);
  std::vector<RecordIndexEntry> entries;
  for (std::size_t i = 0; i < file.offsets.size(); ++i) {
    entries.push_back({static_cast<std::int64_t>(i), file.offsets[i]});
  }
  write_record_index(folder / "gen.idx", entries);
  return file;
}

void expect_same_example(const Example& got, const Example& want, const std::string& what) {
  EXPECT_EQ(got.label, want.label) << what;
  EXPECT_EQ(got.image.height, want.image.height) << what;
  EXPECT_EQ(got.image.width, want.image.width) << what;
  EXPECT_EQ(got.image.pixels, want.image.pixels) << what;
}

TEST(RecordIOScan, FindsTheOffsetsOfMxnetsOwnIdx) {
  // tests/fixtures/mxnet/small.rec was written by MXNet 1.9.1 (record 2 in two parts).
  const RecordScan scan = scan_record_file(kDir + "small.rec");
  const std::vector<RecordIndexEntry> idx = read_record_index(kDir + "small.idx");
  ASSERT_EQ(scan.entries.size(), idx.size());
  for (std::size_t i = 0; i < idx.size(); ++i) {
    EXPECT_EQ(scan.entries[i].key, static_cast<std::int64_t>(i));
    EXPECT_EQ(scan.entries[i].offset, idx[i].offset) << "record " << i;
  }
  EXPECT_EQ(scan.corrupt_regions, 0);
  EXPECT_EQ(scan.skipped_bytes, 0);
  // Written back, it is MXNet's .idx byte for byte (its keys are the ordinals too).
  TempDir folder;
  write_record_index(folder / "small.idx", scan.entries);
  EXPECT_EQ(read_bytes(folder / "small.idx"), read_bytes(kDir + "small.idx"));
}

TEST(RecordIOScan, WalksMultiPartRecordsByTheirHeaders) {
  const RecFile file = framing_file();
  const ReadAt read = memory_reader(file.bytes);
  const std::int64_t size = static_cast<std::int64_t>(file.bytes.size());
  // Record 2 really has three parts; skip_record lands where read_record does.
  const std::size_t second = static_cast<std::size_t>(file.offsets[2]);
  ASSERT_EQ(testing::u32_at(file.bytes, second + 4) >> 29, 1u);
  EXPECT_EQ(skip_record(read, size, file.offsets[2], "mem[2]"), file.offsets[3]);
  EXPECT_EQ(read_record(read, size, file.offsets[2], "mem[2]").end, file.offsets[3]);
  const RecordScan scan = scan_records(read, size, "mem.rec");
  EXPECT_EQ(offsets_of(scan), file.offsets);
  EXPECT_EQ(scan.corrupt_regions, 0);
  EXPECT_EQ(scan.skipped_bytes, 0);
}

TEST(RecordIOScan, PassesOverCorruptRegionsAndCountsTheirBytes) {
  const RecFile clean = framing_file();
  const auto scan_of = [](const std::vector<std::uint8_t>& bytes) {
    return scan_records(memory_reader(bytes), static_cast<std::int64_t>(bytes.size()), "mem.rec");
  };
  const auto at = [&](std::size_t record) {
    return static_cast<std::size_t>(clean.offsets[record]);
  };

  // The magic of record 3: that record is lost, the others are found.
  std::vector<std::uint8_t> bytes = clean.bytes;
  bytes[at(3)] ^= 0xff;
  RecordScan scan = scan_of(bytes);
  EXPECT_EQ(offsets_of(scan), without(clean.offsets, 3));
  EXPECT_EQ(scan.entries[3].key, 3);  // keys are ordinals of the records found
  EXPECT_EQ(scan.corrupt_regions, 1);
  EXPECT_EQ(scan.skipped_bytes, clean.offsets[4] - clean.offsets[3]);
  EXPECT_EQ(scan.first_corrupt_offset, clean.offsets[3]);

  // The middle part of the three-part record 2 says cflag 7: the record is lost, its last part
  // (an orphan cflag 3) is passed over with it. And the first byte of the file.
  bytes = clean.bytes;
  const std::size_t middle =
      at(2) + 8 + ((testing::u32_at(bytes, at(2) + 4) & ((1u << 29) - 1)) + 3) / 4 * 4;
  ASSERT_EQ(testing::u32_at(bytes, middle + 4) >> 29, 2u);
  bytes[middle + 7] |= 0xe0;  // cflag 2 -> 7
  bytes[0] = 0;
  scan = scan_of(bytes);
  std::vector<std::int64_t> want = without(without(clean.offsets, 2), 0);
  EXPECT_EQ(offsets_of(scan), want);
  EXPECT_EQ(scan.corrupt_regions, 2);
  EXPECT_EQ(scan.skipped_bytes,
            (clean.offsets[1] - clean.offsets[0]) + (clean.offsets[3] - clean.offsets[2]));
  EXPECT_EQ(scan.first_corrupt_offset, 0);

  // A .rec cut inside its last record, and one with 3 stray bytes at the end.
  bytes.assign(clean.bytes.begin(), clean.bytes.begin() + clean.offsets[5] + 20);
  scan = scan_of(bytes);
  EXPECT_EQ(offsets_of(scan), without(clean.offsets, 5));
  EXPECT_EQ(scan.skipped_bytes, 20);
  bytes = clean.bytes;
  bytes.insert(bytes.end(), {1, 2, 3});
  scan = scan_of(bytes);
  EXPECT_EQ(offsets_of(scan), clean.offsets);
  EXPECT_EQ(scan.corrupt_regions, 1);
  EXPECT_EQ(scan.skipped_bytes, 3);
}

TEST(RecordIOScan, ADatasetWithoutIdxReadsWhatTheIdxReads) {
  REQUIRE_IMAGE_FILES();
  TempDir folder;
  write_image_rec(folder);
  const RecordIODataset indexed(folder / "gen.rec", folder / "gen.idx");
  const RecordIODataset scanned(folder / "gen.rec", folder / "missing.idx");
  EXPECT_FALSE(indexed.indexed_by_scan());
  EXPECT_TRUE(scanned.indexed_by_scan());
  EXPECT_TRUE(contains(scanned.describe(), "indexed by a scan"));
  ASSERT_EQ(scanned.size(), 7);
  ASSERT_EQ(scanned.size(), indexed.size());
  EXPECT_EQ(scanned.classes(), 3);
  for (std::int64_t i = 0; i < scanned.size(); ++i) {
    EXPECT_EQ(scanned.index()[static_cast<std::size_t>(i)].offset,
              indexed.index()[static_cast<std::size_t>(i)].offset);
    EXPECT_EQ(scanned.sample_name(i), indexed.sample_name(i));
    expect_same_example(scanned.get(i), indexed.get(i), "record " + std::to_string(i));
  }
  EXPECT_EQ(scanned.record(2).labels.size(), 4u);  // the three-part record, joined
  // An empty .idx name scans too.
  EXPECT_EQ(RecordIODataset(folder / "gen.rec", "", 3, 3).size(), 7);
}

TEST(RecordIOScan, ACorruptRecordInTheMiddleLeavesTheOthersReadable) {
  REQUIRE_IMAGE_FILES();
  TempDir folder;
  const RecFile file = write_image_rec(folder);
  const RecordIODataset clean(folder / "gen.rec", folder / "gen.idx");
  std::vector<std::uint8_t> bytes = file.bytes;
  bytes[static_cast<std::size_t>(file.offsets[4]) + 1] ^= 0x5a;  // record 4's magic
  write_bytes(folder / "bad.rec", bytes);
  const RecordIODataset damaged(folder / "bad.rec", folder / "bad.idx");
  ASSERT_EQ(damaged.size(), 6);
  const std::vector<std::int64_t> kept = {0, 1, 2, 3, 5, 6};
  for (std::size_t i = 0; i < kept.size(); ++i) {
    expect_same_example(damaged.get(static_cast<std::int64_t>(i)), clean.get(kept[i]),
                        "record " + std::to_string(kept[i]));
  }
  const RecordScan scan = scan_record_file(folder / "bad.rec");
  EXPECT_EQ(scan.corrupt_regions, 1);
  EXPECT_EQ(scan.skipped_bytes, file.offsets[5] - file.offsets[4]);
}

TEST(RecordIOScan, AFileThatIsNotRecordIOIsAUserErrorNamingIt) {
  TempDir folder;
  const std::string text = folder / "notes.rec";
  write_text(text, "this is a list file, not a RecordIO file\n0\t1\ta.jpg\n");
  EXPECT_TRUE(
      contains(user_error([&] { RecordIODataset(text, ""); }), text + ": not a RecordIO file"));
  const std::string empty = folder / "empty.rec";
  write_text(empty, "");
  EXPECT_TRUE(contains(user_error([&] { scan_record_file(empty); }),
                       empty + ": not a RecordIO file: none of its 0 bytes"));
  // A magic word alone, with a length past the end of the file, is not a record either.
  std::vector<std::uint8_t> lone;
  testing::put_u32(lone, kRecordMagic);
  testing::put_u32(lone, 1000);
  write_bytes(folder / "lone.rec", lone);
  EXPECT_TRUE(contains(user_error([&] { scan_record_file(folder / "lone.rec"); }),
                       "lone.rec: not a RecordIO file"));
  EXPECT_TRUE(contains(user_error([&] { scan_record_file(folder / "none.rec"); }),
                       "none.rec: cannot open the RecordIO file"));

  // Through the config: the error names the config's key and the file.
  const std::string yaml = folder / "run.yaml";
  write_text(yaml, "data:\n  format: recordio\n  root: " + folder.path() +
                       "\n  train: notes.rec\n  classes: 2\n");
  const std::string message = user_error([&] { make_dataset(load_data_config(yaml), "train"); });
  EXPECT_TRUE(contains(message, text + ": not a RecordIO file")) << message;
}

TEST(RecordIOScan, RanksShareTheRecordsOfAScannedRec) {
  REQUIRE_IMAGE_FILES();
  TempDir folder;
  write_image_rec(folder);
  auto dataset =
      std::make_shared<RecordIODataset>(folder / "gen.rec", folder / "gen_none.idx", 3, 3);
  ASSERT_TRUE(dataset->indexed_by_scan());
  std::vector<std::int64_t> seen;
  for (const testing::SampleRead& read : testing::read_as_ranks(dataset, 2, 4)) {
    EXPECT_EQ(read.index % 2, read.rank);
    EXPECT_EQ(read.label, read.index % 3);  // the generated labels are i % 3
    seen.push_back(read.index);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace crunet::data
