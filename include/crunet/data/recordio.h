#pragma once
// MXNet's RecordIO image files (`.rec`, written by im2rec or mxnet.recordio) and their `.idx`
// index, read without MXNet. The layout (little-endian; dmlc-core's recordio writer and reader,
// MXNet's image_recordio.h and python/mxnet/recordio.py; docs/formats.md):
//
//   part     u32 magic 0xced7230a, u32 lrecord = cflag << 29 | length, `length` bytes, zero
//            padding to a multiple of 4.
//   record   one part with cflag 0; or parts with cflag 1 (first), 2 (middle)..., 3 (last): the
//            writer splits a record wherever a 4-byte-aligned word of it equals the magic and
//            drops that word, so the reader puts the magic back between parts.
//   image    IRHeader {u32 flag, f32 label, u64 id, u64 id2}; when flag > 0, `flag` f32 labels
//            follow it (and `label` is unused); then the encoded image (JPEG, PNG, ...).
//   .idx     one line per record, "key<TAB>byte offset of its first part".
//
// Every part begins at a multiple of 4 and no aligned word inside a part equals the magic (the
// writer splits there), so a .rec without its .idx can be indexed by walking the part headers,
// and a corrupt region passed over by searching for the next aligned magic.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crunet/data/dataset.h"

namespace crunet::data {

constexpr std::uint32_t kRecordMagic = 0xced7230a;
// dmlc's writer refuses records of 2^29 bytes or more, so a longer one is corrupt.
constexpr std::int64_t kMaxRecordBytes = std::int64_t{1} << 29;
constexpr std::int64_t kImageRecordHeaderBytes = 24;

// Reads up to `count` bytes at byte `offset` of the file into `out`; returns how many it read
// (fewer only at the end of the file).
using ReadAt =
    std::function<std::int64_t(std::int64_t offset, std::int64_t count, std::uint8_t* out)>;

struct RecordBytes {
  std::vector<std::uint8_t> bytes;  // the parts joined, the dropped magic words put back
  std::int64_t end = 0;             // the offset just after the last part read (padding included)
};

// The record whose first part starts at `offset` of a file of `file_size` bytes. With `limit` >= 0
// it stops once it holds at least `limit` bytes (a header is read without its image). A part
// without the magic, one that runs past the end of the file, a cflag out of sequence, or a record
// of kMaxRecordBytes or more is a BadSample(name, ...) saying which byte is wrong.
RecordBytes read_record(const ReadAt& read, std::int64_t file_size, std::int64_t offset,
                        const std::string& name, std::int64_t limit = -1);

// Walks the part headers of the record at `offset` without reading its bytes and returns the
// offset just after it; the same checks, and BadSamples, as read_record.
std::int64_t skip_record(const ReadAt& read, std::int64_t file_size, std::int64_t offset,
                         const std::string& name);

struct ImageRecord {
  std::uint32_t flag = 0;
  std::vector<float> labels;  // the `flag` labels; the header's one label when flag is 0
  std::uint64_t id = 0, id2 = 0;
  std::vector<std::uint8_t> image;  // the encoded image
};

// Splits a record into its IRHeader, labels and image. A record shorter than its header and
// labels is a BadSample(name, ...). With `header_only` the image is left empty (and may be cut).
ImageRecord parse_image_record(const std::vector<std::uint8_t>& record, const std::string& name,
                               bool header_only = false);

// The class of an image record: its first label, which must be an integer in [0, 10^8) and, when
// `classes` > 0, below it; else a BadSample(name, ...).
std::int64_t record_class(const ImageRecord& record, std::int64_t classes, const std::string& name);

struct RecordIndexEntry {
  std::int64_t key = 0;     // the record's key (im2rec: its line index in the .lst)
  std::int64_t offset = 0;  // the byte offset of its first part in the .rec
};

// The entries of an .idx file in file order. Blank lines are ignored; a line that is not
// "integer<TAB>integer", a negative offset, a key seen before, a missing or empty file are
// UserErrors "file:line: ...". Offsets are checked against the .rec when the records are read.
std::vector<RecordIndexEntry> read_record_index(const std::string& path);

// Writes entries as an .idx in MXNet's format ("key<TAB>offset" lines), which
// read_record_index, im2rec's readers and mxnet.recordio.MXIndexedRecordIO read. UserError when
// the file cannot be written.
void write_record_index(const std::string& path, const std::vector<RecordIndexEntry>& entries);

// What one sequential pass over a .rec without its .idx found.
struct RecordScan {
  std::vector<RecordIndexEntry> entries;  // in file order, keyed by ordinal: 0, 1, 2, ...
  std::int64_t file_size = 0;
  std::int64_t skipped_bytes = 0;    // bytes of corrupt regions, passed over
  std::int64_t corrupt_regions = 0;  // places where the framing broke (each lost >= 1 record)
  std::int64_t first_corrupt_offset = -1;
};

// Indexes the records of a file of `file_size` bytes from byte 0 on, reading part headers only.
// Where a record's framing is broken (no magic, a bad cflag or sequence of cflags, a part past the
// end of the file) it searches on from the record's next aligned word for a magic that begins a
// record whose framing holds, and counts the bytes passed over. `file` names the file in errors:
// a file in which no record is found at all is a UserError (not a RecordIO file).
RecordScan scan_records(const ReadAt& read, std::int64_t file_size, const std::string& file);

// scan_records on the file `rec_file`; UserError when it cannot be opened.
RecordScan scan_record_file(const std::string& rec_file);

// A .rec file read through its .idx: sample i is the record of the i-th index line. Records are
// read and decoded on demand (pread, so get() may run on many threads at once); a truncated or
// corrupt record, an image that does not decode and a label out of range are BadSamples, which
// the loader skips and counts. `classes` 0 reads every record's header when opening, to take the
// largest label + 1 (records whose header cannot be read are counted in one warning); a value
// > 0 skips that pass and is checked on each record as it is read. Sample names are
// "file.rec[key]". `channels` 3 decodes to RGB, 1 to gray. When `idx_file` is empty or does not
// exist, the index comes from scan_records (keys are ordinals; one info line says so, one warning
// counts what a corrupt region cost), and everything else is as with an .idx.
class RecordIODataset : public Dataset {
 public:
  RecordIODataset(std::string rec_file, std::string idx_file, std::int64_t channels = 3,
                  std::int64_t classes = 0);
  ~RecordIODataset() override;
  RecordIODataset(const RecordIODataset&) = delete;
  RecordIODataset& operator=(const RecordIODataset&) = delete;

  std::int64_t size() const override { return static_cast<std::int64_t>(index_.size()); }
  Example get(std::int64_t index) const override;
  std::int64_t classes() const override { return classes_; }
  std::string describe() const override;
  std::string sample_name(std::int64_t index) const override;

  // The record of sample `index`, parsed but not decoded.
  ImageRecord record(std::int64_t index) const;
  const std::vector<RecordIndexEntry>& index() const { return index_; }
  bool indexed_by_scan() const { return scanned_; }

 private:
  RecordBytes read(std::int64_t index, std::int64_t limit) const;
  void index_by_scan();

  std::string rec_file_;
  std::string idx_file_;
  std::int64_t channels_;
  std::int64_t classes_ = 0;
  std::vector<RecordIndexEntry> index_;
  bool scanned_ = false;  // index_ came from a scan of the .rec, not from an .idx
  int fd_ = -1;
  std::int64_t file_size_ = 0;
};

}  // namespace crunet::data
