#pragma once
// What the oneDNN paths of the CPU ops share: one engine for the process, one
// stream per thread, NCHW and NHWC memory descriptors in float32 or bfloat16, a bounded cache of
// created primitives, and the mapping of dnnl::error to crunet::RuntimeError. Only compiled with
// CRUNET_WITH_ONEDNN.
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <utility>

#include "crunet/core/error.h"
#include "crunet/core/tensor.h"

namespace crunet::ops::cpu::onednn {

// Never destroyed: the cached primitives below may outlive any static destroyed at exit.
inline dnnl::engine& engine() {
  static dnnl::engine* instance = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *instance;
}

// oneDNN streams are not meant to be shared between threads that execute at the same time.
inline dnnl::stream& stream() {
  thread_local dnnl::stream instance(engine());
  return instance;
}

// oneDNN's name for a floating type the CPU ops compute in (float32 or bfloat16).
inline dnnl::memory::data_type data_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return dnnl::memory::data_type::f32;
    case DType::BFloat16: return dnnl::memory::data_type::bf16;
    default: break;
  }
  throw ValueError(std::string("oneDNN CPU ops compute in float32 or bfloat16, not ") +
                   dtype_name(dtype));
}

inline dnnl::memory::desc nchw(const Shape& shape, DType dtype = DType::Float32) {
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), data_type(dtype),
                            dnnl::memory::format_tag::nchw);
}

// A dense 4-d float32 or bfloat16 tensor's layout as oneDNN sees it: NCHW or NHWC.
inline dnnl::memory::desc activation(const Shape& shape, MemoryFormat format,
                                     DType dtype = DType::Float32) {
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), data_type(dtype),
                            format == MemoryFormat::ChannelsLast ? dnnl::memory::format_tag::nhwc
                                                                 : dnnl::memory::format_tag::nchw);
}

inline dnnl::memory::desc vector_f32(std::int64_t size) {
  return dnnl::memory::desc({size}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
}

// A memory object over a tensor's storage (no copy); oneDNN only reads inputs.
inline dnnl::memory wrap(const dnnl::memory::desc& desc, const Tensor& t) {
  return dnnl::memory(desc, engine(), t.data_ptr());
}

// A tensor big enough to hold a oneDNN workspace of this description (max pooling's argmax, the
// fused batch norm + ReLU's mask), kept by the autograd node between forward and backward.
inline Tensor workspace_tensor(const dnnl::memory::desc& desc) {
  const auto words = static_cast<std::int64_t>((desc.get_size() + 7) / 8);
  return empty({words}, DType::Int64);
}

// Runs `body`, turning oneDNN's exceptions into RuntimeError naming the op.
template <typename Body>
auto checked(const char* op, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    throw RuntimeError(std::string(op) + ": oneDNN failed (status " +
                       std::to_string(static_cast<int>(e.status)) + "): " + e.what());
  }
}

// Created primitives by shape and parameters, so that a training step does not recreate them.
// Bounded: a program that sees many shapes (evaluation at varying sizes) starts over.
template <typename Key, typename Value>
class PrimitiveCache {
 public:
  template <typename Make>
  Value get(const Key& key, Make&& make) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = entries_.find(key);
      if (found != entries_.end()) return found->second;
    }
    Value value = make();  // outside the lock: creation can take a while
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    return entries_.emplace(key, std::move(value)).first->second;
  }

 private:
  static constexpr std::size_t kMaxEntries = 256;
  std::mutex mutex_;
  std::map<Key, Value> entries_;
};

}  // namespace crunet::ops::cpu::onednn
