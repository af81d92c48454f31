// The CUDA runtime pieces beside the ops: streams and events, pinned host memory and its
// asynchronous copies (also through the data loader), and random fills on the device.
#include <cmath>
#include <utility>

#include "core/cuda/cuda_context.h"
#include "core/cuda/philox.h"
#include "core/cuda/stream.h"
#include "crunet/core/allocator.h"
#include "crunet/core/pinned.h"
#include "crunet/core/random.h"
#include "crunet/data.h"
#include "crunet/ops.h"
#include "gpu_test.h"
#include "support/gradcheck.h"

namespace crunet {
namespace {

const Device kGpu = Device::cuda(0);

TEST(CudaStreams, EventsOrderAStreamAfterAnother) {
  CRUNET_SKIP_WITHOUT_GPU();
  cuda::Stream stream(0);
  EXPECT_EQ(stream.device(), 0);
  cuda::Event event;
  EXPECT_FALSE(event.recorded());
  EXPECT_TRUE(event.query()) << "an unrecorded event counts as completed";
  // Work on the compute stream, an event after it, the other stream waiting for it.
  const Tensor x = randn({1 << 20}, 1, TensorOptions(kGpu));
  const Tensor y = ops::relu(x);
  event.record(cuda::current_stream(), 0);
  stream.wait(event.get());
  cuda::Event after;
  after.record(stream.get(), 0);
  after.synchronize();
  EXPECT_TRUE(after.query());
  EXPECT_TRUE(event.query());
  stream.synchronize();
  cuda::Event moved = std::move(after);
  EXPECT_TRUE(moved.recorded());
  // A pending query leaves no error behind for the next kernel launch to trip over.
  cuda::Event pending;
  pending.record(cuda::current_stream(), 0);
  pending.query();
  EXPECT_NO_THROW(ops::relu(y).to_vector());
}

TEST(CudaStreams, OneCopyStreamPerDevice) {
  CRUNET_SKIP_WITHOUT_GPU();
  EXPECT_EQ(&cuda::copy_stream(0), &cuda::copy_stream(0));
  EXPECT_THROW(cuda::copy_stream(cuda_device_count()), ValueError);
}

TEST(CudaPinned, TensorsArePinnedAndRoundTrip) {
  CRUNET_SKIP_WITHOUT_GPU();
  for (DType dtype : {DType::Float32, DType::BFloat16, DType::Int64}) {
    for (std::int64_t count : {0, 1, 1000, 2 << 20}) {
      const Tensor host = randn({count}, 2).to(dtype);
      const Tensor pinned = pin_memory(host);
      EXPECT_TRUE(is_pinned(pinned));
      EXPECT_FALSE(is_pinned(host));
      EXPECT_EQ(pinned.dtype(), dtype);
      const Tensor device = pinned.to(kGpu);
      EXPECT_EQ(device.device(), kGpu);
      EXPECT_EQ(device.to_vector(), host.to_vector()) << dtype_name(dtype) << " " << count;
    }
  }
}

TEST(CudaPinned, KernelsQueuedAfterAnAsynchronousCopySeeItsData) {
  CRUNET_SKIP_WITHOUT_GPU();
  // Each copy runs on the copy stream; the relu queued at once on the compute stream must wait
  // for it, and each source block, freed at once, must not be refilled before its copy has read it.
  const std::int64_t count = std::int64_t{1} << 22;  // 16 MiB, long enough to be caught racing
  std::vector<Tensor> results;
  for (int i = 0; i < 12; ++i) {
    Tensor pinned = empty_pinned({count});
    pinned.fill_(static_cast<double>(i - 6));
    results.push_back(ops::relu(pinned.to(kGpu)));
  }
  for (int i = 0; i < 12; ++i) {
    const std::vector<float> values = results[static_cast<std::size_t>(i)].to_vector();
    const float expected = std::max(static_cast<float>(i - 6), 0.0f);
    EXPECT_EQ(values.front(), expected) << i;
    EXPECT_EQ(values.back(), expected) << i;
    EXPECT_EQ(std::count(values.begin(), values.end(), expected),
              static_cast<std::ptrdiff_t>(count))
        << i;
  }
}

TEST(CudaPinned, FreedBlocksWaitForTheirCopiesAndStatisticsBalance) {
  CRUNET_SKIP_WITHOUT_GPU();
  Allocator& allocator = pinned_host_allocator();
  const std::int64_t before = allocator.stats().current_bytes;
  const std::int64_t count = std::int64_t{1} << 22;
  Tensor first_on_gpu;
  {
    Tensor first = empty_pinned({count});
    first.fill_(1.0);
    first_on_gpu = first.to(kGpu);
  }  // freed while its copy may still run
  Tensor second = empty_pinned({count});  // the same size: a candidate for the same block
  second.fill_(2.0);
  const Tensor second_on_gpu = second.to(kGpu);
  const std::vector<float> a = first_on_gpu.to_vector(), b = second_on_gpu.to_vector();
  EXPECT_EQ(std::count(a.begin(), a.end(), 1.0f), static_cast<std::ptrdiff_t>(count));
  EXPECT_EQ(std::count(b.begin(), b.end(), 2.0f), static_cast<std::ptrdiff_t>(count));
  second = Tensor();
  EXPECT_EQ(allocator.stats().current_bytes, before);
  EXPECT_GE(allocator.stats().reserved_bytes, static_cast<std::int64_t>(count * 4));
}

// An image's pixel value as a float [1, 2, 2] tensor: enough for the loader to assemble batches.
class FirstPixel : public data::Transform {
 public:
  Tensor apply(const data::Image& image, Generator&) const override {
    return full({1, 2, 2}, static_cast<double>(image.pixels.at(0)));
  }
};

TEST(CudaPinned, TheLoaderAssemblesPinnedBatches) {
  CRUNET_SKIP_WITHOUT_GPU();
  std::vector<std::uint8_t> pixels(12);
  std::vector<std::int64_t> labels(12);
  for (std::size_t i = 0; i < 12; ++i) {
    pixels[i] = static_cast<std::uint8_t>(10 * i);
    labels[i] = static_cast<std::int64_t>(i % 3);
  }
  auto dataset = std::make_shared<data::MemoryDataset>(1, 1, 1, pixels, labels, 3, "twelve");
  auto transform = std::make_shared<FirstPixel>();
  data::LoaderOptions options;
  options.batch_size = 4;
  options.shuffle = false;
  options.workers = 2;
  data::DataLoader plain(dataset, transform, options);
  options.pin_memory = true;
  data::DataLoader pinned(dataset, transform, options);
  plain.start_epoch(0);
  pinned.start_epoch(0);
  data::Batch a, b;
  int batches = 0;
  while (plain.next(a)) {
    ASSERT_TRUE(pinned.next(b));
    EXPECT_FALSE(is_pinned(a.images));
    EXPECT_TRUE(is_pinned(b.images));
    EXPECT_TRUE(is_pinned(b.labels));
    EXPECT_EQ(b.images.to(kGpu).to_vector(), a.images.to_vector());
    EXPECT_EQ(b.labels.to(kGpu).to_int64_vector(), a.labels.to_int64_vector());
    ++batches;
  }
  EXPECT_EQ(batches, 3);
}

TEST(CudaRandom, SeededFillsRepeatAndSuccessiveFillsDiffer) {
  CRUNET_SKIP_WITHOUT_GPU();
  Tensor a = empty({1000}, TensorOptions(kGpu)), b = empty({1000}, TensorOptions(kGpu));
  manual_seed(5);
  normal_(a);
  normal_(b);
  EXPECT_NE(a.to_vector(), b.to_vector());
  Tensor c = empty({1000}, TensorOptions(kGpu));
  manual_seed(5);
  normal_(c);
  EXPECT_EQ(c.to_vector(), a.to_vector());
}

TEST(CudaRandom, ValuesAreThoseOfThePhiloxReference) {
  CRUNET_SKIP_WITHOUT_GPU();
  // 1003 elements: the last group of four is partial.
  const std::int64_t count = 1003;
  manual_seed(17);
  Tensor normal = empty({count}, TensorOptions(kGpu));
  Tensor uniform = empty({count}, TensorOptions(kGpu));
  normal_(normal, 1.0, 2.0);   // fill 0 of seed 17
  uniform_(uniform, -1.0, 3.0);  // fill 1
  std::vector<float> expected_normal(count), expected_uniform(count);
  for (std::int64_t g = 0; 4 * g < count; ++g) {
    float n[4], u[4];
    philox::normal4(17, 0, static_cast<std::uint64_t>(g), n);
    philox::uniform4(17, 1, static_cast<std::uint64_t>(g), u);
    for (int j = 0; j < 4 && 4 * g + j < count; ++j) {
      expected_normal[static_cast<std::size_t>(4 * g + j)] = 2.0f * n[j] + 1.0f;
      expected_uniform[static_cast<std::size_t>(4 * g + j)] = 4.0f * u[j] - 1.0f;
    }
  }
  // The device's logf / sinf / cosf may differ from the host's by an ulp or two.
  EXPECT_LE(testing::closeness(normal.to_vector(), expected_normal, 1e-5, 1e-5), 1.0);
  EXPECT_EQ(uniform.to_vector(), expected_uniform);
}

TEST(CudaRandom, NormalAndUniformMoments) {
  CRUNET_SKIP_WITHOUT_GPU();
  const std::int64_t count = std::int64_t{1} << 20;
  manual_seed(3);
  Tensor t = empty({count}, TensorOptions(kGpu));
  normal_(t, 0.5, 2.0);
  double sum = 0, squares = 0;
  for (float v : t.to_vector()) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double mean = sum / count, std = std::sqrt(squares / count - mean * mean);
  // Standard errors: 2 / sqrt(2^20) = 0.002 for the mean, about 0.0014 for the std.
  EXPECT_NEAR(mean, 0.5, 0.01);
  EXPECT_NEAR(std, 2.0, 0.01);
  uniform_(t, 2.0, 4.0);
  sum = 0;
  float low = 10, high = 0;
  for (float v : t.to_vector()) {
    sum += v;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  EXPECT_NEAR(sum / count, 3.0, 0.005);
  EXPECT_GE(low, 2.0f);
  EXPECT_LE(high, 4.0f);
}

TEST(CudaRandom, BFloat16FillsRoundTheFloat32Values) {
  CRUNET_SKIP_WITHOUT_GPU();
  manual_seed(9);
  Tensor f32 = empty({4096}, TensorOptions(kGpu));
  normal_(f32);
  manual_seed(9);
  Tensor bf16 = empty({4096}, TensorOptions(DType::BFloat16, kGpu));
  normal_(bf16);
  EXPECT_TRUE(testing::all_close(bf16, f32.to(Device::cpu()).to(DType::BFloat16), 0.0, 0.0));
}

TEST(CudaRandom, StridedOrIntegerTensorsAreRefused) {
  CRUNET_SKIP_WITHOUT_GPU();
  EXPECT_THROW(normal_(zeros({4}, TensorOptions(DType::Int32, kGpu))), ValueError);
}

}  // namespace
}  // namespace crunet
