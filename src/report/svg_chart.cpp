// Line charts and the memory bar in SVG, plus the scale, tick and escaping rules they share.
#include "svg_chart.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "trainer/report.hpp"
#include "trainer/size.hpp"

namespace trainer {

NiceScale nice_scale(double lo, double hi, int target_ticks, double min_step) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) {
    // One value (or one epoch): widen so the point sits inside a readable axis.
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target_ticks);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  const double mantissa = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  NiceScale s;
  s.step = std::max(mantissa * magnitude, min_step);
  // The epsilon keeps a bound that is already a multiple of the step from gaining a tick.
  const double first = std::floor(lo / s.step + 1e-9);
  const double last = std::ceil(hi / s.step - 1e-9);
  for (double k = first; k <= last; k += 1) s.ticks.push_back(k * s.step + 0.0);  // + 0.0: no "-0"
  s.lo = s.ticks.front();
  s.hi = s.ticks.back();
  return s;
}

std::string format_tick(double value, double step) {
  char buf[48];
  if (std::abs(value) < step * 1e-6) return "0";
  if (step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
  }
  static constexpr std::array<std::pair<double, const char*>, 3> kUnits{{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}}};
  double scale = 1;
  const char* suffix = "";
  for (const auto& [size, name] : kUnits) {
    if (step >= size / 2) {  // 500 -> "0.5k", "1k"; 200 stays "200", "400"
      scale = size;
      suffix = name;
      break;
    }
  }
  const double scaled_step = step / scale;
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(scaled_step) - 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, value / scale, suffix);
  return buf;
}

