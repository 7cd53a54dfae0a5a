// The report's four epoch charts (loss, accuracy, learning rate, throughput) built from the
// metrics, shared by the HTML page and the lone SVG figure.
#pragma once

#include <vector>

#include "svg_chart.hpp"
#include "trainer/report.hpp"

namespace trainer::report_charts {

svg::LineChart loss(const std::vector<EpochRecord>& epochs);
// Empty optional when no epoch has an accuracy (regression losses).
std::optional<svg::LineChart> accuracy(const std::vector<EpochRecord>& epochs);
svg::LineChart learning_rate(const std::vector<EpochRecord>& epochs);
svg::LineChart throughput(const std::vector<EpochRecord>& epochs);

}  // namespace trainer::report_charts
