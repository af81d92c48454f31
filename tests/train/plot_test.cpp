// curves.svg: the series are read back out of the SVG (the values in the dots' tooltips, the
// coordinates of the polylines) and checked against the metrics file they were drawn from.
#include "crunet/train/plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "crunet/core/error.h"
#include "support/temp_dir.h"

namespace crunet::train {
namespace {

using Folder = testing::TempDir;

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Point {
  double x = 0, y = 0;
};

struct Dot {
  std::int64_t epoch = 0;
  double value = 0;
};

// One drawn series: its polyline and its dots' tooltips, and the panel it is in.
struct DrawnSeries {
  std::string panel, scale;
  std::vector<Point> line;
  std::vector<Dot> dots;
};

std::map<std::string, DrawnSeries> parse_svg(const std::string& svg) {
  std::map<std::string, DrawnSeries> drawn;
  const std::regex panel_re("<g class='panel' data-title='([^']*)' data-scale='([a-z]+)'>");
  const std::regex line_re("<polyline data-series='([^']*)'[^>]* points='([^']*)'");
  const std::regex dot_re("<title>([^<]*), epoch (\\d+): ([^<]+)</title>");
  std::vector<std::pair<std::size_t, std::smatch>> panels;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), panel_re);
       it != std::sregex_iterator(); ++it) {
    panels.emplace_back(static_cast<std::size_t>(it->position()), *it);
  }
  auto panel_at = [&](std::size_t position) {
    std::pair<std::string, std::string> found;
    for (const auto& [start, match] : panels) {
      if (start < position) found = {match[1].str(), match[2].str()};
    }
    return found;
  };
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), line_re);
       it != std::sregex_iterator(); ++it) {
    DrawnSeries& series = drawn[(*it)[1].str()];
    std::tie(series.panel, series.scale) = panel_at(static_cast<std::size_t>(it->position()));
    std::istringstream points((*it)[2].str());
    std::string pair;
    while (points >> pair) {
      const std::size_t comma = pair.find(',');
      series.line.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
    }
  }
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), dot_re); it != std::sregex_iterator();
       ++it) {
    drawn[(*it)[1].str()].dots.push_back({std::stoll((*it)[2].str()), std::stod((*it)[3].str())});
  }
  return drawn;
}

// The line's y follows the values by one affine map (of log10 of them on a log scale), falling
// as they rise, and its x follows the epochs by one affine map.
void expect_drawn_to_scale(const DrawnSeries& series, bool log_scale, const std::string& what) {
  ASSERT_EQ(series.line.size(), series.dots.size()) << what;
  ASSERT_GE(series.line.size(), 2u) << what;
  auto scaled = [&](double v) { return log_scale ? std::log10(v) : v; };
  const Point& a = series.line.front();
  const Point& b = series.line.back();
  const double dy =
      (b.y - a.y) / (scaled(series.dots.back().value) - scaled(series.dots.front().value));
  const double dx =
      (b.x - a.x) / static_cast<double>(series.dots.back().epoch - series.dots.front().epoch);
  EXPECT_LT(dy, 0) << what;
  EXPECT_GT(dx, 0) << what;
  for (std::size_t i = 0; i < series.line.size(); ++i) {
    EXPECT_NEAR(series.line[i].y,
                a.y + dy * (scaled(series.dots[i].value) - scaled(series.dots[0].value)), 0.05)
        << what << " point " << i;
    EXPECT_NEAR(series.line[i].x,
                a.x + dx * static_cast<double>(series.dots[i].epoch - series.dots[0].epoch), 0.05)
        << what << " point " << i;
  }
}

std::string epoch_line(int epoch, double val_top1, double val_top5, double lr) {
  std::ostringstream line;
  line << "{\"kind\":\"epoch\",\"epoch\":" << epoch << ",\"global_step\":" << 10 * epoch
       << ",\"train_loss\":" << 2.0 / epoch << ",\"train_top1\":" << 0.1 * epoch
       << ",\"val_loss\":" << 2.5 / epoch << ",\"val_top1\":" << val_top1
       << ",\"val_top5\":" << val_top5 << ",\"lr\":" << lr
       << ",\"images_per_s\":100.0,\"time\":3.5}\n";
  return line.str();
}

