#pragma once
// Helpers shared by the RecordIO tests: records laid out as MXNet's writer lays them out.
#include <cstdint>
#include <cstring>
#include <vector>

#include "crunet/data/recordio.h"

namespace crunet::data::testing {

inline float magic_as_float() {
  float value = 0;
  const std::uint32_t bits = kRecordMagic;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

inline std::uint32_t u32_at(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes.data() + at, sizeof(value));
  return value;
}

inline void put_u32(std::vector<std::uint8_t>& bytes, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// A record as dmlc-core's writer lays it out: split wherever an aligned word equals the magic,
// that word dropped, each part padded to 4 bytes.
inline std::vector<std::uint8_t> encode_record(const std::vector<std::uint8_t>& record) {
  std::vector<std::uint8_t> out;
  std::size_t begin = 0;
  auto part = [&](std::uint32_t cflag, std::size_t end) {
    put_u32(out, kRecordMagic);
    put_u32(out, cflag << 29 | static_cast<std::uint32_t>(end - begin));
    out.insert(out.end(), record.begin() + begin, record.begin() + end);
    while (out.size() % 4 != 0) out.push_back(0);
  };
  for (std::size_t i = 0; i + 4 <= record.size(); i += 4) {
    if (u32_at(record, i) == kRecordMagic) {
      part(begin == 0 ? 1 : 2, i);
      begin = i + 4;
    }
  }
  part(begin == 0 ? 0 : 3, record.size());
  return out;
}

// An image record: IRHeader, the labels when there are several, the image bytes.
inline std::vector<std::uint8_t> image_record(const std::vector<float>& labels, std::uint64_t id,
                                              const std::vector<std::uint8_t>& image) {
  std::vector<std::uint8_t> out;
  auto put_f32 = [&](float value) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof(bits));
    put_u32(out, bits);
  };
  put_u32(out, labels.size() == 1 ? 0 : static_cast<std::uint32_t>(labels.size()));
  put_f32(labels.size() == 1 ? labels[0] : 0.0f);
  put_u32(out, static_cast<std::uint32_t>(id));
  put_u32(out, static_cast<std::uint32_t>(id >> 32));
  put_u32(out, 0);
  put_u32(out, 0);
  if (labels.size() != 1) {
    for (float label : labels) put_f32(label);
  }
  out.insert(out.end(), image.begin(), image.end());
  return out;
}

}  // namespace crunet::data::testing