namespace {

// Length of a well-formed UTF-8 sequence XML accepts starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  // U+FFFE and U+FFFF are not XML characters.
  if (n == 3 && b == 0xEF && byte(i + 1) == 0xBF && byte(i + 2) >= 0xBE) return 0;
  return n;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  static const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(text, i);
      if (n == 0) {
        out += kReplacement;
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t': case '\n': case '\r': out += static_cast<char>(c); break;
      default:
        if (c < 0x20) {
          out += kReplacement;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

namespace svg {

std::string coord(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string compact_number(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string svg_root(const std::string& body, double width, double height, const std::string& label) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + coord(width) + "\" height=\"" + coord(height) +
         "\" viewBox=\"0 0 " + coord(width) + " " + coord(height) + "\" role=\"img\" aria-label=\"" +
         xml_escape(label) + "\">" + body + "</svg>";
}

namespace {

// Text width estimate for layout: the report never measures fonts, so margins assume a
// generous average glyph width of 0.6 em.
double text_width(const std::string& text, double font_size) {
  return 0.6 * font_size * static_cast<double>(text.size());
}

std::string marker_element(Marker m, double x, double y, double r, const SeriesStyle& style) {
  std::ostringstream o;
  const std::string fill = style.colour;
  switch (m) {
    case Marker::circle:
      o << "<circle cx=\"" << coord(x) << "\" cy=\"" << coord(y) << "\" r=\"" << coord(r) << "\" fill=\"" << fill
        << "\" stroke=\"#fff\" stroke-width=\"1\"";
      break;
    case Marker::square:
      // Hollow, so it still differs from the filled circle when colour is not seen.
      o << "<rect x=\"" << coord(x - r) << "\" y=\"" << coord(y - r) << "\" width=\"" << coord(2 * r) << "\" height=\""
        << coord(2 * r) << "\" fill=\"#fff\" stroke=\"" << fill << "\" stroke-width=\"1.8\"";
      break;
    case Marker::triangle:
      o << "<path d=\"M" << coord(x) << ' ' << coord(y - 1.2 * r) << "L" << coord(x + 1.1 * r) << ' '
        << coord(y + 0.8 * r) << "L" << coord(x - 1.1 * r) << ' ' << coord(y + 0.8 * r) << "Z\" fill=\"" << fill
        << "\" stroke=\"#fff\" stroke-width=\"0.8\"";
      break;
    case Marker::diamond:
      o << "<path d=\"M" << coord(x) << ' ' << coord(y - 1.3 * r) << "L" << coord(x + 1.3 * r) << ' ' << coord(y)
        << "L" << coord(x) << ' ' << coord(y + 1.3 * r) << "L" << coord(x - 1.3 * r) << ' ' << coord(y)
        << "Z\" fill=\"" << fill << "\" stroke=\"#fff\" stroke-width=\"0.8\"";
      break;
  }
  return o.str();
}

std::string dash_attribute(const SeriesStyle& style) {
  return *style.dash ? std::string(" stroke-dasharray=\"") + style.dash + "\"" : std::string();
}

}  // namespace

std::string draw_line_chart(const LineChart& chart, double width, double height) {
  // Data ranges over every present value.
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  std::size_t most_points = 0;
  for (const Series& s : chart.series) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!s.y[i]) continue;
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, *s.y[i]);
      y_max = std::max(y_max, *s.y[i]);
      ++n;
    }
    most_points = std::max(most_points, n);
  }
  if (most_points == 0) x_min = x_max = 1, y_min = y_max = 0;
  if (chart.include_zero) y_min = std::min(y_min, 0.0), y_max = std::max(y_max, 0.0);
  // A little air so extreme points do not sit on the axis line, without crossing zero.
  const double pad = 0.03 * (y_max - y_min);
  y_min = y_min >= 0 ? std::max(0.0, y_min - pad) : y_min - pad;
  y_max = y_max <= 0 ? std::min(0.0, y_max + pad) : y_max + pad;

  const double title_h = 26, legend_h = 22, bottom = 48, right = 20;
  const double top = title_h + legend_h + 10;
  const double plot_h = height - top - bottom;
  const NiceScale ys = nice_scale(y_min, y_max, std::max(3, static_cast<int>(plot_h / 48)));
  std::vector<std::string> y_labels;
  double widest = 0;
  for (double t : ys.ticks) {
    y_labels.push_back(format_tick(t, ys.step));
    widest = std::max(widest, text_width(y_labels.back(), 12));
  }
  const double left = 22 + 8 + widest + 8;  // rotated axis label, gap, tick labels, tick
  const double plot_w = width - left - right;
  const NiceScale xs = nice_scale(x_min, x_max, std::max(2, static_cast<int>(plot_w / 70)), chart.integer_x ? 1 : 0);
  const auto px = [&](double x) { return left + (x - xs.lo) / (xs.hi - xs.lo) * plot_w; };
  const auto py = [&](double y) { return top + plot_h - (y - ys.lo) / (ys.hi - ys.lo) * plot_h; };
  const double plot_bottom = top + plot_h;

  std::ostringstream o;
  o << "<g class=\"chart\" font-family=\"" << kFontFamily << "\" font-size=\"12\" fill=\"#222\">";
  o << "<rect width=\"" << coord(width) << "\" height=\"" << coord(height) << "\" fill=\"#fff\"/>";
  o << "<text x=\"8\" y=\"19\" font-size=\"15\" font-weight=\"600\">" << xml_escape(chart.title) << "</text>";

  // Legend: a line sample with its marker, then the label, left to right under the title.
  double lx = left;
  const double ly = title_h + legend_h / 2 + 2;
  for (const Series& s : chart.series) {
    o << "<g class=\"legend\"><line x1=\"" << coord(lx) << "\" y1=\"" << coord(ly) << "\" x2=\"" << coord(lx + 30)
      << "\" y2=\"" << coord(ly) << "\" stroke=\"" << s.style.colour << "\" stroke-width=\"2\"" << dash_attribute(s.style)
      << "/>" << marker_element(s.style.marker, lx + 15, ly, 3.5, s.style) << "/>";
    o << "<text x=\"" << coord(lx + 36) << "\" y=\"" << coord(ly + 4) << "\">" << xml_escape(s.label) << "</text></g>";
    lx += 36 + text_width(s.label, 12) + 22;
  }

  // Grid and y ticks.
  for (std::size_t i = 0; i < ys.ticks.size(); ++i) {
    const double y = py(ys.ticks[i]);
    o << "<line x1=\"" << coord(left) << "\" y1=\"" << coord(y) << "\" x2=\"" << coord(left + plot_w) << "\" y2=\""
      << coord(y) << "\" stroke=\"#e6e6e6\"/>";
    o << "<text x=\"" << coord(left - 8) << "\" y=\"" << coord(y + 4) << "\" text-anchor=\"end\">" << y_labels[i]
      << "</text>";
  }
  for (double t : xs.ticks) {
    const double x = px(t);
    o << "<line x1=\"" << coord(x) << "\" y1=\"" << coord(plot_bottom) << "\" x2=\"" << coord(x) << "\" y2=\""
      << coord(plot_bottom + 5) << "\" stroke=\"#555\"/>";
    o << "<text x=\"" << coord(x) << "\" y=\"" << coord(plot_bottom + 19) << "\" text-anchor=\"middle\">"
      << format_tick(t, xs.step) << "</text>";
  }
  o << "<path d=\"M" << coord(left) << ' ' << coord(top) << "V" << coord(plot_bottom) << "H" << coord(left + plot_w)
    << "\" fill=\"none\" stroke=\"#555\"/>";
  o << "<text x=\"" << coord(left + plot_w / 2) << "\" y=\"" << coord(height - 8) << "\" text-anchor=\"middle\">"
    << xml_escape(chart.x_label) << "</text>";
  o << "<text transform=\"translate(16 " << coord(top + plot_h / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
    << xml_escape(chart.y_label) << "</text>";
  if (most_points == 0) {
    o << "<text x=\"" << coord(left + plot_w / 2) << "\" y=\"" << coord(top + plot_h / 2)
      << "\" text-anchor=\"middle\" fill=\"#777\">no data</text>";
  }

  // Lines first, markers on top; a missing value breaks the line.
  // Markers shrink with the spacing between epochs; once they would merge into a band that
  // hides the lines (and their dash patterns) they stay in the document, for tooltips and
  // tools, but are not painted.
  const double spacing = most_points > 1 ? plot_w / static_cast<double>(most_points - 1) : plot_w;
  const double r = std::min(3.5, 0.4 * spacing);
  const std::string hidden = spacing < 6 ? " opacity=\"0\"" : "";
  for (const Series& s : chart.series) {
    std::string d;
    bool pen_down = false;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!s.y[i]) {
        pen_down = false;
        continue;
      }
      d += pen_down ? 'L' : 'M';
      d += coord(px(s.x[i]));
      d += ' ';
      d += coord(py(*s.y[i]));
      pen_down = true;
    }
    if (!d.empty()) {
      o << "<path class=\"line\" data-series=\"" << xml_escape(s.key) << "\" d=\"" << d << "\" fill=\"none\" stroke=\""
        << s.style.colour << "\" stroke-width=\"2\" stroke-linejoin=\"round\"" << dash_attribute(s.style) << "/>";
    }
  }
  for (const Series& s : chart.series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!s.y[i]) continue;
      char tip[64];
      std::snprintf(tip, sizeof tip, "%.4g", *s.y[i]);
      o << marker_element(s.style.marker, px(s.x[i]), py(*s.y[i]), r, s.style) << hidden << " class=\"pt\" data-series=\""
        << xml_escape(s.key) << "\" data-x=\"" << compact_number(s.x[i]) << "\" data-value=\""
        << compact_number(*s.y[i]) << "\"><title>" << xml_escape(chart.x_label) << ' ' << compact_number(s.x[i])
        << ": " << xml_escape(s.label) << ' ' << tip << "</title>"
        << (s.style.marker == Marker::circle ? "</circle>" : s.style.marker == Marker::square ? "</rect>" : "</path>");
    }
  }
  o << "</g>";
  return o.str();
}

