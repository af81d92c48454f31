#pragma once
// The one place where exceptions become messages and exit statuses, shared by every program:
// 0 success, 2 usage or config error (CLI11 errors, crunet::UserError, ValueError from a
// config-driven build), 1 runtime failure. Nothing aborts and no stack trace reaches the user.
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "crunet/core/error.h"

namespace crunet::tools {

inline int run_tool(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return body();
  } catch (const crunet::UserError& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return 2;
  } catch (const crunet::ValueError& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": failed: " << e.what() << "\n";
    return 1;
  }
}

// An output file that is one of the program's inputs (the same file under any name) would be
// destroyed by the write: a .rec of 140 GB, the only copy of a label file. Refused before any work.
// `inputs` are (flag, path) pairs; paths that do not exist (yet) are no input.
inline void refuse_output_over_input(
    const std::string& output_flag, const std::string& output,
    const std::vector<std::pair<std::string, std::string>>& inputs) {
  for (const auto& [flag, input] : inputs) {
    std::error_code not_there;
    if (!input.empty() && std::filesystem::equivalent(output, input, not_there)) {
      throw crunet::UserError(output_flag + " " + output + " is the file of " + flag + " " + input +
                              ": writing it would overwrite that input; give another file");
    }
  }
}

}  // namespace crunet::tools
