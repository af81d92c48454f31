#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "crunet/crunet.h"

namespace crunet {
namespace {

const char* kSpec = R"(name: tiny
input: {channels: 1, size: 12}
classes: 5
stem: {type: small, width: 8}
stages:
  - {unit: res, units: 2, width: 16, bottleneck: 8, groups: 4}
  - {unit: cru, units: 2, width: 32, bottleneck: 8, share: 2}
)";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("crunet_" + name)).string();
}

TEST(Weights, SaveLoadGivesIdenticalOutputs) {
  const models::ModelSpec spec = models::parse_model_spec(kSpec);
  manual_seed(1);
  auto a = models::build(spec);
  Tensor x = randn({3, 1, 12, 12}, 7);
  a->forward(x);  // a training step changes the BN running statistics
  a->eval();
  const std::vector<float> expected = a->forward(x).to_vector();
  const std::string path = temp_path("weights.safetensors");
  save_weights(*a, path);

  manual_seed(2);  // different initial weights
  auto b = models::build(spec);
  b->eval();
  EXPECT_NE(b->forward(x).to_vector(), expected);
  load_weights(*b, path);
  EXPECT_EQ(b->forward(x).to_vector(), expected);
  std::filesystem::remove(path);
}

TEST(Weights, MismatchesAreReportedByName) {
  manual_seed(1);
  auto a = models::build(models::parse_model_spec(kSpec));
  std::string other = kSpec;
  other.replace(other.find("classes: 5"), 10, "classes: 6");
  auto b = models::build(models::parse_model_spec(other));
  const std::string path = temp_path("weights_mismatch.safetensors");
  save_weights(*a, path);
  try {
    load_weights(*b, path);
    FAIL();
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("'fc.weight' has shape [5, 32], the model expects [6, 32]"), std::string::npos) << m;
    EXPECT_NE(m.find("'fc.bias'"), std::string::npos) << m;
  }
  std::filesystem::remove(path);
}

TEST(Weights, KeepPrefixesKeepTheModulesOwnValues) {
  // Fine-tuning onto another number of classes: everything but the classifier from the file.
  manual_seed(1);
  auto a = models::build(models::parse_model_spec(kSpec));
  std::string other = kSpec;
  other.replace(other.find("classes: 5"), 10, "classes: 6");
  manual_seed(2);
  auto b = models::build(models::parse_model_spec(other));
  std::map<std::string, std::vector<float>> before;
  for (const auto& [name, tensor] : b->state_dict()) before[name] = tensor.to_vector();
  const std::string path = temp_path("weights_keep.safetensors");
  save_weights(*a, path);
  load_weights(*b, path, {"fc."});
  std::map<std::string, std::vector<float>> saved;
  for (const auto& [name, tensor] : a->state_dict()) saved[name] = tensor.to_vector();
  int from_file = 0;
  for (const auto& [name, tensor] : b->state_dict()) {
    if (name.rfind("fc.", 0) == 0) {
      EXPECT_EQ(tensor.to_vector(), before[name]) << name;
    } else {
      EXPECT_EQ(tensor.to_vector(), saved[name]) << name;
      if (saved[name] != before[name]) ++from_file;
    }
  }
  EXPECT_GT(from_file, 10);  // the two initialisations differ: the values really came from the file
  // A prefix that keeps nothing of the mismatch still fails, naming it.
  EXPECT_THROW(load_weights(*b, path, {"stem."}), UserError);
  // A prefix that matches no tensor (a typo) is refused, naming it and the names' beginnings.
  try {
    load_weights(*b, path, {"classifier."});
    ADD_FAILURE() << "a keep prefix that matches nothing was taken";
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the keep prefix 'classifier.' matches no tensor of the model"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("fc."), std::string::npos) << m;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace crunet
