#include "op_checks.h"

#include "crunet/ops/cpu_features.h"

namespace crunet::ops {

void fail(const char* op, const std::string& message) {
  throw ValueError(std::string(op) + ": " + message);
}

void check_defined(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is an undefined tensor");
}

void check_rank(const char* op, const Tensor& t, const char* name, std::int64_t rank) {
  check_defined(op, t, name);
  if (t.dim() != rank) {
    fail(op, std::string(name) + " must have " + std::to_string(rank) + " dimensions, got " +
                 shape_str(t.shape()));
  }
}

void check_dtype(const char* op, const Tensor& t, const char* name, DType dtype) {
  check_defined(op, t, name);
  if (t.dtype() != dtype) {
    fail(op, std::string(name) + " must be " + dtype_name(dtype) + ", got " + t.description());
  }
}

void check_floating(const char* op, const Tensor& t, const char* name) {
  check_defined(op, t, name);
  if (!is_floating(t.dtype())) {
    fail(op, std::string(name) + " must be a floating-point tensor, got " + t.description());
  }
}

void check_cpu_compute_dtype(const char* op, const Tensor& t, const char* name) {
  check_defined(op, t, name);
  if (t.dtype() == DType::Float32) return;
  if (t.dtype() != DType::BFloat16) {
    fail(op, std::string(name) + " must be float32 or bfloat16, got " + t.description());
  }
  static const CpuBf16Support support = cpu_bf16_support();
  if (!support.bf16) {
    throw NotImplementedError(std::string(op) + ": " + name + " is " + t.description() +
                              ", but bfloat16 on the CPU needs " +
                              "AVX-512 BF16 or AMX: " + support.missing);
  }
}

void check_same_device(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                       const char* b_name) {
  if (a.device() != b.device()) {
    fail(op, std::string(a_name) + " is " + a.description() + " but " + b_name + " is " +
                 b.description());
  }
}

void check_same_dtype(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                      const char* b_name) {
  if (a.dtype() != b.dtype()) {
    fail(op, std::string(a_name) + " is " + a.description() + " but " + b_name + " is " +
                 b.description());
  }
}

void check_same_shape(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                      const char* b_name) {
  if (a.shape() != b.shape()) {
    fail(op, std::string(a_name) + " has shape " + shape_str(a.shape()) + " but " + b_name +
                 " has shape " + shape_str(b.shape()) + " (no broadcasting)");
  }
}

void fail_no_backend(const char* op, const Device& device) {
  throw NotImplementedError(std::string(op) + ": no implementation for " + device.str() +
                            (device.is_cuda() ? " in this build (CUDA backend not compiled)" : ""));
}

Tensor backend_layout(const Tensor& t) {
  if (t.device().is_cpu() && t.is_contiguous(MemoryFormat::ChannelsLast)) return t;
  return t.contiguous();
}

}  // namespace crunet::ops
