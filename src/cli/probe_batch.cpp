// trainer probe-batch: the budget, its source, the chosen batch, the breakdown and the trials.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "cli/run_config.hpp"
#include "trainer/batch_search_json.hpp"
#include "trainer/network_for.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/distributed.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/training_trial.hpp"

namespace trainer::cli {
namespace {

// Under mpirun: every rank's budget and batch, gathered to rank 0 and printed there, as a
// JSON list (one probe-batch object per rank, plus "rank" and "host") or a table.
void print_ranks(nlohmann::json mine, bool json) {
  Communicator& comm = Communicator::world();
  mine["rank"] = comm.rank();
  mine["host"] = comm.host();
  const std::vector<std::string> all = comm.gather(mine.dump());
  if (comm.rank() != 0) return;
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& text : all) ranks.push_back(nlohmann::json::parse(text));
  if (json) {
    std::cout << ranks.dump(2) << std::endl;
    return;
  }
  std::printf("%-5s %-16s %-12s %-12s %10s %12s %10s %12s\n", "rank", "host", "budget", "source", "batch", "micro-batch",
              "eval", "predicted");
  for (const auto& r : ranks) {
    const std::string source = r["budget_source"].get<std::string>();
    std::printf("%-5d %-16s %-12s %-12s %10lld %12lld %10lld %12s\n", r["rank"].get<int>(),
                r["host"].get<std::string>().c_str(),
                source == "none" ? "none" : format_bytes(r["budget_bytes"].get<std::uint64_t>()).c_str(), source.c_str(),
                r["batch_size"].get<long long>(), r["micro_batch"].get<long long>(), r["eval_batch_size"].get<long long>(),
                format_bytes(r["predicted_peak_bytes"].get<std::uint64_t>()).c_str());
  }
}

// The network layer by layer: what each keeps per training sample is what the batch multiplies.
void print_layers(const std::vector<LayerSummary>& layers) {
  std::printf("\n%-6s %-16s %-14s %12s %18s\n", "layer", "type", "output", "parameters", "activations/sample");
  for (const auto& l : layers) {
    std::string shape;
    for (std::size_t i = 0; i < l.output_shape.size(); ++i) {
      if (i > 0) shape += 'x';
      shape += std::to_string(l.output_shape[i]);
    }
    std::printf("  %-4zu %-16s %-14s %12lld %18s\n", l.index, l.type.c_str(), shape.c_str(),
                static_cast<long long>(l.parameters), format_bytes(l.activation_bytes_per_sample).c_str());
  }
}

}  // namespace

void add_probe_batch(CLI::App& app, Globals& g, Action& action) {
  auto* sub = app.add_subcommand("probe-batch", "Memory budget, the largest batch that fits, the breakdown and the trials");
  add_common_flags(*sub, g, kAllCommonFlags);
  sub->footer("Example: trainer probe-batch --config configs/fashion-mnist-mlp.json --ram 12G --json");
  sub->callback([&action, &g] {
    action = [&g] {
      Config config = load_run_config(g);
      DataSets data = open_data(config, DataUse::train);
      Network net = network_for(config, data.input);
      Optimizer optimizer(config.optimizer);
      set_compute_threads(static_cast<int>(config.training.threads));
      RunShape shape;
      shape.width = data.width;
      shape.target_width = data.target_width;
      shape.target_kind = target_kind(config.model.loss);
      shape.train_rows = data.train.size();
      shape.optimizer_state_per_param = optimizer.state_per_param();
      const std::int64_t largest_eval = std::max({data.validation.size(), data.test.size(), std::int64_t{1}});
      BatchSearch s = search_batches(config, net, shape, data.train.size(), largest_eval, data.train.data->size(),
                                     training_trial_steps(config, data));
      const nlohmann::json out = to_json(s);
      if (Communicator::world().distributed()) {
        print_ranks(out, g.json);
        return 0;
      }
      if (g.json) {
        std::cout << out.dump(2) << std::endl;
        return 0;
      }
      std::printf("budget       %s (%s)\n", s.budget_source == "none" ? "none" : format_bytes(s.budget_bytes).c_str(),
                  s.budget_source.c_str());
      std::printf("batch size   %lld (micro-batch %lld%s)\n", static_cast<long long>(s.choice.effective),
                  static_cast<long long>(s.choice.micro), s.choice.accumulates() ? ", accumulating" : "");
      std::printf("eval batch   %lld\n", static_cast<long long>(s.choice.eval));
      std::printf("max batch    %lld (the largest micro-batch that fits)\n", static_cast<long long>(s.max_batch));
      std::printf("predicted    %s\n", format_bytes(s.predicted_peak).c_str());
      if (s.measured_peak > 0) std::printf("measured     %s\n", format_bytes(s.measured_peak).c_str());
      print_layers(s.layers);
      int name_width = 9;
      for (const auto& item : s.breakdown) name_width = std::max(name_width, static_cast<int>(item.name.size()));
      std::printf("\n%-*s %14s\n", name_width + 2, "breakdown", "bytes");
      for (const auto& item : s.breakdown) {
        std::printf("  %-*s %14llu  %s\n", name_width, item.name.c_str(), static_cast<unsigned long long>(item.bytes),
                    format_bytes(item.bytes).c_str());
      }
      if (!s.trials.empty()) {
        std::printf("\n%-10s %14s %14s  %s\n", "trial", "predicted", "measured", "result");
        for (const auto& t : s.trials) {
          std::printf("  %-8lld %14s %14s  %s%s\n", static_cast<long long>(t.batch), format_bytes(t.predicted_bytes).c_str(),
                      format_bytes(t.measured_bytes).c_str(), t.fits ? "fits" : "fails",
                      t.note.empty() ? "" : (" (" + t.note + ")").c_str());
        }
      }
      return 0;
    };
  });
}

}  // namespace trainer::cli
