#pragma once
// Argument checks shared by every op: each error names the op and the shapes involved.
#include <string>

#include "crunet/core/tensor.h"

namespace crunet::ops {

// Throws ValueError("<op>: <message>; <name> is float32[...] on cpu").
[[noreturn]] void fail(const char* op, const std::string& message);

void check_defined(const char* op, const Tensor& t, const char* name);
void check_rank(const char* op, const Tensor& t, const char* name, std::int64_t rank);
void check_dtype(const char* op, const Tensor& t, const char* name, DType dtype);
void check_floating(const char* op, const Tensor& t, const char* name);
// A CPU op's compute type: float32, or bfloat16 where this build and this CPU have the bfloat16
// path (crunet/ops/cpu_features.h); otherwise the message says what the CPU or the build lacks.
void check_cpu_compute_dtype(const char* op, const Tensor& t, const char* name);
// Same device and dtype; the message names both tensors.
void check_same_device(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                       const char* b_name);
void check_same_dtype(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                      const char* b_name);
void check_same_shape(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                      const char* b_name);

// The layout an op hands its backend: on the CPU a tensor dense in either memory format as it is
// (NCHW or channels-last; the CPU entries read both), elsewhere the NCHW-contiguous tensor (the
// CUDA backend reads NCHW only). A strided view becomes a dense copy.
Tensor backend_layout(const Tensor& t);

// An op that this build or this device does not provide: names the op and the device.
[[noreturn]] void fail_no_backend(const char* op, const Device& device);

}  // namespace crunet::ops
