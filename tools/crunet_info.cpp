// crunet-info: what a model costs: parameters, multiply-adds, a per-stage table, activation memory.
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "crunet/crunet.h"
#include "tool_main.h"

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "x" : "") + std::to_string(shape[i]);
  return text;
}

std::string with_commas(std::int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

void print_table(const crunet::models::ModelSummary& summary, std::int64_t batch) {
  std::printf("model %s\n", summary.name.c_str());
  std::printf("%-8s %-12s %5s %6s %6s %6s %6s %14s %10s %14s\n", "stage", "unit", "units", "width",
              "D", "groups", "shares", "parameters", "MACs (G)", "output");
  for (const auto& row : summary.stages) {
    std::printf("%-8s %-12s %5lld %6lld %6lld %6lld %6lld %14s %10.3f %14s\n", row.name.c_str(),
                row.unit.c_str(), static_cast<long long>(row.units),
                static_cast<long long>(row.width), static_cast<long long>(row.bottleneck),
                static_cast<long long>(row.groups), static_cast<long long>(row.share_groups),
                with_commas(row.parameters).c_str(), row.macs / 1e9,
                shape_text(row.output_shape).c_str());
  }
  std::printf("parameters        %s\n", with_commas(summary.parameters).c_str());
  std::printf("multiply-adds     %.3f G per image\n", summary.macs / 1e9);
  std::printf("activations       %.1f MiB for a training step at batch %lld (float32, estimate)\n",
              summary.activation_bytes(batch) / 1048576.0, static_cast<long long>(batch));
}

nlohmann::json to_json(const crunet::models::ModelSummary& summary, std::int64_t batch) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& row : summary.stages) {
    stages.push_back({{"name", row.name},
                      {"unit", row.unit},
                      {"units", row.units},
                      {"width", row.width},
                      {"bottleneck", row.bottleneck},
                      {"groups", row.groups},
                      {"share_groups", row.share_groups},
                      {"params", row.parameters},
                      {"macs", row.macs},
                      {"output_shape", row.output_shape}});
  }
  return {{"name", summary.name},
          {"params", summary.parameters},
          {"macs", summary.macs},
          {"batch", batch},
          {"activation_bytes", summary.activation_bytes(batch)},
          {"stages", stages}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parameters, multiply-adds, per-stage table and activation memory of a model",
               "crunet-info"};
  std::string config;
  bool json = false;
  std::int64_t batch = 32;
  app.add_option("--config", config, "model spec (YAML), training config, or zoo name")->required();
  app.add_flag("--json", json, "print one JSON object");
  app.add_option("--batch", batch, "batch size for the activation-memory estimate")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));  // the product must not overflow
  return crunet::tools::run_tool(app, argc, argv, [&] {
    auto network = crunet::models::build(crunet::models::load_model_spec(config));
    const auto summary = crunet::models::summarize(*network);
    if (json) {
      std::cout << to_json(summary, batch).dump() << "\n";
    } else {
      print_table(summary, batch);
    }
    return 0;
  });
}
