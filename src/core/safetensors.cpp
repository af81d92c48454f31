#include "crunet/core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

// The format is little-endian; tensor bytes are copied to and from memory as they are.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "crunet's safetensors I/O assumes a little-endian host"
#endif

namespace crunet {
namespace {

using Json = nlohmann::ordered_json;  // keeps the header's order of tensors

constexpr const char* kMetadataKey = "__metadata__";

struct DTypeName {
  DType dtype;
  const char* name;
};
constexpr DTypeName kDTypeNames[] = {{DType::Float32, "F32"},
                                     {DType::Float16, "F16"},
                                     {DType::BFloat16, "BF16"},
                                     {DType::Int32, "I32"},
                                     {DType::Int64, "I64"}};

bool parse_dtype(const std::string& name, DType* dtype) {
  for (const DTypeName& entry : kDTypeNames) {
    if (name == entry.name) {
      *dtype = entry.dtype;
      return true;
    }
  }
  return false;
}

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// ---------------------------------------------------------------------------------------------
// Writing

class FileWriter {
 public:
  explicit FileWriter(std::string path) : path_(std::move(path)) {}
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  // A new file beside the target; O_EXCL makes the name ours, mode 0666 lets the umask decide.
  void open() {
    static std::atomic<std::uint64_t> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
      temp_path_ =
          path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
      fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    const std::string message =
        system_error("save_safetensors: cannot create '" + temp_path_ + "'");
    temp_path_.clear();
    throw RuntimeError(message);
  }

  void write(const void* data, std::size_t size) {
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        throw RuntimeError(system_error("save_safetensors: writing '" + temp_path_ + "' failed"));
      }
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  // fsync, close, rename over the target, then fsync the folder so that the rename is durable.
  void commit() {
    if (::fsync(fd_) != 0) {
      throw RuntimeError(system_error("save_safetensors: fsync of '" + temp_path_ + "' failed"));
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      throw RuntimeError(system_error("save_safetensors: closing '" + temp_path_ + "' failed"));
    }
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
      throw RuntimeError(system_error("save_safetensors: renaming '" + temp_path_ + "' to '" +
                                      path_ + "' failed"));
    }
    committed_ = true;
    const std::size_t slash = path_.rfind('/');
    const std::string folder = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);  // best effort: some file systems refuse fsync on a folder
      ::close(dir);
    }
  }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// ---------------------------------------------------------------------------------------------
// Reading

