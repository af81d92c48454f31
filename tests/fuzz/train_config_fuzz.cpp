// Training configs, read from a file as crunet-train does: every section (model, data, optim,
// schedule, train, output), the zoo and model-file lookups, and --set overrides, which the input
// gives as comment lines "#set key.path=value" (comments, so the rest stays plain YAML).
#include <sstream>
#include <string>
#include <vector>

#include "crunet/train/config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#set ", 0) == 0) overrides.push_back(line.substr(5));
  }
  const std::string path = crunet::fuzz::write_scratch("config.yaml", data, size);
  crunet::fuzz::expect_user_errors_only(
      [&] { (void)crunet::train::load_train_config(path, overrides); });
  return 0;
}
