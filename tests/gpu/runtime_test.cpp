// The CUDA core: device discovery, the caching allocator, copies between devices, the in-place
// elementwise updates.
#include <thread>
#include <vector>

#include "crunet/core/allocator.h"
#include "crunet/core/elementwise.h"
#include "gpu_test.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

// The one test that runs on machines without a GPU: no GPU is a state, not an error.
TEST(CudaRuntime, NoGpuIsReportedWithoutThrowing) {
  if (cuda_is_available()) GTEST_SKIP() << "this machine has a GPU; the no-GPU path is not taken";
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_NE(cuda::unavailable_reason().find("cudaGetDeviceCount"), std::string::npos);
  try {
    zeros({2, 3}, TensorOptions(Device::cuda(0)));
    FAIL() << "a CUDA tensor was made without a GPU";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("no usable CUDA GPU"), std::string::npos) << e.what();
  }
}

TEST(CudaAllocator, FreedBlockIsReusedForItsSizeClass) {
  CRUNET_SKIP_WITHOUT_GPU();
  Allocator& allocator = cuda_allocator(0);
  void* first = allocator.allocate(1000);
  allocator.deallocate(first, 1000);
  void* second = allocator.allocate(1000);
  EXPECT_EQ(second, first);
  allocator.deallocate(second, 1000);
  void* third = allocator.allocate(700);  // rounds to 1024, the same class as 1000
  EXPECT_EQ(third, first);
  allocator.deallocate(third, 700);
  EXPECT_EQ(allocator.allocate(0), nullptr);
}

TEST(CudaAllocator, StatisticsCountCurrentPeakAndReserved) {
  CRUNET_SKIP_WITHOUT_GPU();
  Allocator& allocator = cuda_allocator(0);
  cuda::empty_cache(0);
  allocator.reset_peak();
  const MemoryStats before = allocator.stats();
  const std::size_t large = (std::size_t{3} << 20) + 1;  // 3 MiB + 1: its own segment
  void* block = allocator.allocate(large);
  const MemoryStats during = allocator.stats();
  // At least the rounded request; the whole cached block when the rest is too small to split.
  EXPECT_GE(during.current_bytes - before.current_bytes, (std::int64_t{3} << 20) + 512);
  EXPECT_LE(during.current_bytes - before.current_bytes, std::int64_t{4} << 20);
  EXPECT_GE(during.peak_bytes, during.current_bytes);
  EXPECT_GE(during.reserved_bytes - before.reserved_bytes, std::int64_t{4} << 20);
  EXPECT_EQ(during.allocations, before.allocations + 1);
  allocator.deallocate(block, large);
  const MemoryStats after = allocator.stats();
  EXPECT_EQ(after.current_bytes, before.current_bytes);
  EXPECT_EQ(after.peak_bytes, during.peak_bytes);
  EXPECT_EQ(after.reserved_bytes, during.reserved_bytes) << "a freed block stays cached";
  cuda::empty_cache(0);
  EXPECT_EQ(allocator.stats().reserved_bytes, before.reserved_bytes);
  allocator.reset_peak();
  EXPECT_EQ(allocator.stats().peak_bytes, allocator.stats().current_bytes);
}

TEST(CudaAllocator, SmallBlocksShareSegmentsAndComeBack) {
  CRUNET_SKIP_WITHOUT_GPU();
  Allocator& allocator = cuda_allocator(0);
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(allocator.allocate(4096));
  const MemoryStats full = allocator.stats();
  for (void* b : blocks) allocator.deallocate(b, 4096);
  for (int round = 0; round < 3; ++round) {
    for (void*& b : blocks) b = allocator.allocate(4096);
    for (void* b : blocks) allocator.deallocate(b, 4096);
  }
  EXPECT_EQ(allocator.stats().reserved_bytes, full.reserved_bytes) << "no new segment needed";
}

TEST(CudaAllocator, OutOfMemoryNamesTheSizeAndRecovers) {
  CRUNET_SKIP_WITHOUT_GPU();
  Allocator& allocator = cuda_allocator(0);
  const std::size_t huge = std::size_t{1} << 50;  // 1 PiB
  try {
    allocator.allocate(huge);
    FAIL() << "1 PiB was allocated";
  } catch (const RuntimeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(huge)), std::string::npos) << message;
    EXPECT_NE(message.find("reserved"), std::string::npos) << message;
  }
  Tensor t = ones({1000}, TensorOptions(Device::cuda(0)));  // the device is still usable
  EXPECT_FLOAT_EQ(t.to_vector()[999], 1.0f);
}

