// MXNet's RecordIO format: records made of parts, the image record's header, the .idx index.
// Every length is checked against the bytes that exist before anything is read or allocated.
#include "crunet/data/recordio.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_set>

namespace crunet::data {
namespace {

std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint64_t load_u64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(load_u32(p)) | static_cast<std::uint64_t>(load_u32(p + 4))
                                                       << 32;
}

float load_f32(const std::uint8_t* p) {
  const std::uint32_t bits = load_u32(p);
  float value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

std::string at_byte(std::int64_t offset) { return "byte " + std::to_string(offset); }

bool parse_integer(const std::string& text, std::int64_t& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  value = parsed;
  return true;
}

std::string trim(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string shorten(const std::string& line) {
  std::string shown = line.size() > 80 ? line.substr(0, 77) + "..." : line;
  std::replace(shown.begin(), shown.end(), '\t', ' ');
  return shown;
}

}  // namespace

namespace {

struct PartHeader {
  std::uint32_t cflag = 0;
  std::int64_t length = 0;  // the bytes of the part after its 8-byte header
  std::int64_t next = 0;    // where the next part begins: after the padding, or the end of the file
};

// The header of the part at `position`, checked: the magic, a cflag that fits where it is (`first`
// part of a record or not), a length inside the file and, with the `have` bytes of the record's
// earlier parts, below kMaxRecordBytes. The record began at `offset`.
PartHeader read_part_header(const ReadAt& read, std::int64_t file_size, std::int64_t offset,
                            std::int64_t position, bool first, std::int64_t have,
                            const std::string& name) {
  if (file_size - position < 8) {
    throw BadSample(name, "truncated: the part header at " + at_byte(position) +
                              " runs past the end of the file (" + std::to_string(file_size) +
                              " bytes)");
  }
  std::uint8_t head[8];
  if (read(position, 8, head) != 8) throw BadSample(name, "cannot read " + at_byte(position));
  if (load_u32(head) != kRecordMagic) {
    throw BadSample(name, "no record magic at " + at_byte(position) +
                              (first ? " (the .idx offset does not point at a record)"
                                     : " (a multi-part record is cut short)"));
  }
  const std::uint32_t lrecord = load_u32(head + 4);
  PartHeader part;
  part.cflag = lrecord >> 29;
  part.length = lrecord & ((1u << 29) - 1);
  // 0 whole, 1 first: a record begins; 2 middle, 3 last: it goes on.
  if (part.cflag > 3) {
    throw BadSample(name, "the part at " + at_byte(position) + " has cflag " +
                              std::to_string(part.cflag) + ", which is not one of 0-3");
  }
  if (first ? part.cflag > 1 : part.cflag < 2) {
    throw BadSample(name, "the part at " + at_byte(position) + " has cflag " +
                              std::to_string(part.cflag) +
                              (first ? ", which continues a record, where a record begins"
                                     : ", which begins a record, inside a multi-part record"));
  }
  if (part.length > file_size - position - 8) {
    throw BadSample(name, "truncated: the part at " + at_byte(position) + " holds " +
                              std::to_string(part.length) + " bytes but the file ends " +
                              std::to_string(file_size - position - 8) +
                              " bytes after its header");
  }
  if (have + part.length >= kMaxRecordBytes) {
    throw BadSample(name, "the record at " + at_byte(offset) + " grows past 2^29 bytes at " +
                              at_byte(position) + ", larger than any record MXNet writes");
  }
  // The last record of a file may lack its padding; dmlc's own reader would refuse it.
  part.next = std::min(position + 8 + (part.length + 3) / 4 * 4, file_size);
  return part;
}

void check_offset(std::int64_t file_size, std::int64_t offset, const std::string& name) {
  if (offset < 0 || offset >= file_size) {
    throw BadSample(name, "the record's offset " + std::to_string(offset) +
                              " is past the end of the file (" + std::to_string(file_size) +
                              " bytes): a truncated .rec, or an .idx of another file");
  }
}

}  // namespace

RecordBytes read_record(const ReadAt& read, std::int64_t file_size, std::int64_t offset,
                        const std::string& name, std::int64_t limit) {
  check_offset(file_size, offset, name);
  RecordBytes record;
  std::int64_t position = offset;
  bool first = true;
  while (true) {
    const std::int64_t have = static_cast<std::int64_t>(record.bytes.size());
    const PartHeader part = read_part_header(read, file_size, offset, position, first, have, name);
    const std::int64_t take =
        limit >= 0 ? std::min(part.length, std::max<std::int64_t>(limit - have, 0)) : part.length;
    record.bytes.resize(static_cast<std::size_t>(have + take));
    if (take > 0 && read(position + 8, take, record.bytes.data() + have) != take) {
      throw BadSample(name, "cannot read the part at " + at_byte(position));
    }
    position = part.next;
    if (part.cflag == 0 || part.cflag == 3) break;
    if (limit >= 0 && static_cast<std::int64_t>(record.bytes.size()) >= limit) break;
    // The writer dropped a magic word here.
    const std::uint8_t magic[4] = {0x0a, 0x23, 0xd7, 0xce};
    record.bytes.insert(record.bytes.end(), magic, magic + 4);
    first = false;
  }
  record.end = position;
  return record;
}

std::int64_t skip_record(const ReadAt& read, std::int64_t file_size, std::int64_t offset,
                         const std::string& name) {
  check_offset(file_size, offset, name);
  std::int64_t position = offset, have = 0;
  bool first = true;
  while (true) {
    const PartHeader part = read_part_header(read, file_size, offset, position, first, have, name);
    position = part.next;
    if (part.cflag == 0 || part.cflag == 3) return position;
    have += part.length + 4;  // and the magic word the writer dropped, as read_record puts back
    first = false;
  }
}

ImageRecord parse_image_record(const std::vector<std::uint8_t>& record, const std::string& name,
                               bool header_only) {
  const std::int64_t size = static_cast<std::int64_t>(record.size());
  if (size < kImageRecordHeaderBytes) {
    throw BadSample(name, "the record has " + std::to_string(size) + " bytes, fewer than the " +
                              std::to_string(kImageRecordHeaderBytes) +
                              "-byte image record header");
  }
  const std::uint8_t* p = record.data();
  ImageRecord image;
  image.flag = load_u32(p);
  image.id = load_u64(p + 8);
  image.id2 = load_u64(p + 16);
  std::int64_t begin = kImageRecordHeaderBytes;
  if (image.flag == 0) {
    image.labels.push_back(load_f32(p + 4));
  } else {
    const std::int64_t wanted = header_only ? 1 : static_cast<std::int64_t>(image.flag);
    if (4 * wanted > size - begin) {
      throw BadSample(name, "the header announces " + std::to_string(image.flag) +
                                " labels (flag), but the record holds only " +
                                std::to_string(size - begin) + " bytes after the header");
    }
    image.labels.resize(static_cast<std::size_t>(wanted));
    for (std::int64_t i = 0; i < wanted; ++i) {
      image.labels[static_cast<std::size_t>(i)] = load_f32(p + begin + 4 * i);
    }
    begin += 4 * wanted;
  }
  if (!header_only) image.image.assign(record.begin() + begin, record.end());
  return image;
}

std::int64_t record_class(const ImageRecord& record, std::int64_t classes,
                          const std::string& name) {
  if (record.labels.empty()) throw BadSample(name, "the record has no label");
  const float label = record.labels[0];
  if (!std::isfinite(label) || label != std::floor(label) || label < 0.0f || label >= 1.0e8f) {
    throw BadSample(
        name, "the label " + std::to_string(label) + " is not a class (an integer in [0, 10^8))");
  }
  const std::int64_t value = static_cast<std::int64_t>(label);
  if (classes > 0 && value >= classes) {
    throw BadSample(name, "the label " + std::to_string(value) + " is out of range for " +
                              std::to_string(classes) + " classes");
  }
  return value;
}

std::vector<RecordIndexEntry> read_record_index(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw UserError(path +
                    ": no such index file (im2rec and mxnet.recordio.MXIndexedRecordIO "
                    "write it beside the .rec)");
  }
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the index file");
  std::vector<RecordIndexEntry> entries;
  std::unordered_set<std::int64_t> keys;
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const std::size_t tab = line.find('\t');
    RecordIndexEntry entry;
    if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos ||
        !parse_integer(trim(line.substr(0, tab)), entry.key) ||
        !parse_integer(trim(line.substr(tab + 1)), entry.offset)) {
      throw UserError(where + "expected 'key<TAB>offset' (two integers), got '" + shorten(line) +
                      "'");
    }
    if (entry.offset < 0) {
      throw UserError(where + "the offset " + std::to_string(entry.offset) + " is negative");
    }
    if (!keys.insert(entry.key).second) {
      throw UserError(where + "the key " + std::to_string(entry.key) + " appears twice");
    }
    entries.push_back(entry);
  }
  if (in.bad()) throw UserError(path + ": cannot read the index file");
  if (entries.empty()) throw UserError(path + ": the index file has no records");
  return entries;
}

void write_record_index(const std::string& path, const std::vector<RecordIndexEntry>& entries) {
  std::ofstream out(path);
  for (const RecordIndexEntry& entry : entries) out << entry.key << '\t' << entry.offset << '\n';
  out.close();
  if (!out) throw UserError(path + ": cannot write the index file");
}

}  // namespace crunet::data
