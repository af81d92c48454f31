// Model specs: YAML text through yaml-cpp and the spec parser (stem, stages, the unit registry).
#include <string>

#include "crunet/models/spec.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  crunet::fuzz::expect_user_errors_only(
      [&] { (void)crunet::models::parse_model_spec(text, "fuzz.yaml"); });
  return 0;
}
