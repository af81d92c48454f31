// docs/cli.md cannot fall behind the programs: the flags each program's --help lists are exactly
// the flags of the table in its section of docs/cli.md.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace crunet::e2e {
namespace {

// "--flag" and "-h" names at the start of the option lines of CLI11's help ("  -h,--help  ...").
std::set<std::string> help_flags(const std::string& help) {
  std::set<std::string> flags;
  std::istringstream lines(help);
  std::string line;
  const std::regex option(R"(^\s+(-[a-zA-Z],)?(--[a-z][a-z0-9-]*))");
  while (std::getline(lines, line)) {
    std::smatch match;
    if (std::regex_search(line, match, option)) flags.insert(match[2].str());
  }
  return flags;
}

// The flags of the table rows ("| `--flag VALUE` | ...", "| `-h`, `--help` |") in the section
// "## PROGRAM" of docs/cli.md.
std::set<std::string> documented_flags(const std::string& program) {
  std::ifstream in(std::string(CRUNET_DOCS_DIR) + "/cli.md");
  EXPECT_TRUE(in.good()) << "cannot read docs/cli.md";
  std::set<std::string> flags;
  std::string line;
  bool in_section = false;
  const std::regex row(R"(^\|\s*(`-h`,\s*)?`(--[a-z][a-z0-9-]*))");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## " + program;
    std::smatch match;
    if (in_section && std::regex_search(line, match, row)) flags.insert(match[2].str());
  }
  return flags;
}

TEST(CliDocs, EveryProgramsFlagsAreTheTableOfItsSection) {
  for (const char* program : {"crunet-train", "crunet-eval", "crunet-info", "crunet-bench",
                              "crunet-bench-data", "crunet-convert", "crunet-make-list"}) {
    const RunResult help = run_tool(program, {"--help"});
    ASSERT_EQ(help.status, 0) << program << ": " << help.output;
    const std::set<std::string> in_help = help_flags(help.output);
    ASSERT_GE(in_help.size(), 2u) << program << ": no flags read from\n" << help.output;
    EXPECT_EQ(documented_flags(program), in_help) << program << ": docs/cli.md against --help";
  }
}

}  // namespace
}  // namespace crunet::e2e
