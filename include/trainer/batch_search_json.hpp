// The result of a batch search as probe-batch --json prints it (DESIGN.md field names); fit
// puts the same object into its report.
#pragma once

#include <nlohmann/json.hpp>

#include "trainer/memory_search.hpp"

namespace trainer {

nlohmann::json to_json(const BatchSearch& search);

}  // namespace trainer
