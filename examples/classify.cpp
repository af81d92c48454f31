// classify: a model and its weights on one image file; prints the five most likely classes.
//   classify --model crunet56 --weights crunet56.safetensors cat.jpg
//   classify --config fashion_crunet.yaml --weights runs/f/model.safetensors shoe.png
//   classify ... --labels names.txt     one class name per line, in label order
// --model takes a zoo name or a model spec file; the evaluation transform is then the paper's
// (short side to 256/224 of the input size, centre crop, mean [124, 117, 104], scale 0.0167).
// --config takes a training config and uses its model and its data section's evaluation settings.
// The weights are a weights file (crunet::save_weights, crunet-train's model.safetensors) or a
// training checkpoint.
#include <crunet/crunet.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace {

int usage() {
  std::cerr << "usage: classify (--model NAME|SPEC.yaml | --config TRAIN.yaml) --weights PATH\n"
               "                [--labels FILE] [--top K] IMAGE\n";
  return 2;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw crunet::UserError(path + ": cannot read the labels file");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, config_path, weights, labels_path, image_path;
  std::size_t top = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--model" && has_value) {
      model = argv[++i];
    } else if (arg == "--config" && has_value) {
      config_path = argv[++i];
    } else if (arg == "--weights" && has_value) {
      weights = argv[++i];
    } else if (arg == "--labels" && has_value) {
      labels_path = argv[++i];
    } else if (arg == "--top" && has_value) {
      top = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
    } else if (!arg.empty() && arg[0] != '-' && image_path.empty()) {
      image_path = arg;
    } else {
      return usage();
    }
  }
  if (model.empty() == config_path.empty() || weights.empty() || image_path.empty()) return usage();

  try {
    // The model and the evaluation transform that goes with it.
    crunet::models::ModelSpec spec;
    std::shared_ptr<crunet::data::EvalTransform> transform;
    if (!config_path.empty()) {
      const crunet::train::TrainConfig config = crunet::train::load_train_config(config_path);
      spec = config.model;
      transform = crunet::data::make_eval_transform(config.data);
    } else {
      spec = crunet::models::load_model_spec(model);
      crunet::data::EvalTransformParams params;
      params.size = spec.input_size;
      params.resize = spec.input_size * 256 / 224;
      crunet::data::Normalization normalization;
      if (spec.in_channels == 1) normalization.mean = {118.0f};  // the luma of the RGB mean
      transform = std::make_shared<crunet::data::EvalTransform>(params, normalization,
                                                                spec.in_channels);
    }
    std::shared_ptr<crunet::models::Network> network = crunet::models::build(spec);
    crunet::train::load_model_weights(weights, *network);  // every name and shape must match
    network->eval();

    // The image: decoded to the model's channels, resized and cropped, normalised: [C, H, W].
    const crunet::data::Image image = crunet::data::read_image(image_path, spec.in_channels);
    const crunet::Tensor chw = transform->apply(image);
    const crunet::Tensor batch = chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)});

    crunet::NoGradGuard no_grad;
    const std::vector<float> logits = network->forward(batch).to_vector();

    // Softmax, then the `top` most likely classes.
    const float largest = *std::max_element(logits.begin(), logits.end());
    std::vector<double> probabilities(logits.size());
    double sum = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      probabilities[i] = std::exp(static_cast<double>(logits[i] - largest));
      sum += probabilities[i];
    }
    for (double& p : probabilities) p /= sum;
    std::vector<std::size_t> order(probabilities.size());
    std::iota(order.begin(), order.end(), 0);
    top = std::min(top, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](std::size_t a, std::size_t b) { return probabilities[a] > probabilities[b]; });
    const std::vector<std::string> labels =
        labels_path.empty() ? std::vector<std::string>() : read_lines(labels_path);

    std::cout << image_path << " (" << image.width << "x" << image.height
              << (image.channels == 1 ? " gray" : " RGB") << ") -> "
              << crunet::shape_str(batch.shape()) << ", " << spec.name << ":\n";
    for (std::size_t rank = 0; rank < top; ++rank) {
      const std::size_t c = order[rank];
      std::cout << "  " << rank + 1 << ". class " << std::setw(4) << c << "  " << std::fixed
                << std::setprecision(4) << probabilities[c];
      if (c < labels.size()) std::cout << "  " << labels[c];
      std::cout << "\n";
    }
  } catch (const crunet::UserError& e) {  // a wrong file, name or config: the user's to fix
    std::cerr << "classify: " << e.what() << "\n";
    return 2;
  } catch (const crunet::Error& e) {
    std::cerr << "classify: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