namespace {

struct SegmentColour {
  const char* fill;
  const char* text;
};
// Okabe-Ito in an order that keeps neighbouring segments far apart in lightness.
constexpr std::array<SegmentColour, 7> kSegments{{{"#0072B2", "#fff"},
                                                  {"#E69F00", "#000"},
                                                  {"#009E73", "#fff"},
                                                  {"#CC79A7", "#000"},
                                                  {"#56B4E9", "#000"},
                                                  {"#D55E00", "#fff"},
                                                  {"#F0E442", "#000"}}};

}  // namespace

const char* segment_colour(std::size_t i) { return kSegments[i % kSegments.size()].fill; }
const char* segment_text_colour(std::size_t i) { return kSegments[i % kSegments.size()].text; }

std::string draw_memory_bar(const MemoryBar& bar, double width, double* height) {
  std::uint64_t total = 0;
  for (const MemoryItem& item : bar.items) total += item.bytes;
  const double largest = static_cast<double>(std::max({total, bar.budget, bar.predicted_peak, bar.measured_peak,
                                                       std::uint64_t{1}}));
  // Axis in the binary unit that keeps the largest value below 1024 of it.
  static constexpr std::array<const char*, 5> kUnits{"B", "KiB", "MiB", "GiB", "TiB"};
  double unit = 1;
  std::size_t u = 0;
  while (largest / unit >= 1024 && u + 1 < kUnits.size()) unit *= 1024, ++u;

  const double left = 14, right = 24, bar_top = 30, bar_h = 40;
  const double plot_w = width - left - right;
  const NiceScale xs = nice_scale(0, largest / unit, std::max(2, static_cast<int>(plot_w / 90)));
  const auto px = [&](double bytes) { return left + bytes / unit / xs.hi * plot_w; };
  const double bar_bottom = bar_top + bar_h;
  const double axis_y = bar_bottom + 8;

  std::ostringstream o;
  o << "<g class=\"memory\" font-family=\"" << kFontFamily << "\" font-size=\"12\" fill=\"#222\">";
  o << "<rect width=\"" << coord(width) << "\" height=\"" << coord(axis_y + 58) << "\" fill=\"#fff\"/>";
  o << "<rect x=\"" << coord(left) << "\" y=\"" << coord(bar_top) << "\" width=\"" << coord(plot_w) << "\" height=\""
    << coord(bar_h) << "\" fill=\"#f3f3f3\"/>";
  double x = left;
  for (std::size_t i = 0; i < bar.items.size(); ++i) {
    const MemoryItem& item = bar.items[i];
    const double w = static_cast<double>(item.bytes) / unit / xs.hi * plot_w;
    const double share = total ? 100.0 * static_cast<double>(item.bytes) / static_cast<double>(total) : 0;
    char tip[64];
    std::snprintf(tip, sizeof tip, " (%.1f%%)", share);
    o << "<rect class=\"seg\" data-name=\"" << xml_escape(item.name) << "\" data-bytes=\"" << item.bytes << "\" x=\""
      << coord(x) << "\" y=\"" << coord(bar_top) << "\" width=\"" << coord(w) << "\" height=\"" << coord(bar_h)
      << "\" fill=\"" << segment_colour(i) << "\" stroke=\"#fff\" stroke-width=\"1\"><title>" << i + 1 << ". "
      << xml_escape(item.name) << ": " << format_bytes(item.bytes) << tip << "</title></rect>";
    // The segment's number ties it to the table row without relying on colour.
    const std::string number = std::to_string(i + 1);
    if (w >= text_width(number, 12) + 6) {
      o << "<text x=\"" << coord(x + w / 2) << "\" y=\"" << coord(bar_top + bar_h / 2 + 4)
        << "\" text-anchor=\"middle\" fill=\"" << segment_text_colour(i) << "\">" << number << "</text>";
    }
    x += w;
  }
  // Byte axis.
  o << "<line x1=\"" << coord(left) << "\" y1=\"" << coord(axis_y) << "\" x2=\"" << coord(left + plot_w) << "\" y2=\""
    << coord(axis_y) << "\" stroke=\"#555\"/>";
  for (double t : xs.ticks) {
    const double tx = left + t / xs.hi * plot_w;
    o << "<line x1=\"" << coord(tx) << "\" y1=\"" << coord(axis_y) << "\" x2=\"" << coord(tx) << "\" y2=\""
      << coord(axis_y + 5) << "\" stroke=\"#555\"/>";
    const char* anchor = t == xs.ticks.front() ? "start" : t == xs.ticks.back() ? "end" : "middle";
    o << "<text x=\"" << coord(tx) << "\" y=\"" << coord(axis_y + 19) << "\" text-anchor=\"" << anchor << "\">"
      << format_tick(t, xs.step) << ' ' << kUnits[u] << "</text>";
  }

  // Vertical markers: budget (solid), predicted peak (dashed), measured peak (dotted).
  struct Mark {
    const char* key;
    std::string label;
    std::uint64_t bytes;
    const char* dash;
    const char* colour;
  };
  std::vector<Mark> marks;
  if (bar.budget > 0) {
    marks.push_back({"budget", "budget " + format_bytes(bar.budget) + (bar.budget_source.empty() ? "" : " (" + bar.budget_source + ")"),
                     bar.budget, "", "#000"});
  }
  if (bar.predicted_peak > 0) {
    marks.push_back({"predicted", "predicted peak " + format_bytes(bar.predicted_peak), bar.predicted_peak, "6 3", "#555"});
  }
  if (bar.measured_peak > 0) {
    marks.push_back({"measured", "measured peak " + format_bytes(bar.measured_peak), bar.measured_peak, "2 2", "#000"});
  }
  for (const Mark& m : marks) {
    const double mx = px(static_cast<double>(m.bytes));
    o << "<line class=\"mark\" data-mark=\"" << m.key << "\" x1=\"" << coord(mx) << "\" y1=\"" << coord(bar_top - 10)
      << "\" x2=\"" << coord(mx) << "\" y2=\"" << coord(bar_bottom + 4) << "\" stroke=\"" << m.colour
      << "\" stroke-width=\"2\"" << (*m.dash ? std::string(" stroke-dasharray=\"") + m.dash + "\"" : "") << "><title>"
      << xml_escape(m.label) << "</title></line>";
  }
  // Their key, in one row under the axis (labels on the bar itself would collide when the
  // peaks sit close to the budget, which is the point of the search).
  double kx = left;
  const double ky = axis_y + 44;
  for (const Mark& m : marks) {
    o << "<line x1=\"" << coord(kx + 4) << "\" y1=\"" << coord(ky - 12) << "\" x2=\"" << coord(kx + 4) << "\" y2=\""
      << coord(ky + 3) << "\" stroke=\"" << m.colour << "\" stroke-width=\"2\""
      << (*m.dash ? std::string(" stroke-dasharray=\"") + m.dash + "\"" : "") << "/>";
    o << "<text x=\"" << coord(kx + 12) << "\" y=\"" << coord(ky) << "\">" << xml_escape(m.label) << "</text>";
    kx += 12 + text_width(m.label, 12) + 24;
  }
  o << "</g>";
  *height = axis_y + 58;
  return o.str();
}

}  // namespace svg
}  // namespace trainer
