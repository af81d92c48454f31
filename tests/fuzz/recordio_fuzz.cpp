// MXNet RecordIO: the record parts (magic, cflag, lengths, padding, multi-part joins), the image
// record header and its labels, the .idx lines. Input: byte 0 picks `classes` (0: read every
// header to count them), bytes 1-2 (little-endian) the length of the .idx text that follows, the
// rest is the .rec. Images are not decoded (that is OpenCV's job, not in the fuzz build): each
// record is read and parsed, through the dataset and by walking the .rec from its first byte.
// An empty .idx text stands for no .idx: the dataset scans the .rec. The scan itself must account
// for every byte: its records and the corrupt bytes it passed over add up to the file.
#include <cstdlib>
#include <cstring>

#include "crunet/data/recordio.h"
#include "fuzz_util.h"

namespace {

// A bad record is a BadSample, which the loader skips: an expected answer too.
template <class Read>
void expect_bad_samples_only(Read&& read) {
  try {
    read();
  } catch (const crunet::data::BadSample&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace crunet::data;
  if (size < 3) return 0;
  const std::int64_t classes = data[0] % 8;
  const std::size_t idx_size = std::min<std::size_t>(data[1] | data[2] << 8, size - 3);
  const std::uint8_t* rec = data + 3 + idx_size;
  const std::size_t rec_size = size - 3 - idx_size;
  const std::string idx_path = crunet::fuzz::write_scratch("input.idx", data + 3, idx_size);
  const std::string rec_path = crunet::fuzz::write_scratch("input.rec", rec, rec_size);
  crunet::fuzz::expect_user_errors_only([&] {
    const RecordIODataset dataset(rec_path, idx_size == 0 ? "" : idx_path, 3, classes);
    for (std::int64_t i = 0; i < dataset.size(); ++i) {
      expect_bad_samples_only([&] {
        const ImageRecord record = dataset.record(i);
        (void)record_class(record, dataset.classes(), dataset.sample_name(i));
      });
    }
    (void)dataset.describe();
  });

  const ReadAt read = [&](std::int64_t offset, std::int64_t count, std::uint8_t* out) {
    const std::int64_t n =
        std::min<std::int64_t>(count, static_cast<std::int64_t>(rec_size) - offset);
    if (n > 0) std::memcpy(out, rec + offset, static_cast<std::size_t>(n));
    return std::max<std::int64_t>(n, 0);
  };
  crunet::fuzz::expect_user_errors_only([&] {
    const std::int64_t file_size = static_cast<std::int64_t>(rec_size);
    const RecordScan scan = scan_records(read, file_size, "input.rec");
    std::int64_t covered = scan.skipped_bytes, previous = -1;
    for (const RecordIndexEntry& entry : scan.entries) {
      if (entry.offset <= previous) std::abort();  // records in file order, each once
      previous = entry.offset;
      covered += skip_record(read, file_size, entry.offset, "input.rec") - entry.offset;
    }
    if (covered != file_size) std::abort();
  });

  std::int64_t offset = 0;
  while (offset < static_cast<std::int64_t>(rec_size)) {
    std::int64_t next = -1;
    expect_bad_samples_only([&] {
      const RecordBytes record = read_record(read, rec_size, offset, "input.rec");
      (void)parse_image_record(record.bytes, "input.rec");
      const RecordBytes head = read_record(read, rec_size, offset, "input.rec", 28);
      (void)parse_image_record(head.bytes, "input.rec", true);
      next = record.end;
    });
    if (next <= offset) break;  // a bad record ends the walk; records always move forward
    offset = next;
  }
  return 0;
}