class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw UserError(system_error("safetensors file '" + path + "': cannot open"));
    struct stat info {};
    if (::fstat(fd_, &info) != 0) {
      ::close(fd_);
      throw UserError(system_error("safetensors file '" + path + "': cannot stat"));
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd_);
      throw UserError("safetensors file '" + path + "': not a regular file");
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
  }
  ~FileReader() { ::close(fd_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::uint64_t size() const { return size_; }

  void read(std::uint64_t offset, void* data, std::size_t size) {
    char* bytes = static_cast<char*>(data);
    while (size > 0) {
      const ssize_t got = ::pread(fd_, bytes, size, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw UserError(system_error("safetensors file '" + path_ + "': read failed"));
      if (got == 0) throw UserError("safetensors file '" + path_ + "': unexpected end of file");
      bytes += got;
      offset += static_cast<std::uint64_t>(got);
      size -= static_cast<std::size_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::string offsets_str(const Entry& entry) {
  return "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + ")";
}

class HeaderParser {
 public:
  explicit HeaderParser(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw UserError("safetensors file '" + path_ + "': " + what);
  }

  Json parse(const std::string& text) {
    std::set<std::string> names;
    std::string duplicate;
    auto watch_keys = [&](int depth, Json::parse_event_t event, Json& parsed) {
      if (depth == 1 && event == Json::parse_event_t::key) {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!names.insert(key).second && duplicate.empty()) duplicate = key;
      }
      return true;
    };
    Json header;
    try {
      header = Json::parse(text, watch_keys);
    } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number too large
      fail(std::string("the header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) fail("the header is not a JSON object");
    if (!duplicate.empty()) fail("the header names '" + duplicate + "' more than once");
    return header;
  }

  std::map<std::string, std::string> metadata(const Json& value) const {
    if (!value.is_object()) fail("\"__metadata__\" is not an object of strings");
    std::map<std::string, std::string> out;
    for (const auto& item : value.items()) {
      if (!item.value().is_string()) {
        fail("\"__metadata__\" value of '" + item.key() + "' is not a string");
      }
      out[item.key()] = item.value().get<std::string>();
    }
    return out;
  }

  Entry entry(const std::string& name, const Json& value) const {
    const std::string where = "tensor '" + name + "'";
    if (!value.is_object()) fail(where + " is not described by a JSON object");
    Entry entry;
    entry.name = name;

    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) fail(where + " has no \"dtype\" string");
    if (!parse_dtype(dtype->get<std::string>(), &entry.dtype)) {
      fail(where + " has dtype \"" + dtype->get<std::string>() +
           "\", which crunet does not support (F32, F16, BF16, I32, I64)");
    }

    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) fail(where + " has no \"shape\" array");
    std::uint64_t bytes = dtype_size(entry.dtype);
    // The strides of a tensor multiply every non-zero extent, also when another extent is 0 and
    // the tensor empty: that product must fit int64_t as well.
    std::uint64_t strides = 1;
    bool overflow = false;
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    for (const Json& extent : *shape) {
      if (!extent.is_number_unsigned()) {
        fail(where + " has shape " + shape->dump() +
             ", which is not a list of non-negative integers");
      }
      const std::uint64_t n = extent.get<std::uint64_t>();
      if (n > kMax) overflow = true;
      if (n != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / n) overflow = true;
      if (n != 0 && strides > kMax / n) overflow = true;
      bytes *= n;
      if (n != 0) strides *= n;
      entry.shape.push_back(static_cast<std::int64_t>(n));
    }
    if (overflow) fail(where + " has shape " + shape->dump() + ", which is too large");

    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      fail(where + " has no \"data_offsets\" pair of non-negative integers");
    }
    entry.begin = (*offsets)[0].get<std::uint64_t>();
    entry.end = (*offsets)[1].get<std::uint64_t>();
    if (entry.end < entry.begin) {
      fail(where + " has data_offsets " + offsets_str(entry) + " that end before they begin");
    }
    if (entry.end - entry.begin != bytes) {
      fail(where + " of dtype " + dtype->get<std::string>() + " and shape " +
           shape_str(entry.shape) + " needs " + std::to_string(bytes) +
           " bytes, but its data_offsets " + offsets_str(entry) + " hold " +
           std::to_string(entry.end - entry.begin));
    }
    return entry;
  }

  // The spec asks the byte buffer to be indexed entirely: no overlap, no hole, nothing after.
  void check_layout(std::vector<Entry> entries, std::uint64_t buffer_size) const {
    for (const Entry& e : entries) {
      if (e.end > buffer_size) {
        fail("tensor '" + e.name + "' has data_offsets " + offsets_str(e) +
             " outside the byte buffer of " + std::to_string(buffer_size) +
             " bytes (is the file truncated?)");
      }
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t expected = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < expected) {
        fail("tensors '" + previous->name + "' " + offsets_str(*previous) + " and '" + e.name +
             "' " + offsets_str(e) + " overlap");
      }
      if (e.begin > expected) {
        fail("bytes [" + std::to_string(expected) + ", " + std::to_string(e.begin) +
             ") of the byte buffer belong to no tensor");
      }
      expected = e.end;
      if (e.end > e.begin || previous == nullptr) previous = &e;
    }
    if (expected != buffer_size) {
      fail("the byte buffer has " + std::to_string(buffer_size) + " bytes but the tensors use " +
           std::to_string(expected));
    }
  }

 private:
  std::string path_;
};

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  for (const DTypeName& entry : kDTypeNames) {
    if (entry.dtype == dtype) return entry.name;
  }
  throw ValueError(std::string("safetensors: no name for dtype ") + dtype_name(dtype));
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [&](const auto& item) { return item.first == name; });
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& item : tensors) {
    if (item.first == name) return item.second;
  }
  std::string known;
  for (std::size_t i = 0; i < tensors.size() && i < 20; ++i) {
    known += (i ? ", " : "") + tensors[i].first;
  }
  if (tensors.size() > 20) known += ", ...";
  throw UserError("safetensors file '" + path + "' has no tensor '" + name + "' (it has " +
                  (known.empty() ? std::string("none") : known) + ")");
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) throw ValueError("save_safetensors: a tensor has an empty name");
    if (name == kMetadataKey) {
      throw ValueError("save_safetensors: \"__metadata__\" is reserved and cannot name a tensor");
    }
    if (!names.insert(name).second) {
      throw ValueError("save_safetensors: the name '" + name + "' is given more than once");
    }
    if (!tensor.defined()) throw ValueError("save_safetensors: tensor '" + name + "' is undefined");
    host.push_back(tensor.detach().to(Device::cpu()).contiguous());
  }

  // The data go in order of decreasing element size, so that every tensor starts aligned to its
  // element (the buffer itself starts at a multiple of 8); the header keeps the caller's order.
  std::vector<std::size_t> data_order(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) data_order[i] = i;
  std::stable_sort(data_order.begin(), data_order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(host[a].dtype()) > dtype_size(host[b].dtype());
  });
  std::vector<std::uint64_t> begin(host.size());
  std::uint64_t offset = 0;
  for (std::size_t i : data_order) {
    begin[i] = offset;
    offset += host[i].nbytes();
  }

  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }
  for (std::size_t i = 0; i < host.size(); ++i) {
    Json entry = Json::object();
    entry["dtype"] = safetensors_dtype_name(host[i].dtype());
    entry["shape"] = host[i].shape();
    entry["data_offsets"] = {begin[i], begin[i] + host[i].nbytes()};
    header[tensors[i].first] = std::move(entry);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::type_error& e) {
    throw ValueError(
        std::string("save_safetensors: a name or metadata string is not valid UTF-8 (") + e.what() +
        ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  unsigned char length[8];
  for (int i = 0; i < 8; ++i) {
    length[i] =
        static_cast<unsigned char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff);
  }

  FileWriter writer(path);
  writer.open();
  writer.write(length, sizeof length);
  writer.write(text.data(), text.size());
  for (std::size_t i : data_order) {
    if (host[i].nbytes() > 0) writer.write(host[i].data_ptr(), host[i].nbytes());
  }
  writer.commit();
}

