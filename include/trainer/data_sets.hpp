// The data of a run as the config describes it: training rows, validation rows (a separate
// pair of files or a seeded slice of the training set), an optional test set, and the input
// transform (x_scale and standardisation statistics streamed once over the training rows).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "trainer/augment.hpp"
#include "trainer/config.hpp"
#include "trainer/dataset.hpp"
#include "trainer/sample_shape.hpp"

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
  Augmentation augment;           // of the training rows (disabled unless data.augment asks)
  SampleShape input;              // a sample as the network reads it
  std::int64_t width = 0;         // input values per sample
  std::int64_t target_width = 1;  // 1 for class ids, T for mse targets
};

// A sample of x as `model` reads it: flat for a model without image layers; for an image model
// an H x W x C image, from x's per-sample dimensions and data.layout ([H, W, C] or [H, W] for
// nhwc, [C, H, W] or [H, W] for nchw) or from data.image_shape for flat rows. Throws Error::data
// naming x's file when its shape does not fit.
SampleShape sample_shape_of(const NpyArray& x, const DataConfig& data, const ModelConfig& model);

// The transposition the gather applies for this data (InputTransform::channels_first).
std::int64_t channels_first_of(const SampleShape& input, const DataConfig& data);

enum class DataUse { train, evaluate };

// Opens and checks every file the config names (lengths, labels in range, NaN/Inf) and
// computes the transform. With DataUse::evaluate only validation/test are required and the
// transform comes from `saved_transform` (the checkpoint's statistics).
DataSets open_data(const Config& config, DataUse use, const InputTransform* saved_transform = nullptr);

}  // namespace trainer
