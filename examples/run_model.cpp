// run_model: builds a model of the zoo, runs it on a tensor and reads the logits: the smallest
// complete use of libcrunet.
//   run_model                           crunet56 on a random 1x3x224x224 tensor
//   run_model crunet56 --size 64        a smaller input (every zoo network ends in a global pool)
//   run_model spec.yaml --save-weights w.safetensors    also writes its (freshly drawn) weights
#include <crunet/crunet.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string model = "crunet56", save_path;
  std::int64_t size = 0;  // 0: the spec's input size
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--size" && i + 1 < argc) {
      size = std::atoll(argv[++i]);
    } else if (arg == "--save-weights" && i + 1 < argc) {
      save_path = argv[++i];
    } else if (!arg.empty() && arg[0] != '-') {
      model = arg;
    } else {
      std::cerr << "usage: run_model [ZOO_NAME|SPEC.yaml] [--size N] [--save-weights PATH]\n";
      return 2;
    }
  }
  try {
    crunet::manual_seed(0);  // the weights are drawn from the default generator
    std::shared_ptr<crunet::models::Network> network = crunet::models::build(model);
    const crunet::models::ModelSpec& spec = network->spec();
    if (size <= 0) size = spec.input_size;
    std::cout << spec.name << " (" << spec.source << "): "
              << crunet::nn::count_parameters(*network) << " parameters\n";

    network->eval();                 // batch norm uses its running statistics
    crunet::NoGradGuard no_grad;     // inference: record nothing for backward
    const crunet::Tensor input =
        crunet::randn({1, spec.in_channels, size, size}, std::uint64_t{1});
    const crunet::Tensor logits = network->forward(input);  // [1, classes]

    const std::vector<float> values = logits.to_vector();
    const auto best = std::max_element(values.begin(), values.end());
    std::cout << "input " << crunet::shape_str(input.shape()) << " -> logits "
              << crunet::shape_str(logits.shape()) << ", first:";
    for (std::size_t i = 0; i < std::min<std::size_t>(5, values.size()); ++i) {
      std::cout << ' ' << values[i];
    }
    std::cout << ", argmax " << (best - values.begin()) << " (" << *best << ")\n";

    if (!save_path.empty()) {
      crunet::save_weights(*network, save_path);
      std::cout << "weights written to " << save_path << "\n";
    }
  } catch (const crunet::Error& e) {  // every error of the library derives from crunet::Error
    std::cerr << "run_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
