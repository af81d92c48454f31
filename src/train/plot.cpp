// Training curves as a self-contained SVG: three panels side by side (loss; top-1 and top-5
// accuracy; learning rate), epochs on x, one polyline per series with a dot per epoch (its
// tooltip gives the value), axis labels and a legend under each panel. The learning rate goes on a
// log scale when it spans a factor of 10 or more (step schedules), else on a linear one.
// Hand-written: a few dozen lines of markup do not justify a plotting dependency.
#include "crunet/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crunet/core/error.h"

namespace crunet::train {
namespace {

struct Series {
  std::string label;
  std::string colour;
  bool dashed = false;
  // The value at an epoch; negative (not evaluated, not recorded) or not finite: no point.
  std::function<double(const EpochRecord&)> value;
};

struct Panel {
  std::string title;
  std::string y_label;
  bool log_scale_allowed = false;
  std::vector<Series> series;
};

// A panel's size and the margins around its plot area (the axis labels, the legend below).
constexpr double kPanelWidth = 420, kPanelHeight = 330;
constexpr double kLeft = 70, kRight = 16, kTop = 44, kBottom = 90;

bool present(double v) { return v >= 0 && std::isfinite(v); }

// Text for SVG markup: the model's name may hold characters that markup reserves.
std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '\'')
      out += "&apos;";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  std::ostringstream text;
  text << std::setprecision(6) << v;
  return text.str();
}

void draw_panel(std::ostringstream& svg, double left, const std::vector<EpochRecord>& history,
                const Panel& panel) {
  double low = 1e300, high = -1e300;
  for (const EpochRecord& r : history) {
    for (const Series& s : panel.series) {
      const double v = s.value(r);
      if (!present(v)) continue;
      low = std::min(low, v);
      high = std::max(high, v);
    }
  }
  const bool any = low <= high;
  const bool log_scale = any && panel.log_scale_allowed && low > 0 && high / low >= 10;
  if (log_scale) {
    low = std::log10(low);
    high = std::log10(high);
  }
  if (!any) low = 0, high = 1;
  if (high - low < 1e-12) {
    const double half = std::max(std::abs(low) * 0.05, 1e-9);
    low -= half;
    high += half;
  }
  const double pad = (high - low) * 0.05;
  low -= pad;
  high += pad;
  const double first = static_cast<double>(history.front().epoch);
  const double last = std::max<double>(static_cast<double>(history.back().epoch), first + 1);
  const double plot_left = left + kLeft, plot_width = kPanelWidth - kLeft - kRight;
  const double plot_bottom = kPanelHeight - kBottom, plot_height = plot_bottom - kTop;
  auto x_of = [&](double epoch) {
    return plot_left + (epoch - first) / (last - first) * plot_width;
  };
  auto y_of = [&](double v) {
    const double scaled = log_scale ? std::log10(v) : v;
    return kTop + (high - scaled) / (high - low) * plot_height;
  };

  svg << "<g class='panel' data-title='" << escaped(panel.title) << "' data-scale='"
      << (log_scale ? "log" : "linear") << "'>\n";
  svg << "<text x='" << left + kPanelWidth / 2 << "' y='24' text-anchor='middle' font-size='15'>"
      << escaped(panel.title) << "</text>\n";
  svg << "<rect x='" << plot_left << "' y='" << kTop << "' width='" << plot_width << "' height='"
      << plot_height << "' fill='none' stroke='#888'/>\n";
  // y ticks: five even steps; on a log scale the powers of 10 (and 2x, 5x when they are few).
  std::vector<double> ticks;
  if (log_scale) {
    const bool few = std::floor(high) - std::ceil(low) < 2;
    for (double k = std::floor(low); k <= std::ceil(high); ++k) {
      for (double m : few ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
        const double scaled = k + std::log10(m);
        if (scaled >= low && scaled <= high) ticks.push_back(std::pow(10.0, scaled));
      }
    }
  } else {
    for (int i = 0; i <= 4; ++i) ticks.push_back(low + (high - low) * i / 4);
  }
  for (const double tick : ticks) {
    svg << "<text x='" << plot_left - 4 << "' y='" << y_of(tick) + 4
        << "' text-anchor='end' font-size='10'>" << std::setprecision(3) << tick
        << std::setprecision(6) << "</text>\n";
  }
  const double label_y = kTop + plot_height / 2;
  svg << "<text x='" << left + 14 << "' y='" << label_y << "' transform='rotate(-90 " << left + 14
      << ' ' << label_y << ")' text-anchor='middle' font-size='11'>" << panel.y_label
      << (log_scale ? " (log scale)" : "") << "</text>\n";
  // x ticks: whole epochs, at most about seven.
  const std::int64_t step = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((history.back().epoch - first) / 6.0)));
  for (std::int64_t epoch = history.front().epoch; epoch <= history.back().epoch; epoch += step) {
    svg << "<text x='" << x_of(static_cast<double>(epoch)) << "' y='" << plot_bottom + 14
        << "' text-anchor='middle' font-size='10'>" << epoch << "</text>\n";
  }
  svg << "<text x='" << plot_left + plot_width / 2 << "' y='" << plot_bottom + 30
      << "' text-anchor='middle' font-size='11'>epoch</text>\n";
  if (!any) {
    svg << "<text x='" << plot_left + plot_width / 2 << "' y='" << label_y
        << "' text-anchor='middle' font-size='11' fill='#888'>not recorded</text>\n";
  }
  int row = 0;
  for (const Series& s : panel.series) {
    std::ostringstream points, dots;
    for (const EpochRecord& r : history) {
      const double v = s.value(r);
      if (!present(v)) continue;
      const double x = x_of(static_cast<double>(r.epoch)), y = y_of(v);
      points << x << ',' << y << ' ';
      dots << "<circle cx='" << x << "' cy='" << y << "' r='2.5' fill='" << s.colour << "'><title>"
           << s.label << ", epoch " << r.epoch << ": " << number(v) << "</title></circle>\n";
    }
    if (points.str().empty()) continue;  // e.g. no top-5 recorded: no line, no legend entry
    const std::string dash = s.dashed ? " stroke-dasharray='6 3'" : "";
    svg << "<polyline data-series='" << s.label << "' fill='none' stroke='" << s.colour
        << "' stroke-width='2'" << dash << " points='" << points.str() << "'/>\n"
        << dots.str();
    // The legend, one row a series, under the axis.
    const double legend_y = plot_bottom + 48 + 14 * row++;
    svg << "<line x1='" << plot_left << "' y1='" << legend_y - 4 << "' x2='" << plot_left + 22
        << "' y2='" << legend_y - 4 << "' stroke='" << s.colour << "' stroke-width='2'" << dash
        << "/>\n";
    svg << "<text x='" << plot_left + 28 << "' y='" << legend_y << "' font-size='11' fill='"
        << s.colour << "'>" << s.label << "</text>\n";
  }
  svg << "</g>\n";
}