TEST(TrainingCurves, ShowValidationTopFiveAndTheLearningRateFromTheMetricsFile) {
  Folder folder;
  const std::vector<double> top1 = {0.20, 0.35, 0.52, 0.58};
  const std::vector<double> top5 = {0.45, 0.66, 0.81, 0.873};
  const std::vector<double> lr = {0.1, 0.1, 0.01, 0.001};  // a step schedule: a log scale
  std::string metrics;
  for (int e = 1; e <= 4; ++e) {
    metrics += "{\"kind\":\"step\",\"epoch\":" + std::to_string(e) +
               ",\"step\":5,\"global_step\":5,\"loss\":1.0,\"top1\":0.5,\"lr\":0.3}\n";
    metrics += epoch_line(e, top1[e - 1], top5[e - 1], lr[e - 1]);
  }
  write_text(folder / "metrics.jsonl", metrics);
  const std::vector<EpochRecord> history = read_epoch_records(folder / "metrics.jsonl");
  ASSERT_EQ(history.size(), 4u);
  write_training_curves(folder / "curves.svg", history, "crunet56");
  const std::string svg = read_text(folder / "curves.svg");
  std::map<std::string, DrawnSeries> drawn = parse_svg(svg);

  const DrawnSeries& five = drawn["validation top-5"];
  EXPECT_EQ(five.panel, "crunet56: accuracy");
  ASSERT_EQ(five.dots.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(five.dots[i].epoch, static_cast<std::int64_t>(i + 1));
    EXPECT_NEAR(five.dots[i].value, 100 * top5[i], 1e-6);
  }
  expect_drawn_to_scale(five, false, "top-5");
  const DrawnSeries& one = drawn["validation top-1"];
  ASSERT_EQ(one.dots.size(), 4u);
  EXPECT_NEAR(one.dots[2].value, 100 * top1[2], 1e-6);
  // The same panel, the same scale: top-5 is drawn above top-1 at every epoch.
  for (std::size_t i = 0; i < 4; ++i) EXPECT_LT(five.line[i].y, one.line[i].y);

  const DrawnSeries& rate = drawn["learning rate"];
  EXPECT_EQ(rate.panel, "crunet56: learning rate");
  EXPECT_EQ(rate.scale, "log");
  ASSERT_EQ(rate.dots.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(rate.dots[i].value, lr[i], 1e-12);
  expect_drawn_to_scale(rate, true, "learning rate");
  // Equal steps of the schedule are equal steps on the page.
  EXPECT_NEAR(rate.line[3].y - rate.line[2].y, rate.line[2].y - rate.line[1].y, 0.05);

  EXPECT_EQ(drawn["train"].panel, "crunet56: loss");
  EXPECT_NEAR(drawn["validation"].dots[3].value, 2.5 / 4, 1e-6);
  // Axis labels and the legend.
  EXPECT_NE(svg.find(">accuracy (%)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">learning rate, end of epoch (log scale)</text>"), std::string::npos);
  EXPECT_NE(svg.find("fill='#d62728'>validation top-5</text>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(TrainingCurves, AMetricsFileWithoutTopFiveStillPlots) {
  // A run of an older version: no val_top5; validation every other epoch (-1 between); a
  // constant learning rate (a linear scale).
  Folder folder;
  std::string metrics;
  for (int e = 1; e <= 4; ++e) {
    metrics += "{\"kind\":\"epoch\",\"epoch\":" + std::to_string(e) +
               ",\"train_loss\":" + std::to_string(1.0 / e) +
               ",\"train_top1\":0.5,\"val_loss\":" + (e % 2 == 0 ? std::to_string(1.5 / e) : "-1") +
               ",\"val_top1\":" + (e % 2 == 0 ? "0.4" : "-1") + ",\"lr\":0.05}\n";
  }
  write_text(folder / "metrics.jsonl", metrics);
  const std::vector<EpochRecord> history = read_epoch_records(folder / "metrics.jsonl");
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0].val_top5, -1);
  write_training_curves(folder / "curves.svg", history, "old");
  const std::string svg = read_text(folder / "curves.svg");
  std::map<std::string, DrawnSeries> drawn = parse_svg(svg);
  EXPECT_EQ(drawn.count("validation top-5"), 0u);
  EXPECT_EQ(svg.find("top-5"), std::string::npos);  // no line, no legend entry
  const DrawnSeries& one = drawn["validation top-1"];
  ASSERT_EQ(one.dots.size(), 2u);
  EXPECT_EQ(one.dots[0].epoch, 2);
  EXPECT_EQ(one.dots[1].epoch, 4);
  EXPECT_NEAR(one.dots[1].value, 40.0, 1e-9);
  const DrawnSeries& rate = drawn["learning rate"];
  EXPECT_EQ(rate.scale, "linear");
  ASSERT_EQ(rate.dots.size(), 4u);
  for (const Dot& dot : rate.dots) EXPECT_NEAR(dot.value, 0.05, 1e-12);
  for (const Point& p : rate.line) EXPECT_NEAR(p.y, rate.line[0].y, 1e-9);  // a flat line
  expect_drawn_to_scale(drawn["train"], false, "train loss");
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(TrainingCurves, ALearningRateThatReachesZeroStaysOnALinearScale) {
  // Cosine to 0: a log scale cannot show 0, so the panel is linear and the 0 is drawn.
  std::vector<EpochRecord> history(3);
  const double lr[] = {0.1, 0.05, 0.0};
  for (int e = 0; e < 3; ++e) {
    history[e].epoch = e + 1;
    history[e].lr = lr[e];
    history[e].val_loss = history[e].val_top1 = history[e].val_top5 = -1;
  }
  Folder folder;
  write_training_curves(folder / "curves.svg", history, "cosine");
  std::map<std::string, DrawnSeries> drawn = parse_svg(read_text(folder / "curves.svg"));
  EXPECT_EQ(drawn["learning rate"].scale, "linear");
  ASSERT_EQ(drawn["learning rate"].dots.size(), 3u);
  EXPECT_EQ(drawn["learning rate"].dots[2].value, 0.0);
  expect_drawn_to_scale(drawn["learning rate"], false, "learning rate");
  EXPECT_EQ(drawn.count("validation"), 0u);  // never validated
}

TEST(TrainingCurves, TheMetricsReaderKeepsTheLaterRecordOfAnEpochAndNamesBadLines) {
  Folder folder;
  const std::string path = folder / "metrics.jsonl";
  write_text(path, epoch_line(1, 0.2, 0.4, 0.1) + epoch_line(2, 0.3, 0.5, 0.1) + "\n" +
                       epoch_line(2, 0.31, 0.55, 0.1));
  const std::vector<EpochRecord> history = read_epoch_records(path);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].epoch, 2);
  EXPECT_DOUBLE_EQ(history[1].val_top5, 0.55);
  EXPECT_DOUBLE_EQ(history[1].seconds, 3.5);

  auto error_of = [&](const std::string& text) {
    write_text(path, text);
    try {
      read_epoch_records(path);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(epoch_line(1, 0.2, 0.4, 0.1) + "{\"kind\":\"epo")
                .find(path + ":2: not a JSON object"),
            std::string::npos);
  EXPECT_NE(error_of("{\"kind\":\"epoch\",\"epoch\":\"one\"}\n")
                .find(path + ":1: an epoch record without"),
            std::string::npos);
  EXPECT_EQ(error_of(""), "");  // an empty file is no error: no epochs yet
  EXPECT_TRUE(read_epoch_records(path).empty());
  try {
    read_epoch_records(folder / "none.jsonl");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("none.jsonl: cannot open"), std::string::npos);
  }
}

}  // namespace
}  // namespace crunet::train
