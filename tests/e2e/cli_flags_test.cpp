// Numeric flags out of range, flags that contradict each other, and an output that is one of the
// inputs, on the programs without a training config: each a command-line error with status 2
// naming the flag, before any work; never an abort, a wrapped number or a destroyed input.
#include <filesystem>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A model spec small enough that a benchmark of it takes a moment.
std::string tiny_spec(const std::string& folder) {
  const std::string path = folder + "/tiny.yaml";
  write_file(path,
             "name: tiny\ninput: {channels: 1, size: 8}\nclasses: 2\n"
             "stem: {type: small, width: 4, stride: 1}\n"
             "stages:\n  - {unit: res, units: 1, width: 8, bottleneck: 4, groups: 2, stride: 2}\n");
  return path;
}

TEST(CliFlags, OutOfRangeNumbersAreCommandLineErrorsNamingTheFlag) {
  const std::string folder = fresh_folder("cli_flags_range");
  const std::string spec = tiny_spec(folder);
  fs::create_directories(folder + "/images/a");
  struct Case {
    std::string tool;
    std::vector<std::string> arguments;
    std::string message;
  };
  const std::vector<Case> cases = {
      // Was "Value 0 not in range 0.000000 to 17976931348623157...": 0 seemed to be in range.
      {"crunet-bench",
       {"--config", spec, "--batch", "0"},
       "--batch: Value 0 not in range 1 to 1048576"},
      {"crunet-bench",
       {"--config", spec, "--input-size", "-3"},
       "--input-size: Value -3 not in range 1 to 65536"},
      {"crunet-bench",
       {"--config", spec, "--threads", "-1"},
       "--threads: Value -1 not in range 0 to 4096"},
      // Was taken: the int it became wrapped round to a negative number of threads.
      {"crunet-bench",
       {"--config", spec, "--threads", "2147483648"},
       "--threads: Value 2147483648 not in range"},
      // Was status 0, measuring nothing.
      {"crunet-bench", {"--config", spec, "--train-only", "--infer-only"}, "excludes"},
      // Was status 0 with a negative activation memory (the product overflowed).
      {"crunet-info",
       {"--config", spec, "--batch", "99999999999999999999"},
       "--batch: Value 99999999999999999999 not in range 1 to 1048576"},
      // Was std::terminate (status 134): 100000 threads could not all start.
      {"crunet-bench-data",
       {"--folder", folder + "/images", "--workers", "100000"},
       "--workers: Value 100000 not in range 0 to 256"},
      // Was std::bad_alloc, status 1.
      {"crunet-bench-data",
       {"--folder", folder + "/images", "--size", "99999999999"},
       "--size: Value 99999999999 not in range 1 to 65536"},
      {"crunet-bench-data",
       {"--folder", folder + "/images", "--prefetch", "99999999999"},
       "--prefetch"},
  };
  for (const Case& c : cases) {
    const RunResult run = run_tool(c.tool, c.arguments);
    EXPECT_EQ(run.status, 2) << c.tool << " " << c.arguments.back() << ":\n" << run.output;
    EXPECT_TRUE(contains(run.output, c.message)) << c.tool << ":\n" << run.output;
  }
}

TEST(CliFlags, ConvertRefusesToWriteOverItsInputs) {
  // --out on the .params (or the symbol file) replaced the authors' checkpoint with ours, status 0.
  const std::string folder = fresh_folder("cli_flags_convert");
  const std::string fixtures = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/";
  for (const char* name : {"crunet56_tiny-0000.params", "crunet56_tiny-symbol.json"}) {
    fs::copy_file(fixtures + name, folder + "/" + name);
  }
  const std::string params = folder + "/crunet56_tiny-0000.params";
  const std::string symbol = folder + "/crunet56_tiny-symbol.json";
  const std::string original = read_file(params);
  for (const std::string& out : {params, symbol}) {
    const RunResult run =
        run_tool("crunet-convert", {"--symbol", symbol, "--params", params, "--config",
                                    fixtures + "crunet56_tiny.yaml", "--out", out});
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_TRUE(contains(run.output, "--out " + out + " is the file of --")) << run.output;
  }
  EXPECT_EQ(read_file(params), original);
}

}  // namespace
}  // namespace crunet::e2e
