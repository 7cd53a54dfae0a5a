// A data set as training sees it: inputs x and targets y from two memory-mapped .npy files,
// read a batch at a time into caller-owned staging buffers.
//
// Targets are either class ids (classification: cross_entropy, binary_cross_entropy with one
// output) or float32 regression targets (mse: y is [N] or [N, T]).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trainer/npy.hpp"

namespace trainer {

enum class TargetKind { class_ids, values };

// How raw inputs become the model's input: out = (x * scale - mean) * inv_std (mean and inv_std
// per value of a row, in the file's order), with the columns in the file's order or, when
// `chunks` is set, in a run's order of 4-column chunks (trainer/column_chunks.hpp: fit sets it
// for the first layer's weight gradient, trainer/input_order.hpp), or, for images stored channels
// first (`channels_first` = C > 1), moved to channels last: the file's [C, H*W] becomes [H*W, C].
struct InputTransform {
  float scale = 1.0f;
  std::vector<float> mean;     // empty = no standardisation
  std::vector<float> inv_std;
  std::vector<std::int32_t> chunks;  // empty = the file's column order
  std::int64_t channels_first = 0;   // 0: no transposition
};

// Which values of a row share standardisation statistics: none (each its own), or an image's
// channels, stored last ([H, W, C]) or first ([C, H, W]).
struct ChannelGroups {
  std::int64_t channels = 0;  // 0: per value
  bool channels_last = true;
  std::int64_t channel_of(std::int64_t j, std::int64_t width) const {
    return channels_last ? j % channels : j / (width / channels);
  }
};

// Streams a float array (a no-op for integer dtypes) and throws Error::data naming the file, the
// row and the column of its first NaN or infinite value; `what` names the values ("input").
void check_finite(const NpyArray& a, const char* what);

class Dataset {
 public:
  // Opens and cross-checks x and y (equal lengths, y shape). `classes` is checked for
  // class ids (labels in [0, classes)); for values, `outputs` must equal y's row width.
  // Throws Error::data naming the file at fault.
  static Dataset open(const std::string& x_path, const std::string& y_path, TargetKind kind,
                      std::int64_t outputs);

  std::int64_t size() const;      // number of samples
  std::int64_t width() const;     // input values per sample (shape[1:] flattened)
  std::int64_t target_width() const;  // 1 for class ids
  // Valid class ids are [0, classes()): outputs, or 2 for a one-output binary classifier.
  std::int64_t classes() const;
  TargetKind target_kind() const { return kind_; }
  const NpyArray& x() const { return x_; }
  const NpyArray& y() const { return y_; }

  // Gathers samples `rows` into x_out[n x width()] and either labels_out[n] (class ids) or
  // targets_out[n x target_width()] (values); the unused pointer may be null.
  void gather(std::span<const std::int64_t> rows, const InputTransform& transform, float* x_out,
              std::int32_t* labels_out, float* targets_out) const;
  // Only the inputs of `rows`, into x_out[n x width()]; with `to`, row i of them into row to[i]
  // (NpyArray::gather_f32).
  void gather_inputs(std::span<const std::int64_t> rows, const InputTransform& transform, float* x_out,
                     std::span<const std::int64_t> to = {}) const;

  // Full streamed checks before training: NaN/Inf in float inputs, labels out of range.
  // Throws Error::data naming the file and the first offending row.
  void check_values() const;

  // Per-feature mean and 1/std over `rows` of x*scale (one streamed pass, float64 sums;
  // population std; a feature with std < 1e-6 gets inv_std 1). With channel groups, each
  // channel's statistics over all its values, repeated for each value of the channel.
  InputTransform standardize_stats(std::span<const std::int64_t> rows, float scale, ChannelGroups groups = {}) const;

 private:
  NpyArray x_, y_;
  TargetKind kind_ = TargetKind::class_ids;
  std::int64_t outputs_ = 0;
};

// The order of samples in one epoch: file order, or a seeded shuffle that keeps reads mostly
// sequential (blocks of consecutive rows in shuffled order, rows shuffled within a window).
// Same (n, seed, epoch) gives the same order on every machine.
std::vector<std::int64_t> epoch_order(std::int64_t n, std::uint64_t seed, std::uint64_t epoch,
                                      bool shuffle);
// Writes the order into caller storage (no allocation); out.size() == n.
void epoch_order_into(std::span<std::int64_t> out, std::uint64_t seed, std::uint64_t epoch,
                      bool shuffle);

// The epoch over `rows` (sorted file rows, e.g. the training part of a validation split), written
// as file rows; over all rows it is epoch_order_into. Blocks are the rows inside one 64-row block
// of the file, so each file block is read within one window (which is what lets the prefetcher
// release its pages soon after). out.size() == rows.size().
void epoch_rows_into(std::span<std::int64_t> out, std::span<const std::int64_t> rows, std::uint64_t seed,
                     std::uint64_t epoch, bool shuffle);

// A fixed, seeded validation slice: returns {train_rows, validation_rows}, disjoint, sorted.
struct Split {
  std::vector<std::int64_t> train;
  std::vector<std::int64_t> validation;
};
Split validation_split(std::int64_t n, double fraction, std::uint64_t seed);

}  // namespace trainer
