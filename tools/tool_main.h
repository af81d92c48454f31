#pragma once
// The one place where exceptions become messages and exit statuses, shared by every program:
// 0 success, 2 usage or config error (CLI11 errors, crunet::UserError, ValueError from a
// config-driven build), 1 runtime failure. Nothing aborts and no stack trace reaches the user.
#include <functional>
#include <iostream>

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

}  // namespace crunet::tools
