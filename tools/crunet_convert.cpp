// crunet-convert: weights from another framework's checkpoint into a crunet safetensors file.
// `--from mxnet` reads PREFIX-symbol.json + PREFIX-EPOCH.params (docs/formats.md, the name map in
// configs/maps/mxnet_crunet.map) and lists every name or shape that does not map.
#include <cstdio>
#include <string>

#include "crunet/crunet.h"
#include "tool_main.h"

namespace {

void list(const char* title, const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  std::fprintf(stderr, "%s (%zu):\n", title, lines.size());
  for (const std::string& line : lines) std::fprintf(stderr, "  %s\n", line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Converts another framework's checkpoint into crunet weights (safetensors)",
               "crunet-convert"};
  std::string from = "mxnet", symbol, params, config, out, map;
  bool ignore_unused = false;
  app.add_option("--from", from, "the checkpoint's framework")->check(CLI::IsMember({"mxnet"}));
  app.add_option("--symbol", symbol, "MXNet PREFIX-symbol.json (BatchNorm eps and fix_gamma)")
      ->required();
  app.add_option("--params", params, "MXNet PREFIX-EPOCH.params")->required();
  app.add_option("--config", config, "the crunet model: zoo name, model spec or training config")
      ->required();
  app.add_option("--out", out, "the safetensors file to write")->required();
  app.add_option("--map", map, "name map (default: configs/maps/mxnet_crunet.map of the zoo)");
  app.add_flag("--ignore-unused", ignore_unused,
               "write the weights even if some MXNet arrays map to no crunet tensor");
  return crunet::tools::run_tool(app, argc, argv, [&] {
    crunet::tools::refuse_output_over_input(
        "--out", out,
        {{"--params", params}, {"--symbol", symbol}, {"--map", map}, {"--config", config}});
    const crunet::models::ModelSpec spec = crunet::models::load_model_spec(config);
    auto network = crunet::models::build(spec);
    const std::string map_file = map.empty() ? crunet::models::default_mxnet_name_map() : map;
    const auto rules = crunet::models::load_mxnet_name_map(map_file);
    const auto batch_norms = crunet::models::read_mxnet_symbol_batch_norms(symbol);
    const auto arrays = crunet::read_mxnet_params(params);
    const auto result = crunet::models::import_mxnet(*network, spec, arrays, rules, batch_norms);
    list("crunet tensors that do not map", result.problems);
    list("MXNet arrays that no crunet tensor takes", result.unused);
    if (!result.problems.empty() || (!result.unused.empty() && !ignore_unused)) {
      throw crunet::UserError(params + ": does not map onto " + spec.name + " with " + map_file +
                              " (" + std::to_string(result.problems.size()) + " tensors, " +
                              std::to_string(result.unused.size()) +
                              " unused arrays; listed above)");
    }
    network->load_state_dict(result.state);
    crunet::save_weights(*network, out,
                         {{"source", "mxnet"}, {"mxnet_params", params},
                          {"mxnet_symbol", symbol}, {"model", spec.name}});
    std::printf("%s: %lld MXNet arrays -> %s (%s, %zu tensors)\n", params.c_str(),
                static_cast<long long>(result.arrays_used), out.c_str(), spec.name.c_str(),
                result.state.size());
    return 0;
  });
}
