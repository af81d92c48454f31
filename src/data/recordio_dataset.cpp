// A RecordIO .rec file read through its .idx (or an index from a scan of the .rec): records are read with pread from one open file
// descriptor, so that the loader's threads read side by side without a lock.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "crunet/data/recordio.h"

namespace crunet::data {
namespace {

// Bytes enough for the header and the first label.
constexpr std::int64_t kFirstLabelBytes = kImageRecordHeaderBytes + 4;

std::int64_t pread_fully(int fd, std::int64_t offset, std::int64_t count, std::uint8_t* out) {
  std::int64_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd, out + done, static_cast<std::size_t>(count - done),
                                static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += got;
  }
  return done;
}

}  // namespace

RecordIODataset::RecordIODataset(std::string rec_file, std::string idx_file, std::int64_t channels,
                                 std::int64_t classes)
    : rec_file_(std::move(rec_file)), idx_file_(std::move(idx_file)), channels_(channels) {
  if (channels_ != 1 && channels_ != 3) {
    throw ValueError("RecordIO file " + rec_file_ + ": channels must be 1 or 3, not " +
                     std::to_string(channels_));
  }
  if (classes < 0) throw ValueError("RecordIO file " + rec_file_ + ": classes must be >= 0");
  fd_ = ::open(rec_file_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    throw UserError(rec_file_ + ": cannot open the RecordIO file: " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd_);
    throw UserError(rec_file_ + ": not a regular file");
  }
  file_size_ = static_cast<std::int64_t>(info.st_size);
  try {
    std::error_code error;
    if (!idx_file_.empty() && std::filesystem::exists(idx_file_, error)) {
      index_ = read_record_index(idx_file_);
    } else {
      index_by_scan();
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
  if (classes > 0) {
    classes_ = classes;
    return;
  }
  // The largest label, from the headers alone.
  std::int64_t largest = -1, unreadable = 0;
  std::string example;
  for (std::int64_t i = 0; i < size(); ++i) {
    try {
      const std::string name = sample_name(i);
      const ImageRecord header = parse_image_record(read(i, kFirstLabelBytes).bytes, name, true);
      largest = std::max(largest, record_class(header, 0, name));
    } catch (const BadSample& e) {
      if (unreadable++ == 0) example = e.what();
    }
  }
  if (largest < 0) {
    ::close(fd_);
    throw UserError(rec_file_ + ": no record has a readable label (" + example + ")");
  }
  if (unreadable > 0) {
    spdlog::warn(
        "RecordIO file {}: {} of {} record header(s) unreadable (they will be skipped "
        "when read), e.g. {}",
        rec_file_, unreadable, size(), example);
  }
  classes_ = largest + 1;
}

void RecordIODataset::index_by_scan() {
  const auto start = std::chrono::steady_clock::now();
  const ReadAt read_at = [this](std::int64_t offset, std::int64_t count, std::uint8_t* out) {
    return pread_fully(fd_, offset, count, out);
  };
  RecordScan scan = scan_records(read_at, file_size_, rec_file_);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  index_ = std::move(scan.entries);
  scanned_ = true;
  spdlog::info(
      "RecordIO file {}: no index file {}, so scanned the .rec: {} records in {:.1f} s. To skip "
      "this scan, write the index once: crunet-make-list --rec-index {} (or MXNet's "
      "tools/rec2idx.py)",
      rec_file_, idx_file_.empty() ? "given" : idx_file_, index_.size(), seconds, rec_file_);
  if (scan.corrupt_regions > 0) {
    spdlog::warn(
        "RecordIO file {}: passed over {} corrupt byte(s) in {} region(s) of the file, the first "
        "at byte {}; the records there (at least one a region) are lost",
        rec_file_, scan.skipped_bytes, scan.corrupt_regions, scan.first_corrupt_offset);
  }
}

RecordIODataset::~RecordIODataset() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RecordIODataset::sample_name(std::int64_t index) const {
  if (index < 0 || index >= size()) return rec_file_ + "[index " + std::to_string(index) + "]";
  return rec_file_ + "[" + std::to_string(index_[static_cast<std::size_t>(index)].key) + "]";
}

RecordBytes RecordIODataset::read(std::int64_t index, std::int64_t limit) const {
  if (index < 0 || index >= size()) {
    throw ValueError("RecordIO file " + rec_file_ + ": index " + std::to_string(index) +
                     " out of range for " + std::to_string(size()) + " records");
  }
  const ReadAt read_at = [this](std::int64_t offset, std::int64_t count, std::uint8_t* out) {
    return pread_fully(fd_, offset, count, out);
  };
  return read_record(read_at, file_size_, index_[static_cast<std::size_t>(index)].offset,
                     sample_name(index), limit);
}

ImageRecord RecordIODataset::record(std::int64_t index) const {
  return parse_image_record(read(index, -1).bytes, sample_name(index));
}

Example RecordIODataset::get(std::int64_t index) const {
  const ImageRecord parsed = record(index);
  const std::string name = sample_name(index);
  Example example;
  example.label = record_class(parsed, classes_, name);
  example.image = decode_image(parsed.image, channels_, name);
  return example;
}

std::string RecordIODataset::describe() const {
  return "RecordIO file " + rec_file_ + " (" + std::to_string(classes_) + " classes, " +
         std::to_string(size()) + " records" + (scanned_ ? ", indexed by a scan: no .idx" : "") +
         ")";
}

}  // namespace crunet::data
