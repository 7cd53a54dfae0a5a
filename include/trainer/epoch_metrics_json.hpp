// One epoch's figures as the JSON object of DESIGN.md (--metrics lines, fit --json epochs).
#pragma once

#include <nlohmann/json.hpp>

#include "trainer/epoch_metrics.hpp"

namespace trainer {

nlohmann::json to_json(const EpochMetrics& m);

}  // namespace trainer
