// CIFAR-10 / CIFAR-100 binary batches. Input: byte 0 picks the variant (CIFAR-10, CIFAR-100 fine
// or coarse labels); the file follows.
#include "crunet/data/dataset.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const crunet::data::CifarLabels kinds[] = {crunet::data::CifarLabels::Cifar10,
                                             crunet::data::CifarLabels::Cifar100Fine,
                                             crunet::data::CifarLabels::Cifar100Coarse};
  const crunet::data::CifarLabels kind = kinds[data[0] % 3];
  const std::string path = crunet::fuzz::write_scratch("batch.bin", data + 1, size - 1);
  crunet::fuzz::expect_user_errors_only([&] {
    const auto dataset = crunet::data::load_cifar({path}, kind);
    (void)dataset->get(dataset->size() - 1);
    (void)dataset->describe();
  });
  return 0;
}
