// crunet-eval through the loader: ten-crop batches give what one image at a time gives (computed
// here with the library: EvalTransform::ten_crop, one forward per image), an unreadable image is
// left out and counted instead of failing the run, train.precision is honoured, and a class count
// that disagrees with the model's exits 2.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "e2e_util.h"

namespace crunet::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Reference {
  std::int64_t samples = 0, top1 = 0, top5 = 0;
  double loss = 0;  // mean
};

// Ten-crop the slow, obvious way: each readable image alone, its ten crops in one forward pass, the
// mean of their softmax.
Reference ten_crop_one_at_a_time(const EvalFixture& fixture) {
  const train::TrainConfig config = train::load_train_config(fixture.config);
  auto model = models::build(config.model);
  train::load_model_weights(fixture.weights, *model);
  model->eval();
  NoGradGuard no_grad;
  const auto dataset = data::make_dataset(config.data, "val");
  const auto transform = data::make_eval_transform(config.data);
  Reference reference;
  double loss_sum = 0;
  for (std::int64_t i = 0; i < dataset->size(); ++i) {
    data::Example example;
    try {
      example = dataset->get(i);
    } catch (const data::BadSample&) {
      continue;
    }
    const std::vector<Tensor> crops = transform->ten_crop(example.image);
    const Shape shape = crops[0].shape();
    Tensor batch = empty({10, shape[0], shape[1], shape[2]});
    for (std::size_t c = 0; c < crops.size(); ++c) {
      std::copy_n(crops[c].data<float>(), crops[c].numel(), batch.data<float>() + c * crops[c].numel());
    }
    const std::vector<float> logits = model->forward(batch).to_vector();
    const std::size_t classes = logits.size() / 10;
    std::vector<double> mean(classes, 0.0);
    for (std::size_t crop = 0; crop < 10; ++crop) {
      const float* row = logits.data() + crop * classes;
      const float peak = *std::max_element(row, row + classes);
      double sum = 0;
      for (std::size_t c = 0; c < classes; ++c) sum += std::exp(row[c] - peak);
      for (std::size_t c = 0; c < classes; ++c) mean[c] += std::exp(row[c] - peak) / sum / 10;
    }
    const auto label = static_cast<std::size_t>(example.label);
    std::size_t above = 0;  // classes scored higher than the label
    for (std::size_t c = 0; c < classes; ++c) above += mean[c] > mean[label];
    reference.top1 += above == 0;
    reference.top5 += above < 5;
    loss_sum -= std::log(mean[label]);
    ++reference.samples;
  }
  reference.loss = loss_sum / static_cast<double>(reference.samples);
  return reference;
}

json evaluate(const EvalFixture& fixture, const std::string& folder, const std::string& name,
              std::vector<std::string> flags, RunResult* run_out = nullptr) {
  const std::string out = folder + "/" + name + ".json";
  std::vector<std::string> arguments = {"--config", fixture.config, "--weights", fixture.weights,
                                        "--json", out};
  arguments.insert(arguments.end(), flags.begin(), flags.end());
  const RunResult run = run_tool("crunet-eval", arguments);
  if (run_out != nullptr) *run_out = run;
  EXPECT_EQ(run.status, 0) << run.output;
  return run.status == 0 ? json::parse(read_file(out)) : json();
}

void expect_equal_to(const json& result, const Reference& reference) {
  const double n = static_cast<double>(reference.samples);
  EXPECT_EQ(result["samples"].get<std::int64_t>(), reference.samples);
  EXPECT_EQ(std::llround(result["top1"].get<double>() * n), reference.top1);
  EXPECT_EQ(std::llround(result["top5"].get<double>() * n), reference.top5);
  EXPECT_NEAR(result["loss"].get<double>(), reference.loss, 1e-5 * std::max(1.0, reference.loss));
}

TEST(EvalBatches, TenCropBatchesEqualOneImageAtATime) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("eval_batches");
  const EvalFixture fixture = make_eval_fixture(folder, 13, false);
  const Reference reference = ten_crop_one_at_a_time(fixture);
  ASSERT_EQ(reference.samples, 13);
  // One image a batch on the calling thread, and batches of 5 (a short last one) from 2 workers.
  const json single = evaluate(fixture, folder, "one", {"--ten-crop", "--batch-size", "1", "--workers", "0"});
  const json batched = evaluate(fixture, folder, "five", {"--ten-crop", "--batch-size", "5", "--workers", "2"});
  expect_equal_to(single, reference);
  expect_equal_to(batched, reference);
  EXPECT_EQ(batched["batch_size"].get<int>(), 5);
  EXPECT_EQ(batched["workers"].get<int>(), 2);
  EXPECT_EQ(batched["skipped"].get<int>(), 0);
  EXPECT_TRUE(batched["ten_crop"].get<bool>());
  // Single crop is a different number (one crop, not ten) over the same 13 images.
  const json centre = evaluate(fixture, folder, "centre", {"--batch-size", "4"});
  EXPECT_EQ(centre["samples"].get<int>(), 13);
  EXPECT_FALSE(centre["ten_crop"].get<bool>());
  EXPECT_NE(centre["loss"].get<double>(), batched["loss"].get<double>());
}