SafetensorsFile load_safetensors(const std::string& path) {
  FileReader reader(path);
  HeaderParser parser(path);
  const std::uint64_t file_size = reader.size();
  if (file_size < 8) {
    parser.fail("the file has " + std::to_string(file_size) +
                " bytes, fewer than the 8 of the header length (not a safetensors file?)");
  }
  unsigned char length_bytes[8];
  reader.read(0, length_bytes, sizeof length_bytes);
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(length_bytes[i]) << (8 * i);
  if (header_size > file_size - 8) {
    parser.fail("the header length " + std::to_string(header_size) + " goes beyond the file's " +
                std::to_string(file_size) + " bytes (not a safetensors file, or truncated?)");
  }
  std::string text(static_cast<std::size_t>(header_size), '\0');
  if (header_size > 0) reader.read(8, text.data(), text.size());

  const Json header = parser.parse(text);
  SafetensorsFile file;
  file.path = path;
  std::vector<Entry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == kMetadataKey) {
      file.metadata = parser.metadata(item.value());
    } else {
      entries.push_back(parser.entry(item.key(), item.value()));
    }
  }
  const std::uint64_t buffer_start = 8 + header_size;
  parser.check_layout(entries, file_size - buffer_start);

  file.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    Tensor tensor = empty(e.shape, TensorOptions(e.dtype, Device::cpu()));
    if (e.end > e.begin) {
      reader.read(buffer_start + e.begin, tensor.data_ptr(),
                  static_cast<std::size_t>(e.end - e.begin));
    }
    file.tensors.emplace_back(e.name, std::move(tensor));
  }
  return file;
}

}  // namespace crunet
