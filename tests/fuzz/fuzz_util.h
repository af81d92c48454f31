#pragma once
// Shared by the libFuzzer targets: the parsers take files, so each input is written to a scratch
// file first; a crunet::UserError is the expected answer to a bad input, and anything else that
// escapes (another exception, an abort, a sanitizer report) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "crunet/core/error.h"

namespace crunet::fuzz {

// A folder of this process's own under the temp directory (libFuzzer's -jobs run several).
inline const std::string& scratch_folder() {
  static const std::string folder = [] {
    const auto path = std::filesystem::temp_directory_path() /
                      ("crunet_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path.string();
  }();
  return folder;
}

inline std::string write_scratch(const std::string& name, const std::uint8_t* data,
                                 std::size_t size) {
  const std::string path = scratch_folder() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

template <class Parse>
void expect_user_errors_only(Parse&& parse) {
  try {
    parse();
  } catch (const crunet::UserError&) {
    // The parser refused the input with a message for the user: the expected outcome.
  }
}

}  // namespace crunet::fuzz
