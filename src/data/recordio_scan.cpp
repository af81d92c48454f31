// Indexing a RecordIO .rec without its .idx: one pass over the part headers (the records' bytes
// are not read), and past a corrupt region by the next aligned magic that begins a sound record.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crunet/data/recordio.h"

namespace crunet::data {
namespace {

// The search reads 4 KiB first, as the next record is usually near, then twice as much each
// time up to 1 MiB (multiples of 4, so words stay aligned).
constexpr std::int64_t kFirstSearchChunkBytes = std::int64_t{1} << 12;
constexpr std::int64_t kSearchChunkBytes = std::int64_t{1} << 20;

std::string hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

// The first aligned offset at or after `from` where a record with sound framing begins; the end
// of the file when there is none. `from` is a multiple of 4.
std::int64_t next_record_start(const ReadAt& read, std::int64_t file_size, std::int64_t from,
                               const std::string& file) {
  std::vector<std::uint8_t> chunk;
  std::int64_t chunk_bytes = kFirstSearchChunkBytes;
  for (std::int64_t at = from; at + 4 <= file_size;
       at += chunk_bytes, chunk_bytes = std::min(2 * chunk_bytes, kSearchChunkBytes)) {
    const std::int64_t wanted = std::min(chunk_bytes, file_size - at);
    chunk.resize(static_cast<std::size_t>(wanted));
    const std::int64_t got = read(at, wanted, chunk.data());
    for (std::int64_t i = 0; i + 4 <= got; i += 4) {
      const std::uint8_t* p = chunk.data() + i;
      const std::uint32_t word =
          static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
          static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
      if (word != kRecordMagic) continue;
      try {
        skip_record(read, file_size, at + i, file);
        return at + i;
      } catch (const BadSample&) {
        // A part of the broken record (cflag 2 or 3), or another broken record: search on.
      }
    }
    if (got < wanted) break;  // a short read: give up here
  }
  return file_size;
}

}  // namespace

RecordScan scan_records(const ReadAt& read, std::int64_t file_size, const std::string& file) {
  RecordScan scan;
  scan.file_size = file_size;
  std::int64_t position = 0;
  while (position < file_size) {
    const std::int64_t key = static_cast<std::int64_t>(scan.entries.size());
    try {
      const std::int64_t end =
          skip_record(read, file_size, position, file + "[" + std::to_string(key) + "]");
      scan.entries.push_back({key, position});
      position = end;
      continue;
    } catch (const BadSample&) {
      // The framing is broken here: pass over the region up to the next sound record.
    }
    const std::int64_t next = next_record_start(read, file_size, position + 4, file);
    if (scan.corrupt_regions++ == 0) scan.first_corrupt_offset = position;
    scan.skipped_bytes += next - position;
    position = next;
  }
  if (scan.entries.empty()) {
    throw UserError(file + ": not a RecordIO file: none of its " + std::to_string(file_size) +
                    " bytes holds a record (the magic " + hex(kRecordMagic) +
                    " at a 4-byte-aligned offset, followed by a sound part header)");
  }
  return scan;
}

RecordScan scan_record_file(const std::string& rec_file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(rec_file, error)) {
    throw UserError(rec_file + ": cannot open the RecordIO file: no such file");
  }
  std::ifstream in(rec_file, std::ios::binary);
  if (!in) throw UserError(rec_file + ": cannot open the RecordIO file");
  const std::int64_t file_size =
      static_cast<std::int64_t>(std::filesystem::file_size(rec_file, error));
  if (error) throw UserError(rec_file + ": cannot read the size of the RecordIO file");
  const ReadAt read = [&in](std::int64_t offset, std::int64_t count, std::uint8_t* out) {
    in.clear();
    in.seekg(offset);
    in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(count));
    return static_cast<std::int64_t>(in.gcount());
  };
  return scan_records(read, file_size, rec_file);
}

}  // namespace crunet::data
