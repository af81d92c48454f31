// Training curves as a self-contained SVG: two panels (loss; top-1 accuracy), epochs on x, one
// polyline per series with a legend. Hand-written: a few dozen lines of markup do not justify a
// plotting dependency.
#include "crunet/train/plot.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iomanip>
#include <sstream>

#include "crunet/core/error.h"

namespace crunet::train {
namespace {

struct Series {
  std::string label;
  std::string colour;
  std::function<double(const EpochRecord&)> value;
};

constexpr double kPanelWidth = 420, kPanelHeight = 260, kMargin = 50;

void panel(std::ostringstream& svg, double left, const std::string& title,
           const std::vector<EpochRecord>& history, const std::vector<Series>& series) {
  double low = 1e300, high = -1e300;
  for (const EpochRecord& r : history) {
    for (const Series& s : series) {
      const double v = s.value(r);
      if (v < 0 || !std::isfinite(v)) continue;
      low = std::min(low, v);
      high = std::max(high, v);
    }
  }
  if (low > high) low = 0, high = 1;
  if (high - low < 1e-9) high = low + 1;
  const double pad = (high - low) * 0.05;
  low -= pad;
  high += pad;
  const double first = history.front().epoch, last = std::max<double>(history.back().epoch, first + 1);
  auto x_of = [&](double epoch) { return left + kMargin + (epoch - first) / (last - first) * (kPanelWidth - 2 * kMargin); };
  auto y_of = [&](double v) { return kMargin + (high - v) / (high - low) * (kPanelHeight - 2 * kMargin); };
  svg << "<text x='" << left + kPanelWidth / 2 << "' y='24' text-anchor='middle' font-size='15'>"
      << title << "</text>\n";
  svg << "<rect x='" << left + kMargin << "' y='" << kMargin << "' width='" << kPanelWidth - 2 * kMargin
      << "' height='" << kPanelHeight - 2 * kMargin << "' fill='none' stroke='#888'/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = low + (high - low) * i / 4;
    svg << "<text x='" << left + kMargin - 4 << "' y='" << y_of(v) + 4
        << "' text-anchor='end' font-size='10'>" << std::setprecision(3) << v << "</text>\n";
  }
  svg << "<text x='" << left + kPanelWidth / 2 << "' y='" << kPanelHeight - 12
      << "' text-anchor='middle' font-size='11'>epoch (" << first << " to " << history.back().epoch
      << ")</text>\n";
  int row = 0;
  for (const Series& s : series) {
    std::ostringstream points;
    for (const EpochRecord& r : history) {
      const double v = s.value(r);
      if (v < 0 || !std::isfinite(v)) continue;
      points << x_of(static_cast<double>(r.epoch)) << ',' << y_of(v) << ' ';
    }
    svg << "<polyline fill='none' stroke='" << s.colour << "' stroke-width='2' points='"
        << points.str() << "'/>\n";
    svg << "<text x='" << left + kPanelWidth - kMargin - 4 << "' y='" << kMargin + 14 + 14 * row++
        << "' text-anchor='end' font-size='11' fill='" << s.colour << "'>" << s.label << "</text>\n";
  }
}

}  // namespace

void write_training_curves(const std::string& path, const std::vector<EpochRecord>& history,
                           const std::string& title) {
  if (history.empty()) return;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << 2 * kPanelWidth << "' height='"
      << kPanelHeight + 20 << "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  svg << "<title>" << title << "</title>\n";
  panel(svg, 0, title + ": loss", history,
        {{"train", "#1f77b4", [](const EpochRecord& r) { return r.train_loss; }},
         {"validation", "#d62728", [](const EpochRecord& r) { return r.val_loss; }}});
  panel(svg, kPanelWidth, title + ": top-1 accuracy", history,
        {{"train", "#1f77b4", [](const EpochRecord& r) { return r.train_top1; }},
         {"validation", "#d62728", [](const EpochRecord& r) { return r.val_top1; }}});
  svg << "</svg>\n";
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary);
    out << svg.str();
    if (!out) throw RuntimeError(path + ": cannot write the training curves");
  }
  std::rename(temporary.c_str(), path.c_str());
}

}  // namespace crunet::train
