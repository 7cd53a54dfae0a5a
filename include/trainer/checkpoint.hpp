// Checkpoint files: everything needed to continue training or to use the model later.
//
// Layout (little-endian): magic "TRNRCKPT", u32 format version, then the fields of
// CheckpointData in order (strings and arrays prefixed by u64 lengths), then a CRC32 (zlib)
// of every preceding byte. Written to "<path>.tmp", fsynced, renamed over <path>, and the
// folder fsynced, so a crash at any moment leaves either the old or the new file, never a mix.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trainer/sample_shape.hpp"

namespace trainer {

// Version 2 added the input's shape (image models); version 1 files (MLPs) still load.
inline constexpr std::uint32_t kCheckpointVersion = 2;

struct CheckpointData {
  std::uint32_t version = kCheckpointVersion;  // the format a file was read in (written: the current)
  std::string config_json;          // canonical config the run was made with
  std::uint64_t config_hash = 0;
  std::int64_t input_width = 0;
  SampleShape input;                // a sample as the network reads it (version 1: flat)
  std::uint64_t seed = 0;
  std::int64_t epochs_done = 0;     // completed epochs
  std::int64_t batches_done = 0;    // effective batches done in the epoch after epochs_done
  std::int64_t optimizer_steps = 0;
  // Running sums of the unfinished epoch, so its metrics come out as in an uninterrupted run.
  double epoch_loss_sum = 0;
  std::int64_t epoch_correct = 0;
  std::int64_t epoch_samples = 0;
  double epoch_seconds = 0;
  // Early stopping.
  double best_metric = 0;
  std::int64_t bad_epochs = 0;
  std::int64_t best_epoch = 0;
  // Input transform (x_scale and standardisation statistics).
  float x_scale = 1.0f;
  std::vector<float> mean;
  std::vector<float> inv_std;
  // Parameters (flat layout: trainable tensors, then buffers such as batch-norm running
  // statistics) and optimizer state (flat, parallel to the trainable parameters).
  std::vector<float> params;
  std::vector<float> optimizer_state;
};

// What the writer needs: the scalars by value, the big arrays by view (no copy per epoch).
struct CheckpointView {
  const CheckpointData* header;  // every field except params/optimizer_state
  std::span<const float> params;
  std::span<const float> optimizer_state;
};

// Throws Error::runtime naming the path (folder missing, read-only, disk full); the previous
// file at `path`, if any, is left intact.
void write_checkpoint(const std::string& path, const CheckpointView& view);

// Throws Error::data naming the path: missing, not a checkpoint, other version, truncated,
// CRC mismatch.
CheckpointData read_checkpoint(const std::string& path);

}  // namespace trainer
