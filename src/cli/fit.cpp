// trainer fit: train as the config says, with flags overriding its keys.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "cli/run_config.hpp"
#include "trainer/epoch_metrics_json.hpp"
#include "trainer/fit.hpp"

namespace trainer::cli {
namespace {

struct FitFlags {
  std::optional<long long> epochs;
  std::string batch_size;
  std::string micro_batch;
  FitOptions options;
};

nlohmann::json summary_json(const FitSummary& s) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const auto& m : s.epochs) epochs.push_back(to_json(m));
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"epochs", epochs},
          {"test_loss", opt(s.test_loss)},
          {"test_accuracy", opt(s.test_accuracy)},
          {"batch_size", s.batch_size},
          {"micro_batch", s.micro_batch},
          {"eval_batch_size", s.eval_batch},
          {"optimizer_steps", s.optimizer_steps},
          {"early_stopped", s.early_stopped},
          {"planned_bytes", s.planned_bytes},
          {"budget_bytes", s.budget_bytes},
          {"budget_source", s.budget_source},
          {"measured_peak_bytes", s.measured_peak_bytes}};
}

}  // namespace

void add_fit(CLI::App& app, Globals& g, Action& action) {
  auto flags = std::make_shared<FitFlags>();
  auto* sub = app.add_subcommand("fit", "Train; log loss and accuracy (train and validation) per epoch");
  add_common_flags(*sub, g, kAllCommonFlags);
  sub->footer("Example: trainer fit --config configs/digits-mlp.json --epochs 5 --metrics run.jsonl --checkpoint run.ckpt");
  sub->add_option("--epochs", flags->epochs, "Epochs to train (overrides /training/epochs)")->check(at_least(1, "a number of epochs"));
  sub->add_option("--batch-size", flags->batch_size, "Effective batch: N, auto or full (overrides /training/batch_size)");
  sub->add_option("--micro-batch", flags->micro_batch, "Samples in memory at once: N or auto (overrides /training/micro_batch)");
  sub->add_option("--metrics", flags->options.metrics_path, "Write one JSON object per epoch to FILE.jsonl");
  sub->add_option("--checkpoint", flags->options.checkpoint_path, "Write a checkpoint to FILE after every epoch and on interrupt");
  sub->add_option("--resume", flags->options.resume_path, "Continue training from a checkpoint");
  sub->add_option("--export-weights", flags->options.export_dir, "Write every tensor as <name>.npy in PyTorch's names and layouts (dense0.weight, conv0.weight, bn0.running_mean, ...) to DIR");
  sub->add_option("--report", flags->options.report_path, "Write an HTML report of the run (curves, memory breakdown) to FILE.html");
  sub->callback([&action, &g, flags] {
    action = [&g, flags] {
      Config config = load_run_config(g);
      if (flags->epochs) config.training.epochs = *flags->epochs;
      if (!flags->batch_size.empty()) config.training.batch_size = parse_batch_flag(flags->batch_size, "--batch-size", true);
      if (!flags->micro_batch.empty()) config.training.micro_batch = parse_batch_flag(flags->micro_batch, "--micro-batch", false);
      FitOptions options = flags->options;
      options.keep_epoch_history = g.json || !options.report_path.empty();
      FitSummary s = fit(config, options);
      if (g.json) std::cout << summary_json(s).dump() << std::endl;
      return 0;
    };
  });
}

}  // namespace trainer::cli
