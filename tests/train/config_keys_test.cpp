// The config reference cannot fall behind the parser: every key that train::config_keys() reports
// (the very lists the parser checks against) has a row `| `key` | type | default | meaning |` in
// docs/config.md or docs/data.md, and every key of those tables is one the parser accepts.
#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

// The tables that document config keys: the `## ` heading they follow, and the section their keys
// belong to. Other tables (datasets, the run folder) are not about keys and are not read.
struct KeyTable {
  const char* file;
  const char* heading;  // the heading, or its start followed by a space ("## optim — SGD")
  const char* prefix;   // prepended to the keys of its rows
};
const KeyTable kTables[] = {
    {"config.md", "## Sections", ""},         {"config.md", "## optim", "optim."},
    {"config.md", "## schedule", "schedule."}, {"config.md", "## train", "train."},
    {"config.md", "## output", "output."},    {"data.md", "## The `data` section", "data."},
};

struct Row {
  std::string key;       // with its section prefix
  std::string where;     // file:line
  std::vector<std::string> cells;
};

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") + 1 - begin);
}

bool heading_matches(const std::string& line, const std::string& heading) {
  return line == heading || line.rfind(heading + " ", 0) == 0;
}

struct Docs {
  std::vector<Row> rows;
  std::set<std::string> headings_seen;  // "file heading"
};

Docs read_docs() {
  Docs docs;
  const std::regex row_pattern(R"(^\|\s*`([^`]+)`\s*\|)");
  for (const char* file : {"config.md", "data.md"}) {
    const std::string path = std::string(CRUNET_DOCS_DIR) + "/" + file;
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot read " << path;
    std::string line, prefix;
    bool in_table_section = false, in_code = false;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.rfind("```", 0) == 0) in_code = !in_code;
      if (in_code) continue;
      if (line.rfind("## ", 0) == 0 || line.rfind("# ", 0) == 0) {
        in_table_section = false;
        for (const KeyTable& table : kTables) {
          if (file == std::string(table.file) && heading_matches(line, table.heading)) {
            in_table_section = true;
            prefix = table.prefix;
            docs.headings_seen.insert(std::string(file) + " " + table.heading);
          }
        }
        continue;
      }
      std::smatch match;
      if (!in_table_section || !std::regex_search(line, match, row_pattern)) continue;
      Row row;
      row.key = prefix + match[1].str();
      row.where = std::string("docs/") + file + ":" + std::to_string(number);
      std::stringstream cells(line.substr(1));
      std::string cell;
      while (std::getline(cells, cell, '|')) row.cells.push_back(trim(cell));
      docs.rows.push_back(row);
    }
  }
  return docs;
}

TEST(ConfigKeys, ListsEveryParserKeyOnce) {
  const std::vector<std::string> keys = train::config_keys();
  EXPECT_GT(keys.size(), 50u);
  const std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size()) << "a key is listed twice";
  for (const char* key : {"model", "data", "data.batch_size", "data.augment.hsl",
                          "data.augment.hsl.hue", "data.normalize.mean", "data.eval.size",
                          "optim.lr", "schedule.milestones", "train.epochs", "output.dir"}) {
    EXPECT_TRUE(unique.count(key)) << key;
  }
  const std::vector<std::string> data_keys = data::config_keys();
  for (const std::string& key : data_keys) EXPECT_TRUE(unique.count("data." + key)) << key;
}

TEST(ConfigKeys, EveryTableOfTheReferenceIsThere) {
  const Docs docs = read_docs();
  for (const KeyTable& table : kTables) {
    EXPECT_TRUE(docs.headings_seen.count(std::string(table.file) + " " + table.heading))
        << "docs/" << table.file << " has no heading '" << table.heading << "'";
  }
}

TEST(ConfigKeys, EveryAcceptedKeyIsDocumented) {
  const Docs docs = read_docs();
  std::set<std::string> documented;
  for (const Row& row : docs.rows) documented.insert(row.key);
  for (const std::string& key : train::config_keys()) {
    EXPECT_TRUE(documented.count(key))
        << "the parser accepts '" << key << "' but no table row of docs/config.md or "
        << "docs/data.md documents it (| `key` | type | default | meaning |)";
  }
}

TEST(ConfigKeys, EveryDocumentedKeyIsAccepted) {
  const std::vector<std::string> keys = train::config_keys();
  const std::set<std::string> accepted(keys.begin(), keys.end());
  std::set<std::string> seen;
  for (const Row& row : read_docs().rows) {
    EXPECT_TRUE(accepted.count(row.key))
        << row.where << ": '" << row.key << "' is documented but the parser does not accept it";
    EXPECT_TRUE(seen.insert(row.key).second) << row.where << ": '" << row.key << "' twice";
  }
}

TEST(ConfigKeys, EveryRowGivesTypeDefaultAndMeaning) {
  for (const Row& row : read_docs().rows) {
    ASSERT_GE(row.cells.size(), 4u) << row.where << ": expected | key | type | default | meaning |";
    for (std::size_t i = 1; i < 4; ++i) {
      EXPECT_FALSE(row.cells[i].empty()) << row.where << ": '" << row.key << "' column " << i + 1
                                         << " is empty";
    }
  }
}

}  // namespace
}  // namespace crunet
