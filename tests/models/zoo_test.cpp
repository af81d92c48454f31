// The zoo's sizes: exact parameter counts and multiply-adds of DESIGN.md section 4.
#include <cmath>

#include <gtest/gtest.h>

#include "crunet/crunet.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

struct Expected {
  const char* name;
  std::int64_t parameters;
  double giga_macs;  // 0: not checked
};

void PrintTo(const Expected& expected, std::ostream* out) { *out << expected.name; }

class ZooExact : public ::testing::TestWithParam<Expected> {};

TEST_P(ZooExact, ParametersAndMultiplyAdds) {
  const Expected expected = GetParam();
  auto network = models::build(expected.name);
  const models::ModelSummary summary = models::summarize(*network);
  EXPECT_EQ(summary.parameters, expected.parameters);
  if (expected.giga_macs > 0) {
    EXPECT_NEAR(summary.macs / 1e9, expected.giga_macs, expected.giga_macs * 0.005);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Paper, ZooExact,
    ::testing::Values(Expected{"resnext50_32x4d", 25025064, 4.23},
                      Expected{"resnext50_Nx1d", 24854432, 4.25},
                      Expected{"crunet56", 25609384, 5.63},
                      Expected{"crunet116", 43656136, 12.65},
                      Expected{"resnet50", 25553192, 0}, Expected{"resnet101", 44545320, 0},
                      Expected{"resnet200", 64669992, 0},
                      Expected{"resnext50_2x40d", 25421160, 0},
                      Expected{"resnext101_32x4d", 44173864, 0},
                      Expected{"resnext101_64x4d", 83451432, 0}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Zoo, PublishedSizesWithinOnePercent) {
  // Model files of float32 weights, in MiB as the paper's release lists them.
  for (auto [name, mib] : {std::pair<const char*, double>{"crunet56", 98},
                           std::pair<const char*, double>{"crunet56_136x1d", 98},
                           std::pair<const char*, double>{"crunet116", 168},
                           std::pair<const char*, double>{"crunet116_wide", 318},
                           std::pair<const char*, double>{"crunet116_places365", 163}}) {
    const double size = nn::count_parameters(*models::build(name)) * 4 / 1048576.0;
    EXPECT_NEAR(size, mib, mib * 0.01) << name;
  }
}

TEST(Zoo, EveryZooFileIsKnown) {
  const auto names = models::zoo_names();
  EXPECT_GE(names.size(), 12u);
  for (const char* name : {"crunet56", "crunet116", "crunet116_wide", "resnet200"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

TEST(Zoo, SummaryOutputShapeMatchesForward) {
  manual_seed(1);
  models::ModelSpec spec = models::load_model_spec("crunet56");
  spec.input_size = 64;
  auto network = models::build(spec);
  const auto summary = models::summarize(*network);
  Tensor logits = network->forward(randn({2, 3, 64, 64}, 2));
  EXPECT_EQ(logits.shape(), (Shape{2, 1000}));
  EXPECT_EQ(summary.stages[3].output_shape, (std::vector<std::int64_t>{1024, 4, 4}));
}

// The gradient of a share group's W1 equals the sum of what each of its six units gives it: the
// same network with one share group per unit (share: 1), loaded with the same weights, gives six
// separate gradients that must add up to the shared one.
TEST(Zoo, SharedW1GradientIsTheSumOverItsUnits) {
  manual_seed(2);
  models::ModelSpec shared_spec = models::load_model_spec("crunet56");
  shared_spec.input_size = 32;
  models::ModelSpec split_spec = shared_spec;
  split_spec.stages[2].share = 1;
  auto shared = models::build(shared_spec);
  auto split = models::build(split_spec);
  // Every name matches except the share groups: copy W1/W3 of the one group into all six.
  std::vector<nn::NamedTensor> state;
  Tensor w1, w3;
  for (const auto& [name, tensor] : shared->state_dict()) {
    if (name == "stage3.share1.w1") w1 = tensor;
    if (name == "stage3.share1.w3") w3 = tensor;
    if (name.rfind("stage3.share", 0) != 0) state.emplace_back(name, tensor);
  }
  for (int g = 1; g <= 6; ++g) {
    state.emplace_back("stage3.share" + std::to_string(g) + ".w1", w1);
    state.emplace_back("stage3.share" + std::to_string(g) + ".w3", w3);
  }
  split->load_state_dict(state);

  Tensor x = randn({2, 3, 32, 32}, 3);
  Tensor targets = from_int64_vector({7, 300}, {2});
  ops::cross_entropy(shared->forward(x), targets).backward();
  ops::cross_entropy(split->forward(x), targets).backward();

  std::vector<float> sum_w1(static_cast<std::size_t>(w1.numel()), 0.0f);
  std::vector<float> sum_w3(static_cast<std::size_t>(w3.numel()), 0.0f);
  for (const auto& [name, tensor] : split->named_parameters()) {
    if (name.rfind("stage3.share", 0) != 0) continue;
    const std::vector<float> grad = tensor.grad().to_vector();
    std::vector<float>& sum = name.find("w1") != std::string::npos ? sum_w1 : sum_w3;
    for (std::size_t i = 0; i < grad.size(); ++i) sum[i] += grad[i];
  }
  EXPECT_LT(testing::relative_difference(w1.grad().to_vector(), sum_w1), 1e-4);
  EXPECT_LT(testing::relative_difference(w3.grad().to_vector(), sum_w3), 1e-4);
  // And each unit contributed: no single group's gradient equals the total.
  for (const auto& [name, tensor] : split->named_parameters()) {
    if (name.rfind("stage3.share", 0) == 0 && name.find("w1") != std::string::npos) {
      EXPECT_GT(testing::relative_difference(w1.grad().to_vector(), tensor.grad().to_vector()), 0.1)
          << name;
    }
  }
}

}  // namespace
}  // namespace crunet

namespace crunet {
namespace {

// configs/small: for each CPU-sized data set a CRU-Net and a ResNeXt of about the same size, that
// build and run at their input size.
TEST(SmallConfigs, EachDataSetHasACruNetAndAResNeXtOfAboutTheSameSize) {
  const std::string folder = std::string(CRUNET_SOURCE_DIR) + "/configs/small/";
  for (const char* data_set : {"fashion", "cifar"}) {
    const auto cru = models::build(folder + data_set + "_crunet.yaml");
    const auto resnext = models::build(folder + data_set + "_resnext.yaml");
    const double a = static_cast<double>(nn::count_parameters(*cru));
    const double b = static_cast<double>(nn::count_parameters(*resnext));
    EXPECT_NEAR(a / b, 1.0, 0.15) << data_set;
    bool has_cru = false;
    for (const auto& stage : cru->spec().stages) has_cru |= stage.unit == "cru";
    EXPECT_TRUE(has_cru) << data_set;
    for (const auto& network : {cru, resnext}) {
      const auto& spec = network->spec();
      EXPECT_EQ(network->forward(randn({2, spec.in_channels, spec.input_size, spec.input_size}, 1))
                    .shape(),
                (Shape{2, 10}));
    }
  }
}

}  // namespace
}  // namespace crunet
