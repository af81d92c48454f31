// MXNet checkpoints into crunet: the fixtures are real MXNet 1.9.1 output (tools/mxnet_fixtures.py):
// reduced-width CRU-Net-56 / CRU-Net-116 checkpoints with MXNet's own eval-mode logits, and the
// names and shapes of the full-size graphs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "crunet/crunet.h"

namespace crunet {
namespace {

const std::string kDir = std::string(CRUNET_FIXTURE_DIR) + "/mxnet/";
const std::string kMap = std::string(CRUNET_SOURCE_DIR) + "/configs/maps/mxnet_crunet.map";

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// crunet's eval-mode logits against MXNet's for a converted tiny checkpoint.
double logits_error(const std::string& model) {
  const std::string prefix = kDir + model + "_tiny";
  const models::ModelSpec spec = models::load_model_spec(prefix + ".yaml");
  auto network = models::build(spec);
  const auto result = models::import_mxnet(
      *network, spec, read_mxnet_params(prefix + "-0000.params"), models::load_mxnet_name_map(kMap),
      models::read_mxnet_symbol_batch_norms(prefix + "-symbol.json"));
  EXPECT_TRUE(result.problems.empty()) << result.problems.front();
  EXPECT_TRUE(result.unused.empty()) << result.unused.front();
  network->load_state_dict(result.state);
  network->eval();
  const SafetensorsFile golden = load_safetensors(prefix + "_golden.safetensors");
  NoGradGuard no_grad;
  const std::vector<float> got = network->forward(golden.at("input")).to_vector();
  const std::vector<float> want = golden.at("logits").to_vector();
  EXPECT_EQ(got.size(), want.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < want.size() && i < got.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
  }
  EXPECT_GT(scale, 1.0);  // the logits are not all near zero: the comparison means something
  std::cout << model << ": max |crunet - mxnet| / max |mxnet| = " << diff / scale << "\n";
  return diff / scale;
}

TEST(MxnetImport, CruNet56LogitsMatchMxnet) { EXPECT_LT(logits_error("crunet56"), 1e-4); }

TEST(MxnetImport, CruNet116LogitsMatchMxnet) { EXPECT_LT(logits_error("crunet116"), 1e-4); }

// The full-size zoo graphs: every crunet tensor maps onto an MXNet array of the same shape, and
// every MXNet array is taken, per MXNet's own infer_shape at 224x224.
void expect_full_size_names_match(const std::string& model) {
  std::map<std::string, std::vector<std::int64_t>> mxnet;
  std::ifstream in(kDir + model + "_shapes.txt");
  ASSERT_TRUE(in) << model;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, dims;
    fields >> name >> dims;
    std::vector<std::int64_t> shape;
    std::istringstream parts(dims);
    for (std::string d; std::getline(parts, d, 'x');) shape.push_back(std::stoll(d));
    mxnet[name] = shape;
  }
  const models::ModelSpec spec = models::load_model_spec(model);
  auto network = models::build(spec);
  std::map<std::string, std::vector<std::int64_t>> crunet;
  for (const auto& [name, tensor] : network->state_dict()) crunet[name] = tensor.shape();
  std::set<std::string> taken;
  for (const auto& [name, array] : models::mxnet_names(*network, spec,
                                                        models::load_mxnet_name_map(kMap))) {
    ASSERT_FALSE(array.empty()) << name << " has no rule";
    ASSERT_TRUE(mxnet.count(array)) << name << " -> " << array << " is not in MXNet's graph";
    EXPECT_EQ(mxnet[array], crunet[name]) << name << " -> " << array;
    EXPECT_TRUE(taken.insert(array).second) << array << " taken twice";
  }
  EXPECT_EQ(taken.size(), mxnet.size()) << model << ": some MXNet arrays map to nothing";
}

TEST(MxnetImport, FullSizeCruNet56NamesAndShapesMatchMxnet) {
  expect_full_size_names_match("crunet56");
}

TEST(MxnetImport, FullSizeCruNet116NamesAndShapesMatchMxnet) {
  expect_full_size_names_match("crunet116");
}

// The BN folding: eps 1e-3 in MXNet becomes running_var + (1e-3 - 1e-5); fix_gamma gives gamma 1.
TEST(MxnetImport, FoldsBatchNormEpsAndFixGamma) {
  const std::string yaml = R"(name: one
input: {channels: 3, size: 8}
classes: 2
stem: {type: small, width: 4}
stages:
  - {unit: res, units: 1, width: 4, bottleneck: 2, groups: 1}
)";
  const models::ModelSpec spec = models::parse_model_spec(yaml);
  auto network = models::build(spec);
  std::vector<MxnetArray> arrays;
  std::vector<models::MxnetNameRule> rules =
      models::parse_mxnet_name_map("bn stem.bnac.bn stem_bn\n", "map");
  for (const char* name : {"arg:stem_bn_gamma", "arg:stem_bn_beta", "aux:stem_bn_moving_mean",
                           "aux:stem_bn_moving_var"}) {
    arrays.push_back({name, {4}, "float32", {2.0f, 2.0f, 2.0f, 2.0f}});
  }
  std::map<std::string, models::MxnetBatchNorm> bns;
  bns["stem_bn_gamma"] = {1e-3, true};
  const auto result = models::import_mxnet(*network, spec, arrays, rules, bns);
  for (const auto& [name, tensor] : result.state) {
    if (name == "stem.bnac.bn.weight") EXPECT_EQ(tensor.to_vector()[0], 1.0f);
    if (name == "stem.bnac.bn.bias") EXPECT_EQ(tensor.to_vector()[0], 2.0f);
    if (name == "stem.bnac.bn.running_var") EXPECT_NEAR(tensor.to_vector()[0], 2.0 + 1e-3 - 1e-5, 1e-6);
  }
  // Everything else of the model has no rule: listed by name, nothing thrown.
  EXPECT_FALSE(result.problems.empty());
  EXPECT_NE(result.problems.front().find("no rule"), std::string::npos);
  EXPECT_TRUE(result.unused.empty());
}

