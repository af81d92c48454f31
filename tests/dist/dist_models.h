#pragma once
// Small models and data for the MPI tests: a BN-free net whose middle convolution is used twice
// (a shared weight, as in a CRU share group), and a tiny CRU-Net from the zoo's units (BN, shared
// factors, residual and collective units).
#include <memory>
#include <vector>

#include "crunet/crunet.h"

namespace crunet::dist_test {

class SharedConvNet : public nn::Module {
 public:
  SharedConvNet() {
    stem_ = register_module("stem", std::make_shared<nn::Conv2d>(3, 8, 3, ops::Conv2dParams{1, 1}));
    shared_ = register_module("shared", std::make_shared<nn::Conv2d>(8, 8, 3, ops::Conv2dParams{1, 1}, true));
    head_ = register_module("head", std::make_shared<nn::Linear>(8, 5));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = ops::relu(stem_->forward(x));
    h = ops::add(ops::relu(shared_->forward(h)), h);
    h = ops::relu(shared_->forward(h));
    return head_->forward(ops::global_avg_pool(h));
  }
  std::string kind() const override { return "SharedConvNet"; }

 private:
  std::shared_ptr<nn::Conv2d> stem_, shared_;
  std::shared_ptr<nn::Linear> head_;
};

inline std::shared_ptr<nn::Module> tiny_crunet() {
  return models::build(models::parse_model_spec(R"(
name: tiny_cru
input: {channels: 3, size: 12}
classes: 5
stem: {type: small, width: 8, stride: 1}
stages:
  - {unit: res, units: 1, width: 16, bottleneck: 8, groups: 2, stride: 1}
  - {unit: cru, units: 2, width: 32, bottleneck: 16, share: 2, stride: 2}
)"));
}

// The global batch of a step: images [n, 3, 12, 12] and labels in [0, 5), the same on every rank.
struct GlobalBatch {
  Tensor images;
  Tensor labels;
};

inline GlobalBatch global_batch(std::int64_t n, std::uint64_t step) {
  GlobalBatch batch;
  batch.images = randn({n, 3, 12, 12}, 1000 + step);
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < n; ++i) labels.push_back((i * 7 + static_cast<std::int64_t>(step) * 3) % 5);
  batch.labels = from_int64_vector(labels, {n});
  return batch;
}

// Rows [first, first + count) of a contiguous tensor, as a fresh tensor.
inline Tensor rows(const Tensor& t, std::int64_t first, std::int64_t count) {
  Shape shape = t.shape();
  const std::int64_t row = t.numel() / shape[0];
  shape[0] = count;
  Tensor out = empty(shape, TensorOptions(t.dtype()));
  std::copy_n(static_cast<const char*>(t.data_ptr()) + first * row * dtype_size(t.dtype()),
              count * row * dtype_size(t.dtype()), static_cast<char*>(out.data_ptr()));
  return out;
}

}  // namespace crunet::dist_test
