// Training: the epoch loop over effective batches made of micro-batches, with validation,
// metrics, checkpoints, early stopping, interruption and the final test evaluation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/epoch_metrics.hpp"

namespace trainer {

struct FitOptions {
  std::string metrics_path;     // --metrics FILE.jsonl
  std::string checkpoint_path;  // --checkpoint FILE
  std::string resume_path;      // --resume FILE
  std::string export_dir;       // --export-weights DIR
  std::string report_path;      // --report FILE.html: the report of the run, written at the end
  std::optional<std::int64_t> max_steps;  // stop after this many optimizer steps (trials)
  // Behave as if SIGINT arrived after this many optimizer steps: a deterministic stand-in for
  // the signal in tests of interrupt-and-resume.
  std::optional<std::int64_t> interrupt_after_steps;
  // Keep every epoch's metrics in FitSummary::epochs (for --json and --report). Off, it holds
  // only the last epoch, so a run of any length keeps the same memory after its first epoch.
  bool keep_epoch_history = true;
  // Train in an order of the input columns built for the first layer's weight gradient
  // (input_order.hpp). Off in tests that compare it with the file's order.
  bool reorder_input_columns = true;
};


struct FitSummary {
  std::vector<EpochMetrics> epochs;  // every epoch, or only the last (FitOptions::keep_epoch_history)
  std::optional<double> test_loss;
  std::optional<double> test_accuracy;
  std::int64_t batch_size = 0;
  std::int64_t micro_batch = 0;
  std::int64_t eval_batch = 0;
  std::int64_t optimizer_steps = 0;
  bool early_stopped = false;
  std::uint64_t planned_bytes = 0;  // storage of the run
  std::uint64_t budget_bytes = 0;   // memory budget after headroom; 0 when not enforced
  std::string budget_source;        // where the budget came from ("cgroup", "--ram", "none", ...)
  std::uint64_t measured_peak_bytes = 0;  // highest resident anonymous memory seen while training
};

// Trains as the config says. Throws Error (data 3, budget 4, diverged 5, interrupted 130 after
// the checkpoint is written, runtime 1 for output failures).
FitSummary fit(const Config& config, const FitOptions& options);

}  // namespace trainer