double number_or_absent(const nlohmann::json& record, const char* key) {
  const auto found = record.find(key);
  if (found == record.end() || !found->is_number()) return -1;
  return found->get<double>();
}

}  // namespace

void write_training_curves(const std::string& path, const std::vector<EpochRecord>& history,
                           const std::string& title) {
  if (history.empty()) return;
  const std::string train = "#1f77b4", validation = "#d62728", lr = "#2ca02c";
  const std::vector<Panel> panels = {
      {title + ": loss",
       "loss",
       false,
       {{"train", train, false, [](const EpochRecord& r) { return r.train_loss; }},
        {"validation", validation, false, [](const EpochRecord& r) { return r.val_loss; }}}},
      {title + ": accuracy",
       "accuracy (%)",
       false,
       {{"train top-1", train, false,
         [](const EpochRecord& r) { return present(r.train_top1) ? 100 * r.train_top1 : -1; }},
        {"validation top-1", validation, false,
         [](const EpochRecord& r) { return present(r.val_top1) ? 100 * r.val_top1 : -1; }},
        {"validation top-5", validation, true,
         [](const EpochRecord& r) { return present(r.val_top5) ? 100 * r.val_top5 : -1; }}}},
      {title + ": learning rate",
       "learning rate, end of epoch",
       true,
       {{"learning rate", lr, false, [](const EpochRecord& r) { return r.lr; }}}},
  };
  std::ostringstream svg;
  svg << std::setprecision(6);
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << panels.size() * kPanelWidth
      << "' height='" << kPanelHeight
      << "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  svg << "<title>" << escaped(title) << "</title>\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    draw_panel(svg, static_cast<double>(i) * kPanelWidth, history, panels[i]);
  }
  svg << "</svg>\n";
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << svg.str();
    if (!out) throw RuntimeError(path + ": cannot write the training curves");
  }
  std::rename(temporary.c_str(), path.c_str());
}

std::vector<EpochRecord> read_epoch_records(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  if (!in) throw UserError(metrics_path + ": cannot open the metrics file");
  std::map<std::int64_t, EpochRecord> by_epoch;
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) {
      throw UserError(metrics_path + ":" + std::to_string(number) + ": not a JSON object");
    }
    if (record.value("kind", "") != "epoch") continue;
    if (!record.contains("epoch") || !record["epoch"].is_number_integer()) {
      throw UserError(metrics_path + ":" + std::to_string(number) +
                      ": an epoch record without an integer \"epoch\"");
    }
    EpochRecord epoch;
    epoch.epoch = record["epoch"].get<std::int64_t>();
    epoch.train_loss = number_or_absent(record, "train_loss");
    epoch.train_top1 = number_or_absent(record, "train_top1");
    epoch.val_loss = number_or_absent(record, "val_loss");
    epoch.val_top1 = number_or_absent(record, "val_top1");
    epoch.val_top5 = number_or_absent(record, "val_top5");
    epoch.lr = number_or_absent(record, "lr");
    epoch.images_per_s = number_or_absent(record, "images_per_s");
    epoch.seconds = number_or_absent(record, "time");
    by_epoch[epoch.epoch] = epoch;  // a resumed run that wrote an epoch again: the later one
  }
  std::vector<EpochRecord> history;
  for (const auto& entry : by_epoch) history.push_back(entry.second);
  return history;
}

}  // namespace crunet::train
