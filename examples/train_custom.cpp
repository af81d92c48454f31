// train_custom: a network of its own, made of crunet::nn modules, trained by a hand-written loop
// (forward, cross-entropy, backward, SGD step): what crunet::train::Trainer does for zoo models,
// written out.
//   train_custom                        synthetic 28x28 gray images (a class is a brightness level
//                                       under noise), 30 steps
//   train_custom --fashion /usr/share/datasets/fashion-mnist --steps 50
//                                       Fashion-MNIST through crunet's data pipeline
// Prints the loss of every step; exits with status 1 when the loss did not fall.
#include <crunet/crunet.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

using crunet::Tensor;

// conv 3x3 -> BN -> ReLU -> conv 3x3/2 -> BN -> ReLU -> global average pool -> fully connected.
class SmallNet : public crunet::nn::Module {
 public:
  SmallNet(std::int64_t channels, std::int64_t classes) {
    namespace nn = crunet::nn;
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(
                                          channels, 16, 3, crunet::ops::Conv2dParams{1, 1}));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(16));
    conv2_ = register_module(
        "conv2", std::make_shared<nn::Conv2d>(16, 32, 3, crunet::ops::Conv2dParams{2, 1}));
    bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(32));
    relu_ = register_module("relu", std::make_shared<nn::ReLU>());
    pool_ = register_module("pool", std::make_shared<nn::GlobalAvgPool>());
    fc_ = register_module("fc", std::make_shared<nn::Linear>(32, classes));
  }

  Tensor forward(const Tensor& x) override {
    Tensor y = relu_->forward(bn1_->forward(conv1_->forward(x)));
    y = relu_->forward(bn2_->forward(conv2_->forward(y)));
    return fc_->forward(pool_->forward(y));  // logits [N, classes]
  }
  std::string kind() const override { return "SmallNet"; }

 private:
  std::shared_ptr<crunet::nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<crunet::nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<crunet::nn::ReLU> relu_;
  std::shared_ptr<crunet::nn::GlobalAvgPool> pool_;
  std::shared_ptr<crunet::nn::Linear> fc_;
};

constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kBatch = 64;
constexpr std::int64_t kSize = 28;

// A batch of synthetic images: class k is the brightness (k - 4.5) / 4.5 under Gaussian noise.
void synthetic_batch(std::uint64_t step, Tensor& images, Tensor& labels) {
  std::mt19937_64 random(step);
  std::vector<std::int64_t> classes(kBatch);
  for (auto& c : classes) c = static_cast<std::int64_t>(random() % kClasses);
  const std::vector<float> noise = crunet::randn({kBatch, 1, kSize, kSize}, step).to_vector();
  std::vector<float> pixels(noise.size());
  const std::size_t per_image = kSize * kSize;
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    pixels[i] = static_cast<float>(classes[i / per_image] - 4.5) / 4.5f + 0.5f * noise[i];
  }
  images = crunet::from_vector(pixels, {kBatch, 1, kSize, kSize});
  labels = crunet::from_int64_vector(classes, {kBatch});
}

}  // namespace

int main(int argc, char** argv) {
  std::string fashion_root;
  int steps = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--fashion" && i + 1 < argc) {
      fashion_root = argv[++i];
    } else if (arg == "--steps" && i + 1 < argc) {
      steps = std::max(2, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: train_custom [--fashion FASHION_MNIST_DIR] [--steps N]\n";
      return 2;
    }
  }
  try {
    crunet::manual_seed(7);
    auto network = std::make_shared<SmallNet>(1, kClasses);
    std::cout << "SmallNet: " << crunet::nn::count_parameters(*network) << " parameters\n";

    crunet::optim::SGDOptions options;
    options.lr = 0.1;
    options.momentum = 0.9;
    options.nesterov = true;
    options.weight_decay = 1e-4;
    crunet::optim::SGD optimizer(network->named_parameters(), options);

    // Fashion-MNIST: the IDX files read into memory, each image normalised, batches from the
    // threaded loader. Without it, synthetic batches.
    std::unique_ptr<crunet::data::DataLoader> loader;
    if (!fashion_root.empty()) {
      auto dataset = crunet::data::load_idx_split(fashion_root, "train");
      crunet::data::EvalTransformParams keep{/*resize=*/0, /*size=*/0};
      crunet::data::Normalization normalization{{72.94f}, {0.01133f}};
      auto transform =
          std::make_shared<crunet::data::EvalTransform>(keep, normalization, /*channels=*/1);
      crunet::data::LoaderOptions loader_options;
      loader_options.batch_size = kBatch;
      loader_options.workers = 1;
      loader_options.seed = 7;
      loader = std::make_unique<crunet::data::DataLoader>(dataset, transform, loader_options);
      loader->start_epoch(0);
      std::cout << dataset->describe() << "\n";
    }

    network->train();
    std::vector<float> losses;
    for (int step = 0; step < steps; ++step) {
      Tensor images, labels;
      if (loader) {
        crunet::data::Batch batch;
        if (!loader->next(batch)) break;
        images = batch.images;
        labels = batch.labels;
      } else {
        synthetic_batch(static_cast<std::uint64_t>(step), images, labels);
      }
      optimizer.zero_grad();
      const Tensor logits = network->forward(images);
      const Tensor loss = crunet::ops::cross_entropy(logits, labels);
      loss.backward();  // gradients accumulate into the parameters' .grad()
      optimizer.step();
      losses.push_back(loss.item());
      std::cout << "step " << std::setw(3) << step + 1 << "  loss " << std::fixed
                << std::setprecision(4) << losses.back() << "\n";
    }

    const std::size_t k = std::max<std::size_t>(1, losses.size() / 5);
    const float first = std::accumulate(losses.begin(), losses.begin() + k, 0.0f) / k;
    const float last = std::accumulate(losses.end() - k, losses.end(), 0.0f) / k;
    std::cout << "mean loss of the first " << k << " steps " << first << ", of the last " << k
              << " " << last << (last < first ? ": falling\n" : ": NOT falling\n");
    return last < first ? 0 : 1;
  } catch (const crunet::Error& e) {
    std::cerr << "train_custom: " << e.what() << "\n";
    return 1;
  }
}
