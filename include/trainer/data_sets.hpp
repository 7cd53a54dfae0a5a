// The data of a run as the config describes it: training rows, validation rows (a separate
// pair of files or a seeded slice of the training set), an optional test set, and the input
// transform (x_scale and standardisation statistics streamed once over the training rows).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/dataset.hpp"

namespace trainer {

// Class ids for cross_entropy / binary_cross_entropy, float targets for mse.
TargetKind target_kind(Loss loss);
// Units of the last dense layer (the model's outputs) as the config states them.
std::int64_t config_outputs(const ModelConfig& model);

struct RowSet {
  std::shared_ptr<const Dataset> data;  // shared: a validation slice reads the training files
  std::vector<std::int64_t> rows;       // which rows of `data`, in file order
  bool present() const { return data != nullptr; }
  std::int64_t size() const { return static_cast<std::int64_t>(rows.size()); }
};

struct DataSets {
  RowSet train;
  RowSet validation;  // may be absent
  RowSet test;        // may be absent
  InputTransform transform;
  std::int64_t width = 0;         // input values per sample
  std::int64_t target_width = 1;  // 1 for class ids, T for mse targets
};

enum class DataUse { train, evaluate };

// Opens and checks every file the config names (lengths, labels in range, NaN/Inf) and
// computes the transform. With DataUse::evaluate only validation/test are required and the
// transform comes from `saved_transform` (the checkpoint's statistics).
DataSets open_data(const Config& config, DataUse use, const InputTransform* saved_transform = nullptr);

}  // namespace trainer