TEST(CudaAllocator, IsThreadSafe) {
  CRUNET_SKIP_WITHOUT_GPU();
  Allocator& allocator = cuda_allocator(0);
  const std::int64_t before = allocator.stats().current_bytes;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&allocator, t] {
      std::vector<std::pair<void*, std::size_t>> held;
      for (int i = 0; i < 500; ++i) {
        const std::size_t size = static_cast<std::size_t>((i * 7919 + t * 104729) % (3 << 20)) + 1;
        held.emplace_back(allocator.allocate(size), size);
        if (held.size() > 8) {
          allocator.deallocate(held.front().first, held.front().second);
          held.erase(held.begin());
        }
      }
      for (auto& [p, size] : held) allocator.deallocate(p, size);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(allocator.stats().current_bytes, before);
}

TEST(CudaCopy, EveryDtypeSurvivesTheRoundTrip) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::vector<float> values = {0.0f, -1.5f, 2.25f, 1000.0f, -7.0f, 3.0f, 0.5f};
  for (DType dtype : {DType::Float32, DType::Float16, DType::BFloat16, DType::Int32,
                      DType::Int64}) {
    const Tensor host = from_vector(values, {7}).to(dtype);
    const Tensor device = host.to(Device::cuda(0));
    EXPECT_EQ(device.device(), Device::cuda(0));
    EXPECT_EQ(device.dtype(), dtype);
    const Tensor back = device.to(Device::cpu());
    EXPECT_EQ(back.to_vector(), host.to_vector()) << dtype_name(dtype);
    EXPECT_EQ(device.clone().to_vector(), host.to_vector()) << "device to device, "
                                                            << dtype_name(dtype);
  }
  const std::vector<std::int64_t> big = {0, -1, std::int64_t{1} << 40, 42};
  EXPECT_EQ(from_int64_vector(big, {4}, Device::cuda(0)).to_int64_vector(), big);
}

TEST(CudaCopy, BetweenTwoDevices) {
  CRUNET_SKIP_WITHOUT_GPU();
  if (cuda_device_count() < 2) GTEST_SKIP() << "needs two GPUs, this machine has one";
  const Tensor a = randn({3, 5}, 1, TensorOptions(Device::cuda(0)));
  const Tensor b = a.to(Device::cuda(1));
  EXPECT_EQ(b.device(), Device::cuda(1));
  EXPECT_EQ(b.to_vector(), a.to_vector());
}

TEST(CudaCopy, EmptyTensorsCopiesAndFills) {
  CRUNET_SKIP_WITHOUT_GPU();
  EXPECT_EQ(zeros({0, 4}, TensorOptions(Device::cuda(0))).to(Device::cpu()).numel(), 0);
  const Tensor host = randn({4, 6}, 2);
  const Tensor device = host.to(Device::cuda(0));
  Tensor target = empty({4, 6}, TensorOptions(Device::cuda(0)));
  target.copy_(host);
  EXPECT_EQ(target.to_vector(), host.to_vector());
  target.fill_(2.5);
  EXPECT_EQ(target.to_vector(), std::vector<float>(24, 2.5f));
}

TEST(CudaElementwise, AddAndScaleInPlaceMatchTheCpu) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (std::int64_t count : {1, 37, 1000, 300001}) {
    Tensor a = randn({count}, 3), b = randn({count}, 4);
    Tensor ga = a.to(Device::cuda(0)), gb = b.to(Device::cuda(0));
    add_inplace(a, b, -0.25f);
    add_inplace(ga, gb, -0.25f);
    EXPECT_TRUE(testing::all_close(ga, a, 1e-6, 1e-6)) << count;
    scale_inplace(a, 3.0f);
    scale_inplace(ga, 3.0f);
    EXPECT_TRUE(testing::all_close(ga, a, 1e-6, 1e-6)) << count;
  }
}

TEST(CudaElementwise, BFloat16UpdatesRoundLikeTheCpuConversion) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor a = randn({513}, 5), b = randn({513}, 6);
  Tensor ga = a.to(DType::BFloat16).to(Device::cuda(0));
  const Tensor gb = b.to(DType::BFloat16).to(Device::cuda(0));
  // alpha 1 and a power-of-two scale: exact in float32 whether or not the GPU fuses the
  // multiply-add, so only the rounding to bfloat16 is compared.
  add_inplace(ga, gb, 1.0f);
  scale_inplace(ga, 0.5f);
  // The reference: float32 arithmetic on the bfloat16 values, rounded to bfloat16 on the CPU.
  std::vector<float> av = a.to(DType::BFloat16).to_vector(), bv = b.to(DType::BFloat16).to_vector();
  for (std::size_t i = 0; i < av.size(); ++i) {
    av[i] = from_vector({av[i] + bv[i]}, {1}).to(DType::BFloat16).to_vector()[0] * 0.5f;
  }
  const Tensor expected = from_vector(av, {513}).to(DType::BFloat16);
  EXPECT_EQ(ga.to_vector(), expected.to_vector());
}

}  // namespace
}  // namespace crunet