TEST(EvalBatches, AnUnreadableImageIsLeftOutWithAWarningAndCounted) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("eval_skip");
  const EvalFixture fixture = make_eval_fixture(folder, 13, true);
  const Reference reference = ten_crop_one_at_a_time(fixture);
  ASSERT_EQ(reference.samples, 13);  // the 14th file is not an image
  for (const bool ten : {true, false}) {
    RunResult run;
    std::vector<std::string> flags = {"--batch-size", "3"};
    if (ten) flags.push_back("--ten-crop");
    const json result = evaluate(fixture, folder, ten ? "ten" : "one", flags, &run);
    EXPECT_EQ(result["samples"].get<int>(), 13);
    EXPECT_EQ(result["skipped"].get<int>(), 1);
    EXPECT_TRUE(contains(run.output, "class1/broken.png")) << run.output;
    EXPECT_TRUE(contains(run.output, "skipped 1 unreadable image")) << run.output;
    if (ten) expect_equal_to(result, reference);
  }
}

TEST(EvalBatches, HonoursTrainPrecision) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("eval_precision");
  const EvalFixture fixture = make_eval_fixture(folder, 6, false);
  const json fp32 = evaluate(fixture, folder, "fp32", {"--ten-crop"});
  EXPECT_EQ(fp32["precision"].get<std::string>(), "fp32");
  if (!train::precision_unsupported_reason(train::Precision::kBf16, Device::cpu()).empty()) {
    // Where the CPU has no bf16, the config is refused with the reason (exit 2).
    const RunResult run = run_tool("crunet-eval", {"--config", fixture.config, "--weights", fixture.weights,
                                                   "--set", "train.precision=bf16"});
    EXPECT_EQ(run.status, 2) << run.output;
    return;
  }
  const json bf16 = evaluate(fixture, folder, "bf16", {"--ten-crop", "--set", "train.precision=bf16"});
  EXPECT_EQ(bf16["precision"].get<std::string>(), "bf16");
  EXPECT_EQ(bf16["samples"].get<int>(), 6);
  // bfloat16 convolutions: close to the float32 loss, not bit-identical to it.
  EXPECT_NEAR(bf16["loss"].get<double>(), fp32["loss"].get<double>(), 0.05);
  EXPECT_NE(bf16["loss"].get<double>(), fp32["loss"].get<double>());
}

TEST(EvalBatches, AClassCountThatDisagreesWithTheModelExits2) {
  if (!data::image_files_supported()) GTEST_SKIP() << "this build has no OpenCV to write images";
  const std::string folder = fresh_folder("eval_classes");
  const EvalFixture fixture = make_eval_fixture(folder, 6, false);
  const RunResult run = run_tool("crunet-eval", {"--config", fixture.config, "--weights", fixture.weights,
                                                 "--set", "model.classes=5"});
  EXPECT_EQ(run.status, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "model.classes is 5 but image folder " + folder + "/images/val"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "has 3 classes")) << run.output;
}

TEST(EvalBatches, AJsonPathThatCannotBeWrittenExits2BeforeTheEvaluation) {
  // It was status 1, after the whole evaluation had run.
  const std::string folder = fresh_folder("eval_json_path");
  const std::string config = folder + "/config.yaml";
  write_file(config, tiny_fashion_config(folder + "/run", 1));
  const std::string weights = folder + "/model.safetensors";
  manual_seed(5);
  save_weights(*models::build(train::load_train_config(config, {}).model), weights);
  for (const auto& [json_path, message] : std::vector<std::pair<std::string, std::string>>{
           {folder + "/nowhere/eval.json",
            "there is no folder " + folder + "/nowhere to write it in"},
           {folder, "is a folder, not a file"}}) {
    const RunResult run =
        run_tool("crunet-eval", {"--config", config, "--weights", weights, "--json", json_path});
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_TRUE(contains(run.output, "--json " + json_path + ": " + message)) << run.output;
    EXPECT_FALSE(contains(run.output, "top-1 error")) << "evaluated first:\n" << run.output;
  }
}

}  // namespace
}  // namespace crunet::e2e
