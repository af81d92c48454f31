// Bucketed gradient averaging (include/crunet/dist/reducer.h). Each bucket's buffer holds its
// parameters' gradients back to back, then one flag per parameter (1 where this process had a
// gradient): the same all-reduce sums both, so every process learns whether anyone had a gradient
// for a parameter without a second collective.
#include "crunet/dist/reducer.h"

#include <algorithm>

#include "crunet/core/elementwise.h"

namespace crunet::dist {
namespace {

// A contiguous view of `count` elements of a flat buffer from `offset`, with `shape`.
Tensor slice(const Tensor& buffer, std::int64_t offset, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = buffer.impl().storage;
  impl->offset = buffer.impl().offset + offset;
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = buffer.dtype();
  return Tensor(impl);
}

}  // namespace

struct GradientReducer::Bucket {
  std::vector<std::size_t> parameters;  // indices into parameters_
  std::vector<std::int64_t> offsets;    // of each gradient in the buffer, in elements
  std::int64_t numel = 0;               // gradient elements; the flags follow
  Tensor buffer;                        // float32 [numel + parameters.size()]
  std::vector<float> flags;
  std::vector<char> filled;
  std::size_t filled_count = 0;
  std::unique_ptr<Work> work;

  bool full() const { return filled_count == parameters.size(); }
};

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group,
                                 std::vector<nn::NamedTensor> parameters, ReducerOptions options)
    : group_(std::move(group)) {
  if (!group_) throw ValueError("GradientReducer: no process group");
  // An MPI group of one still reduces (through NCCL on a GPU): `mpirun -np 1` exercises the path.
  active_ = group_->world_size() > 1 || group_->backend() != "single";
  for (auto& [name, tensor] : parameters) {
    if (!tensor.requires_grad()) continue;
    if (tensor.dtype() != DType::Float32) {
      throw ValueError("GradientReducer: parameter " + name + " is " + tensor.description() +
                       "; gradients are averaged in float32");
    }
    if (!parameters_.empty() && tensor.device() != parameters_.front().second.device()) {
      throw ValueError("GradientReducer: parameter " + name + " is on " + tensor.device().str() +
                       " but " + parameters_.front().first + " on " +
                       parameters_.front().second.device().str());
    }
    parameters_.emplace_back(name, tensor);
  }
  bucket_of_.resize(parameters_.size());
  slot_of_.resize(parameters_.size());
  // Reverse registration order: the head's gradients are final first, the stem's last.
  const std::size_t cap = std::max<std::size_t>(options.bucket_bytes, 1);
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    const Tensor& p = parameters_[k].second;
    if (buckets_.empty() ||
        (buckets_.back()->numel > 0 &&
         static_cast<std::size_t>(buckets_.back()->numel + p.numel()) * sizeof(float) > cap)) {
      buckets_.push_back(std::make_unique<Bucket>());
    }
    Bucket& bucket = *buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_of_[k] = bucket.parameters.size();
    bucket.parameters.push_back(k);
    bucket.offsets.push_back(bucket.numel);
    bucket.numel += p.numel();
  }
  for (auto& bucket : buckets_) {
    const std::size_t count = bucket->parameters.size();
    bucket->buffer = zeros({bucket->numel + static_cast<std::int64_t>(count)},
                           TensorOptions(DType::Float32, parameters_.front().second.device()));
    bucket->flags.assign(count, 0.0f);
    bucket->filled.assign(count, 0);
  }
  if (active_) {
    hooks_.reserve(parameters_.size());
    for (std::size_t k = 0; k < parameters_.size(); ++k) {
      hooks_.push_back(autograd::register_grad_ready_hook(
          parameters_[k].second, [this, k](const Tensor&) { on_grad_ready(k); }));
    }
  }
}

GradientReducer::~GradientReducer() = default;

std::size_t GradientReducer::bucket_count() const { return buckets_.size(); }

std::vector<std::vector<std::string>> GradientReducer::bucket_names() const {
  std::vector<std::vector<std::string>> names;
  for (const auto& bucket : buckets_) {
    names.emplace_back();
    for (std::size_t k : bucket->parameters) names.back().push_back(parameters_[k].first);
  }
  return names;
}

void GradientReducer::prepare() { armed_ = active_; }

void GradientReducer::fill(std::size_t parameter) {
  Bucket& bucket = *buckets_[bucket_of_[parameter]];
  const std::size_t slot = slot_of_[parameter];
  if (bucket.filled[slot]) return;
  const Tensor& p = parameters_[parameter].second;
  Tensor view = slice(bucket.buffer, bucket.offsets[slot], p.shape());
  const Tensor grad = p.grad();
  if (grad.defined()) {
    view.copy_(grad);
    bucket.flags[slot] = 1.0f;
  } else {
    view.zero_();
    bucket.flags[slot] = 0.0f;
  }
  bucket.filled[slot] = 1;
  ++bucket.filled_count;
}

void GradientReducer::launch_ready_buckets() {
  // Strictly in index order on every process, so that the collectives pair up.
  while (next_launch_ < buckets_.size() && buckets_[next_launch_]->full()) {
    Bucket& bucket = *buckets_[next_launch_];
    const Tensor flags = slice(bucket.buffer, bucket.numel,
                               {static_cast<std::int64_t>(bucket.parameters.size())});
    copy_bytes(flags.data_ptr(), flags.device(), bucket.flags.data(), Device::cpu(),
               bucket.flags.size() * sizeof(float));
    bucket.work = group_->all_reduce_async(bucket.buffer, ReduceOp::Sum);
    ++next_launch_;
  }
}

void GradientReducer::poll_in_flight() {
  // MPI moves non-blocking collectives along only inside MPI calls: test the ones in flight.
  for (std::size_t b = 0; b < next_launch_; ++b) {
    if (buckets_[b]->work) buckets_[b]->work->poll();
  }
}

void GradientReducer::on_grad_ready(std::size_t parameter) {
  if (!armed_) return;
  fill(parameter);
  launch_ready_buckets();
  poll_in_flight();
}

void GradientReducer::finish() {
  if (!active_) return;
  armed_ = false;
  // Parameters whose hook did not fire this pass: their gradient as it stands (or zeros).
  for (std::size_t k = 0; k < parameters_.size(); ++k) fill(k);
  launch_ready_buckets();
  const float average = 1.0f / static_cast<float>(group_->world_size());
  for (auto& bucket : buckets_) {
    bucket->work->wait();
    bucket->work.reset();
    const std::size_t count = bucket->parameters.size();
    std::vector<float> had_gradient(count);
    const Tensor flags = slice(bucket->buffer, bucket->numel, {static_cast<std::int64_t>(count)});
    copy_bytes(had_gradient.data(), Device::cpu(), flags.data_ptr(), flags.device(),
               count * sizeof(float));
    scale_inplace(bucket->buffer, average);
    for (std::size_t slot = 0; slot < count; ++slot) {
      Tensor& p = parameters_[bucket->parameters[slot]].second;
      if (had_gradient[slot] > 0) {
        const Tensor view = slice(bucket->buffer, bucket->offsets[slot], p.shape());
        if (p.grad().defined()) {
          p.grad().copy_(view);
        } else {
          p.set_grad(view.clone());
        }
      }
      bucket->filled[slot] = 0;
    }
    bucket->filled_count = 0;
  }
  next_launch_ = 0;
}

}  // namespace crunet::dist
