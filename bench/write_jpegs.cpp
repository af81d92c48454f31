// Writes a folder of generated JPEGs in class sub-folders, without Python: smooth random colour
// fields with fine noise, so that the files decode like photographs rather than pure noise. For
// the evaluation benchmark (bench/eval_ten_crop.sh).
//
//   build/bench/crunet_write_jpegs OUT_DIR CLASSES PER_CLASS SIZE [SEED]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "crunet/core/rng.h"
#include "crunet/data/image.h"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s OUT_DIR CLASSES PER_CLASS SIZE [SEED]\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  const int classes = std::atoi(argv[2]), per_class = std::atoi(argv[3]);
  const std::int64_t size = std::atoll(argv[4]);
  crunet::Generator rng(argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0);
  for (int c = 0; c < classes; ++c) {
    const std::string folder = out + "/class_" + std::to_string(c);
    std::filesystem::create_directories(folder);
    for (int i = 0; i < per_class; ++i) {
      crunet::data::Image image = crunet::data::make_image(size, size, 3);
      double phase[3], fx[3], fy[3];
      for (int k = 0; k < 3; ++k) {
        phase[k] = rng.below(628) / 100.0;
        fx[k] = 0.01 + rng.below(70) / 1000.0;
        fy[k] = 0.01 + rng.below(70) / 1000.0;
      }
      for (std::int64_t y = 0; y < size; ++y) {
        for (std::int64_t x = 0; x < size; ++x) {
          for (int k = 0; k < 3; ++k) {
            const double value = 128 + 60 * std::sin(fx[k] * x + fy[k] * y + phase[k]) +
                                 static_cast<double>(rng.below(25)) - 12;
            image.at(y, x)[k] = static_cast<std::uint8_t>(std::fmin(255, std::fmax(0, value)));
          }
        }
      }
      crunet::data::write_image(folder + "/img_" + std::to_string(i) + ".jpg", image, 90);
    }
  }
  std::printf("%s: %d JPEGs of %lldx%lld in %d classes\n", out.c_str(), classes * per_class,
              static_cast<long long>(size), static_cast<long long>(size), classes);
  return 0;
}
