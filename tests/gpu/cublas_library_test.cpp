// cuBLAS is opened on first use (core/cuda/cublas_library.h): a CPU-only process of a CUDA build
// does not carry libcublas/libcublasLt (about 150 MiB resident); a GPU matrix product opens it.
#include <fstream>
#include <sstream>

#include "core/cuda/cublas_library.h"
#include "gpu_test.h"

namespace crunet {
namespace {

// Whether a mapped file of this process has `part` in its path (/proc/self/maps).
bool mapped(const std::string& part) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find(part) != std::string::npos;
}

// Runs on every machine: the CPU path must not open the library. (Other tests of this program may
// run a GPU product first where there is a GPU: ctest runs each test in its own process.)
TEST(CublasLibrary, CpuMatrixProductsAndConvolutionsLeaveItClosed) {
  const Tensor x = randn({4, 16}, 1), w = randn({8, 16}, 2);
  const Tensor y = ops::linear(x, w);
  const Tensor image = randn({1, 3, 8, 8}, 3), kernel = randn({4, 3, 3, 3}, 4);
  const Tensor z = ops::conv2d(image, kernel);
  ASSERT_EQ(y.size(1), 8);
  ASSERT_EQ(z.size(1), 4);
  EXPECT_FALSE(cuda::cublas_library_loaded());
  EXPECT_FALSE(mapped("libcublas")) << "a CPU-only run mapped cuBLAS";
}

// No GPU needed to open the library and resolve its entry points: this runs on the build
// machines too, after the test above (in one process the order of the file holds).
TEST(CublasLibrary, OpensAndResolvesEveryEntryPoint) {
  const cuda::CublasLibrary& cublas = cuda::cublas_library();
  EXPECT_TRUE(cuda::cublas_library_loaded());
  EXPECT_TRUE(mapped("libcublas"));
  for (const void* entry : {reinterpret_cast<const void*>(cublas.create),
                            reinterpret_cast<const void*>(cublas.destroy),
                            reinterpret_cast<const void*>(cublas.set_math_mode),
                            reinterpret_cast<const void*>(cublas.set_stream),
                            reinterpret_cast<const void*>(cublas.sgemm),
                            reinterpret_cast<const void*>(cublas.gemm_ex),
                            reinterpret_cast<const void*>(cublas.status_name),
                            reinterpret_cast<const void*>(cublas.status_string)}) {
    EXPECT_NE(entry, nullptr);
  }
  EXPECT_STREQ(cublas.status_name(CUBLAS_STATUS_NOT_INITIALIZED), "CUBLAS_STATUS_NOT_INITIALIZED");
}

TEST(CublasLibrary, AGpuLinearOpensItOnceAndMatchesTheCpu) {
  CRUNET_SKIP_WITHOUT_GPU();
  const Tensor x = randn({4, 16}, 1), w = randn({8, 16}, 2);
  const Tensor cpu = ops::linear(x, w);
  const Tensor gpu = ops::linear(x.to(Device::cuda(0)), w.to(Device::cuda(0))).to(Device::cpu());
  EXPECT_TRUE(cuda::cublas_library_loaded());
  EXPECT_TRUE(mapped("libcublasLt"));
  const std::vector<float> a = cpu.to_vector(), b = gpu.to_vector();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4) << i;
}

}  // namespace
}  // namespace crunet
