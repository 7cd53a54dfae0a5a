// SVG drawing for the report: line charts over epochs and the stacked memory bar. Each function
// returns SVG elements for a box at the origin; callers wrap them in <svg> or a translated <g>.
// Styling is in presentation attributes (not CSS) so a lone SVG looks the same in a README.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trainer::svg {

// Okabe-Ito colours; with a dash pattern and a marker shape per series, so the series stay
// apart for readers who cannot tell the colours apart, and in greyscale print.
enum class Marker { circle, square, triangle, diamond };
struct SeriesStyle {
  const char* colour;
  const char* dash;  // stroke-dasharray, "" for solid
  Marker marker;
};
inline constexpr SeriesStyle kTrainStyle{"#0072B2", "", Marker::circle};
inline constexpr SeriesStyle kValidationStyle{"#D55E00", "7 4", Marker::square};
inline constexpr SeriesStyle kLrStyle{"#009E73", "", Marker::triangle};
inline constexpr SeriesStyle kThroughputStyle{"#CC79A7", "", Marker::diamond};

const char* const kFontFamily = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";

struct Series {
  std::string key;    // data-series attribute, e.g. "val_loss"
  std::string label;  // legend text
  SeriesStyle style;
  std::vector<double> x;
  std::vector<std::optional<double>> y;  // nullopt leaves a gap (no point, line broken)
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  bool include_zero = false;  // y axis starts at 0 (rates, throughput)
  bool integer_x = true;      // epochs: no fractional x ticks
};

// Title, legend, grid, nice ticks on both axes, axis labels, a line per series and one
// marker element (class "pt", data-series/-x/-value, a <title> tooltip) per point.
std::string draw_line_chart(const LineChart& chart, double width, double height);

struct MemoryItem {
  std::string name;
  std::uint64_t bytes = 0;
};

struct MemoryBar {
  std::vector<MemoryItem> items;
  std::uint64_t budget = 0;  // 0 = no budget
  std::string budget_source;
  std::uint64_t predicted_peak = 0;  // 0 = unknown
  std::uint64_t measured_peak = 0;   // 0 = not measured
};

// Colour of the stacked segment i (cycles through the palette) and the text colour on it.
const char* segment_colour(std::size_t i);
const char* segment_text_colour(std::size_t i);

// The breakdown as one horizontal stacked bar (segments numbered left to right, matching the
// caller's table) on a byte axis, with the budget and the peaks as marked vertical lines.
// Returns the elements; *height receives the height they need.
std::string draw_memory_bar(const MemoryBar& bar, double width, double* height);

// Wraps elements in an <svg> root sized w x h that scales to its container; `label` is the
// accessible name.
std::string svg_root(const std::string& body, double width, double height, const std::string& label);

// Number formatting for attributes and labels: fixed, no locale, no trailing zeros.
std::string coord(double v);
std::string compact_number(double v);

}  // namespace trainer::svg