TEST(MxnetImport, ReportsShapeMismatchAndUnusedArrays) {
  const std::string prefix = kDir + "crunet56_tiny";
  const models::ModelSpec spec = models::load_model_spec(kDir + "crunet116_tiny.yaml");
  auto network = models::build(spec);
  const auto result = models::import_mxnet(
      *network, spec, read_mxnet_params(prefix + "-0000.params"), models::load_mxnet_name_map(kMap),
      models::read_mxnet_symbol_batch_norms(prefix + "-symbol.json"));
  const auto mentions = [](const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(mentions(result.problems, "is not in the .params file"));
  EXPECT_TRUE(mentions(result.problems, "has shape"));
  EXPECT_TRUE(mentions(result.unused, "arg:conv3_x__1_c3x3-b__conv_weight"));
}

TEST(MxnetImport, BadNameMapsNameTheLine) {
  EXPECT_NE(error_of([] { models::parse_mxnet_name_map("param a\n", "m.map"); }).find("m.map:1"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::parse_mxnet_name_map("#x\nweight a b\n", "m.map"); })
                .find("m.map:2: unknown rule kind"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::parse_mxnet_name_map("param stage{layer}.w x\n", "m.map"); })
                .find("unknown placeholder {layer}"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::parse_mxnet_name_map("param fc.w x{unit}\n", "m.map"); })
                .find("not bound"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::parse_mxnet_name_map("param fc.w x{block}\n", "m.map"); })
                .find("needs {stage}"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::parse_mxnet_name_map("# only a comment\n", "m.map"); })
                .find("no rules"),
            std::string::npos);
}

TEST(MxnetImport, BadSymbolFilesAreUserErrors) {
  EXPECT_NE(error_of([] { models::parse_mxnet_symbol_batch_norms("{", "s.json"); })
                .find("s.json: not JSON"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::parse_mxnet_symbol_batch_norms("[1]", "s.json"); })
                .find("no \"nodes\""),
            std::string::npos);
  const std::string bad_input =
      R"({"nodes": [{"op": "BatchNorm", "name": "b", "inputs": [[0, 0, 0], [7, 0, 0]]}]})";
  EXPECT_NE(error_of([&] { models::parse_mxnet_symbol_batch_norms(bad_input, "s.json"); })
                .find("without a valid gamma"),
            std::string::npos);
  const std::string bad_eps =
      R"({"nodes": [{"op": "null", "name": "g", "inputs": []},
                    {"op": "BatchNorm", "name": "b", "attrs": {"eps": "x"},
                     "inputs": [[0, 0, 0], [0, 0, 0]]}]})";
  EXPECT_NE(error_of([&] { models::parse_mxnet_symbol_batch_norms(bad_eps, "s.json"); })
                .find("eps / fix_gamma unreadable"),
            std::string::npos);
}

TEST(MxnetImport, ReadsTheAuthorsBatchNormSettings) {
  const auto bns = models::read_mxnet_symbol_batch_norms(kDir + "crunet56_tiny-symbol.json");
  ASSERT_TRUE(bns.count("conv1_x_1__relu-sp__bn_gamma"));
  EXPECT_FALSE(bns.at("conv1_x_1__relu-sp__bn_gamma").fix_gamma);
  EXPECT_NEAR(bns.at("conv1_x_1__relu-sp__bn_gamma").eps, 1e-3, 1e-9);
}

}  // namespace
}  // namespace crunet
