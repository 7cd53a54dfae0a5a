// The lone SVG figure (--format svg): loss and accuracy side by side, for a README or a CI
// artifact. Standalone XML, so it opens in any browser or image viewer.
#include "metric_charts.hpp"
#include "svg_chart.hpp"
#include "trainer/report.hpp"

namespace trainer {

std::string render_svg(const ReportInput& input) {
  const double panel_w = 520, h = 320;
  std::string body = svg::draw_line_chart(report_charts::loss(input.epochs), panel_w, h);
  double w = panel_w;
  if (auto acc = report_charts::accuracy(input.epochs)) {
    body += "<g transform=\"translate(" + svg::coord(panel_w) + " 0)\">" + svg::draw_line_chart(*acc, panel_w, h) + "</g>";
    w += panel_w;
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg::svg_root(body, w, h, input.title) + "\n";
}

}  // namespace trainer
