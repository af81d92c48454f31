// crunet-bench-data: images per second of the training input pipeline (JPEG decode, the paper's
// augmentation, batch assembly) on a folder of images or an MXNet RecordIO file, with N worker
// threads. The same pipeline in torchvision: bench/data_vs_torchvision.sh; a folder against a
// .rec of the same JPEGs: bench/data_rec_vs_folder.sh.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "crunet/data.h"
#include "tool_main.h"

int main(int argc, char** argv) {
  CLI::App app{"Images per second of the data pipeline (decode + augment + batch)",
               "crunet-bench-data"};
  std::string folder;
  std::string rec;
  std::string idx;
  int workers = 2;
  std::int64_t batch = 32;
  std::int64_t batches = 40;
  std::int64_t warmup = 4;
  std::int64_t size = 224;
  int prefetch = 0;
  bool no_hsl = false;
  bool json = false;
  auto* folder_option =
      app.add_option("--folder", folder, "image folder (one sub-folder per class)");
  auto* rec_option =
      app.add_option("--rec", rec, "MXNet RecordIO file (.rec), instead of --folder");
  app.add_option("--idx", idx, "the .rec's index (default: the .rec path with .idx)")
      ->needs(rec_option);
  folder_option->excludes(rec_option);
  rec_option->excludes(folder_option);
  // The ranges of the training config's data.workers, batch_size, augment.size and
  // prefetch_batches: 100000 workers failed to start their threads (std::terminate), a huge size
  // failed as std::bad_alloc.
  app.add_option("--workers", workers, "decode/augment threads (0: the calling thread)")
      ->check(CLI::Range(0, 256));
  app.add_option("--batch", batch, "batch size")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  app.add_option("--batches", batches, "batches timed")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  app.add_option("--warmup", warmup, "batches run before timing")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  app.add_option("--size", size, "output height and width")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{65536}));
  app.add_option("--prefetch", prefetch,
                 "prefetch queue in batches (default 2 x workers, at least 2)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--no-hsl", no_hsl, "leave out the HSL colour noise");
  app.add_flag("--json", json, "print one JSON object");
  return crunet::tools::run_tool(app, argc, argv, [&] {
    using namespace crunet::data;
    if (folder.empty() && rec.empty()) throw crunet::UserError("give --folder or --rec");
    if (!rec.empty() && idx.empty()) {
      idx = std::filesystem::path(rec).replace_extension(".idx").string();
    }
    std::shared_ptr<const Dataset> dataset;
    if (rec.empty()) {
      dataset = std::make_shared<ImageFolderDataset>(folder, 3);
    } else {
      dataset = std::make_shared<RecordIODataset>(rec, idx, 3);
    }
    TrainTransformParams params;  // the paper's: area crop, flip, HSL, resize; mean/scale
    params.size = size;
    if (no_hsl) params.hsl = HslParams{0, 0, 0};
    auto transform = std::make_shared<TrainTransform>(params, Normalization{}, 3);
    LoaderOptions options;
    options.batch_size = batch;
    options.workers = workers;
    options.prefetch_batches = prefetch > 0 ? prefetch : std::max(2, 2 * workers);
    options.seed = 1;
    DataLoader loader(dataset, transform, options);
    if (loader.batches_per_epoch() == 0) {
      throw crunet::UserError((rec.empty() ? folder : rec) + ": fewer images (" +
                              std::to_string(dataset->size()) + ") than one batch of " +
                              std::to_string(batch));
    }
    std::int64_t epoch = 0;
    loader.start_epoch(epoch);
    Batch out;
    auto next = [&] {
      while (!loader.next(out)) loader.start_epoch(++epoch);
    };
    for (std::int64_t i = 0; i < warmup; ++i) next();
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < batches; ++i) next();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double images = static_cast<double>(batches * batch);
    const double rate = images / seconds;
    if (json) {
      std::cout << nlohmann::json{{"images_per_second", rate},
                                  {"images", images},
                                  {"seconds", seconds},
                                  {"workers", workers},
                                  {"batch", batch},
                                  {"size", size},
                                  {"hsl", !no_hsl},
                                  {"dataset", dataset->describe()}}
                       .dump()
                << "\n";
    } else {
      std::printf("%s\n", dataset->describe().c_str());
      std::printf(
          "%.0f images in %.2f s: %.1f images/s (workers %d, batch %lld, %lldx%lld, "
          "decode + area crop + resize + flip%s + normalise + batch)\n",
          images, seconds, rate, workers, static_cast<long long>(batch),
          static_cast<long long>(size), static_cast<long long>(size), no_hsl ? "" : " + HSL");
    }
    return 0;
  });
}
