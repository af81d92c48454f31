// Data-parallel training under `mpirun -np 2` (label dist): the process group's collectives,
// bit-identical weights on every rank after every update, two ranks with batch B equal to one
// rank with batch 2B (BN-free with a shared weight; CRU-Net with SyncBN), parameters without a
// gradient, and a sharded evaluation that counts every sample once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "crunet/crunet.h"
#include "dist_models.h"

namespace crunet::dist_test {
namespace {

std::shared_ptr<dist::ProcessGroup> group() { return dist::world(); }

#define NEEDS_TWO_RANKS()                                                   \
  if (group()->world_size() < 2) GTEST_SKIP() << "run under mpirun -np 2"

optim::SGDOptions sgd_options() {
  optim::SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.nesterov = true;
  o.weight_decay = 5e-4;
  return o;
}

// True on every rank when every rank holds exactly rank 0's bytes for every tensor.
bool identical_across_ranks(const std::vector<nn::NamedTensor>& tensors, std::string& first_difference) {
  double differ = 0;
  for (const auto& [name, tensor] : tensors) {
    Tensor root = tensor.clone();
    group()->broadcast(root, 0);
    if (std::memcmp(root.data_ptr(), tensor.data_ptr(), tensor.nbytes()) != 0) {
      if (differ == 0) first_difference = name;
      differ = 1;
    }
  }
  std::vector<double> any{differ};
  group()->all_reduce(any, dist::ReduceOp::Max);
  return any[0] == 0;
}

double relative_error(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    norm += static_cast<double>(y[i]) * y[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

TEST(ProcessGroup, CollectivesReduceAndBroadcast) {
  NEEDS_TWO_RANKS();
  auto g = group();
  const int rank = g->rank(), world = g->world_size();
  EXPECT_EQ(g->backend(), "mpi");
  EXPECT_GE(g->local_size(), 1);
  Tensor t = full({5}, rank + 1.0);
  g->all_reduce(t, dist::ReduceOp::Sum);
  EXPECT_EQ(t.to_vector(), std::vector<float>(5, world * (world + 1) / 2.0f));
  Tensor a = full({3}, rank + 1.0);
  g->all_reduce(a, dist::ReduceOp::Average);
  EXPECT_FLOAT_EQ(a.to_vector()[0], (world + 1) / 2.0f);
  std::vector<double> values{static_cast<double>(rank), 1.0};
  g->all_reduce(values, dist::ReduceOp::Max);
  EXPECT_EQ(values, (std::vector<double>{world - 1.0, 1.0}));
  std::string text = rank == 1 ? "from rank one" : "";
  g->broadcast(text, 1);
  EXPECT_EQ(text, "from rank one");
  Tensor ints = from_int64_vector({rank * 10, rank * 20}, {2});
  g->broadcast(ints, 1);
  EXPECT_EQ(ints.to_int64_vector(), (std::vector<std::int64_t>{10, 20}));
  auto copy = g->duplicate();
  EXPECT_EQ(copy->rank(), rank);
  copy->barrier();
  g->barrier();
}

TEST(ProcessGroup, StartsFromRankZerosWeights) {
  NEEDS_TWO_RANKS();
  manual_seed(100 + group()->rank());  // different weights on purpose
  auto model = tiny_crunet();
  std::string name;
  EXPECT_FALSE(identical_across_ranks(model->state_dict(), name));
  dist::broadcast_module(*group(), *model);
  EXPECT_TRUE(identical_across_ranks(model->state_dict(), name)) << name;
}

// Trains on different data per rank; after every update the weights must be bit-identical.
void expect_identical_after_every_update(std::size_t bucket_bytes, int accumulate) {
  auto g = group();
  manual_seed(5);
  auto model = tiny_crunet();
  dist::broadcast_module(*g, *model);
  optim::SGD sgd(model->named_parameters(), sgd_options());
  dist::GradientReducer reducer(g, model->named_parameters(), {bucket_bytes});
  if (bucket_bytes < 100000) EXPECT_GT(reducer.bucket_count(), 3u);
  const std::vector<float> before = model->named_parameters().front().second.to_vector();
  for (int step = 0; step < 4; ++step) {
    std::vector<double> losses(g->world_size(), 0.0);
    for (int micro = 0; micro < accumulate; ++micro) {
      const GlobalBatch batch = global_batch(8, static_cast<std::uint64_t>(step * 10 + micro));
      const Tensor images = rows(batch.images, 4 * g->rank(), 4);
      const Tensor labels = rows(batch.labels, 4 * g->rank(), 4);
      if (micro + 1 == accumulate) reducer.prepare();
      const Tensor loss = ops::cross_entropy(model->forward(images), labels);
      losses[static_cast<std::size_t>(g->rank())] = loss.item();
      loss.backward(accumulate > 1 ? full({}, 1.0 / accumulate) : Tensor());
    }
    reducer.finish();
    sgd.step();
    sgd.zero_grad();
    g->all_reduce(losses, dist::ReduceOp::Sum);
    EXPECT_NE(losses[0], losses[1]) << "the ranks should see different data";
    std::string name;
    EXPECT_TRUE(identical_across_ranks(model->named_parameters(), name))
        << "after update " << step + 1 << ": " << name;
  }
  EXPECT_NE(model->named_parameters().front().second.to_vector(), before);
}

TEST(GradientReducer, WeightsAreBitIdenticalAfterEveryUpdateWithManyBuckets) {
  NEEDS_TWO_RANKS();
  expect_identical_after_every_update(4096, 1);
}

TEST(GradientReducer, WeightsAreBitIdenticalWithOneBucketAndAccumulation) {
  NEEDS_TWO_RANKS();
  expect_identical_after_every_update(25u << 20, 2);
}

// Two ranks with batch B each against this process alone with batch 2B, after `updates` updates.
// Both compute the same updates up to rounding, but not the same rounding (another batch split,
// SyncBN's own statistics). Where an activation lies within rounding of a ReLU's kink the two runs
// can take different sides of it, which changes that element's gradient by a whole term, and
// training amplifies the difference step by step: in the tiny CRU-Net, a 1e-6 relative change of
// the head's input moves head.bn.bias's gradient by 3%. So `per_tensor` compares every tensor of
// the state; otherwise every running statistic (forward values, no kink) is compared per tensor
// and the parameters as one vector.
void expect_two_ranks_equal_one(const std::function<std::shared_ptr<nn::Module>()>& make,
                                bool sync_bn, int updates, bool per_tensor) {
  auto g = group();
  const std::int64_t b = 4;
  manual_seed(9);
  auto reference = make();
  manual_seed(9);
  auto parallel = make();
  dist::broadcast_module(*g, *parallel);
  if (sync_bn) EXPECT_GT(dist::enable_sync_batch_norm(*parallel, g), 0);
  optim::SGD reference_sgd(reference->named_parameters(), sgd_options());
  optim::SGD parallel_sgd(parallel->named_parameters(), sgd_options());
  dist::GradientReducer reducer(g, parallel->named_parameters(), {8192});
  for (int step = 0; step < updates; ++step) {
    const GlobalBatch batch = global_batch(2 * b, static_cast<std::uint64_t>(step));
    ops::cross_entropy(reference->forward(batch.images), batch.labels).backward();
    reference_sgd.step();
    reference_sgd.zero_grad();

    reducer.prepare();
    ops::cross_entropy(parallel->forward(rows(batch.images, b * g->rank(), b)),
                       rows(batch.labels, b * g->rank(), b))
        .backward();
    reducer.finish();
    parallel_sgd.step();
    parallel_sgd.zero_grad();
  }
  const auto ref_state = reference->state_dict();
  const auto par_state = parallel->state_dict();
  ASSERT_EQ(ref_state.size(), par_state.size());
  double worst = 0, difference = 0, norm = 0;
  std::string worst_name;
  for (std::size_t i = 0; i < ref_state.size(); ++i) {
    const std::string& name = ref_state[i].first;
    if (ref_state[i].second.dtype() != DType::Float32) continue;  // num_batches_tracked
    if (per_tensor || name.find("running_") != std::string::npos) {
      const double error = relative_error(par_state[i].second, ref_state[i].second);
      if (error > worst) {
        worst = error;
        worst_name = name;
      }
      EXPECT_LT(error, 1e-5) << name;
    } else {
      const std::vector<float> x = par_state[i].second.to_vector();
      const std::vector<float> y = ref_state[i].second.to_vector();
      for (std::size_t j = 0; j < x.size(); ++j) {
        difference += (static_cast<double>(x[j]) - y[j]) * (static_cast<double>(x[j]) - y[j]);
        norm += static_cast<double>(y[j]) * y[j];
      }
    }
  }
  std::printf("[ rank %d ] after %d updates: worst relative error %.3g (%s)", g->rank(), updates,
              worst, worst_name.c_str());
  if (!per_tensor) {
    const double whole = std::sqrt(difference) / std::sqrt(norm);
    std::printf(", parameters as one vector %.3g", whole);
    EXPECT_LT(whole, 1e-4);
  }
  std::printf("\n");
}

TEST(DataParallel, TwoRanksEqualOneRankWithTwiceTheBatchWithoutBatchNorm) {
  NEEDS_TWO_RANKS();
  expect_two_ranks_equal_one([] { return std::make_shared<SharedConvNet>(); }, false, 5, true);
}

TEST(DataParallel, TwoRanksEqualOneRankWithTwiceTheBatchWithSyncBN) {
  NEEDS_TWO_RANKS();
  expect_two_ranks_equal_one(tiny_crunet, true, 1, false);
}

// A model where `unused` never gets a gradient and `rank0_only` gets one only on rank 0.
class PartlyUsedNet : public nn::Module {
 public:
  PartlyUsedNet() {
    register_parameter("used", &used_, full({3}, 1.0));
    register_parameter("rank0_only", &rank0_only_, full({3}, 2.0));
    register_parameter("unused", &unused_, full({3}, 3.0));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = ops::add(x, used_);
    if (dist::world()->rank() == 0) y = ops::add(y, rank0_only_);
    return y;
  }
  std::string kind() const override { return "PartlyUsedNet"; }

 private:
  Tensor used_, rank0_only_, unused_;
};

TEST(GradientReducer, ParametersWithoutAGradientDoNotHang) {
  NEEDS_TWO_RANKS();
  auto g = group();
  PartlyUsedNet model;
  dist::GradientReducer reducer(g, model.named_parameters(), {16});  // one bucket each
  reducer.prepare();
  ops::relu(model.forward(full({3}, g->rank() + 1.0))).backward(full({3}, g->rank() + 1.0));
  reducer.finish();
  const auto params = model.named_parameters();
  // used: (1 + 2) / 2; rank0_only: (1 + 0) / 2 on both ranks; unused: no gradient anywhere.
  EXPECT_EQ(params[0].second.grad().to_vector(), std::vector<float>(3, 1.5f));
  ASSERT_TRUE(params[1].second.grad().defined());
  EXPECT_EQ(params[1].second.grad().to_vector(), std::vector<float>(3, 0.5f));
  EXPECT_FALSE(params[2].second.grad().defined());
}

// Seven samples over two ranks: 4 + 3, every one counted once, as one process sees them.
TEST(DataParallel, ShardedEvaluationCountsEverySampleOnce) {
  NEEDS_TWO_RANKS();
  auto g = group();
  const std::int64_t n = 7;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * 12 * 12 * 3));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37 % 251);
  std::vector<std::int64_t> labels{0, 1, 2, 3, 4, 0, 1};
  auto dataset = std::make_shared<data::MemoryDataset>(12, 12, 3, pixels, labels, 5, "seven");
  class Plain : public data::Transform {
   public:
    Tensor apply(const data::Image& image, Generator&) const override {
      return data::to_tensor(image, {{128.0f}, {0.02f}});
    }
  };
  auto transform = std::make_shared<Plain>();
  manual_seed(4);
  auto model = models::build(models::parse_model_spec(R"(
name: tiny_cru
input: {channels: 3, size: 12}
classes: 5
stem: {type: small, width: 8, stride: 1}
stages:
  - {unit: cru, units: 2, width: 16, bottleneck: 8, share: 2, stride: 2}
)"));
  data::LoaderOptions options;
  options.batch_size = 3;
  options.shuffle = false;
  options.drop_last = false;
  options.workers = 0;
  data::DataLoader whole(dataset, transform, options);
  const train::EvalResult alone = train::evaluate(*model, whole, Device::cpu());
  options.rank = g->rank();
  options.world_size = g->world_size();
  data::DataLoader shard(dataset, transform, options);
  EXPECT_EQ(shard.samples_per_epoch(), g->rank() == 0 ? 4 : 3);
  const train::EvalResult together = train::evaluate(*model, shard, Device::cpu(), g.get());
  EXPECT_EQ(together.samples, n);
  EXPECT_EQ(together.top1, alone.top1);
  EXPECT_EQ(together.top5, alone.top5);
  EXPECT_NEAR(together.loss, alone.loss, 1e-5 * std::abs(alone.loss));
}

// NCCL: one GPU per rank (skipped without enough GPUs; `mpirun -np 1` on a one-GPU machine runs it).
TEST(Nccl, AllReduceBroadcastAndBucketsOnTheGpu) {
  auto g = group();
  if (!cuda_is_available() || cuda_device_count() < g->local_size()) {
    GTEST_SKIP() << "needs one CUDA GPU per process of the node";
  }
  if (!dist::built_with_nccl()) GTEST_SKIP() << "this build has no NCCL";
  const Device device = Device::cuda(g->local_rank());
  const int rank = g->rank(), world = g->world_size();
  Tensor t = full({1000}, rank + 1.0, TensorOptions(DType::Float32, device));
  g->all_reduce(t, dist::ReduceOp::Sum);
  EXPECT_EQ(t.to_vector(), std::vector<float>(1000, world * (world + 1) / 2.0f));
  g->all_reduce(t, dist::ReduceOp::Average);
  EXPECT_EQ(t.to_vector(), std::vector<float>(1000, world * (world + 1) / 2.0f));
  Tensor b = full({7}, rank, TensorOptions(DType::Float32, device));
  g->broadcast(b, world - 1);
  EXPECT_EQ(b.to_vector(), std::vector<float>(7, world - 1.0f));
  // A CRU-Net's gradients through the reducer on the GPU equal the CPU reducer's.
  manual_seed(5);
  auto on_gpu = tiny_crunet();
  manual_seed(5);
  auto on_cpu = tiny_crunet();
  on_gpu->to(device);
  dist::GradientReducer gpu_reducer(g, on_gpu->named_parameters(), {8192});
  dist::GradientReducer cpu_reducer(g, on_cpu->named_parameters(), {8192});
  const GlobalBatch batch = global_batch(2 * world, 1);
  const Tensor images = rows(batch.images, 2 * rank, 2), labels = rows(batch.labels, 2 * rank, 2);
  gpu_reducer.prepare();
  ops::cross_entropy(on_gpu->forward(images.to(device)), labels.to(device)).backward();
  gpu_reducer.finish();
  cpu_reducer.prepare();
  ops::cross_entropy(on_cpu->forward(images), labels).backward();
  cpu_reducer.finish();
  const auto gpu_params = on_gpu->named_parameters(), cpu_params = on_cpu->named_parameters();
  for (std::size_t i = 0; i < gpu_params.size(); ++i) {
    EXPECT_LT(relative_error(gpu_params[i].second.grad().to(Device::cpu()),
                             cpu_params[i].second.grad()),
              1e-3)
        << gpu_params[i].first;
  }
}

}  // namespace
}  // namespace crunet::dist_test
