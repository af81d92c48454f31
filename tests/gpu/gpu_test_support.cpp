#include "gpu_test.h"

#include "support/gradcheck.h"

namespace crunet::testing {
namespace {

Tensor leaf_copy(const Tensor& t, const Device& device) {
  Tensor copy = (device == t.device() ? t.clone() : t.to(device)).detach();
  if (t.requires_grad()) copy.requires_grad(true);
  return copy;
}

}  // namespace

void expect_cuda_matches_cpu(const OpFunction& f, const std::vector<Tensor>& cpu_inputs,
                             Tolerance forward, Tolerance backward) {
  std::vector<Tensor> on_cpu, on_gpu;
  for (const Tensor& t : cpu_inputs) {
    on_cpu.push_back(t.defined() ? leaf_copy(t, Device::cpu()) : Tensor());
    on_gpu.push_back(t.defined() ? leaf_copy(t, Device::cuda(0)) : Tensor());
  }
  const Tensor y_cpu = f(on_cpu);
  const Tensor y_gpu = f(on_gpu);
  ASSERT_EQ(y_gpu.device(), Device::cuda(0));
  EXPECT_TRUE(all_close(y_gpu, y_cpu, forward.rtol, forward.atol)) << "forward";
  if (!y_cpu.requires_grad()) return;

  const Tensor upstream = randn(y_cpu.shape(), 777);
  y_cpu.backward(upstream);
  y_gpu.backward(upstream.to(Device::cuda(0)));
  for (std::size_t i = 0; i < on_cpu.size(); ++i) {
    if (!on_cpu[i].defined() || !on_cpu[i].requires_grad()) continue;
    ASSERT_TRUE(on_gpu[i].grad().defined()) << "input " << i << " has no gradient on the GPU";
    EXPECT_EQ(on_gpu[i].grad().device(), Device::cuda(0));
    EXPECT_TRUE(all_close(on_gpu[i].grad(), on_cpu[i].grad(), backward.rtol, backward.atol))
        << "gradient of input " << i;
  }
}

}  // namespace crunet::testing
