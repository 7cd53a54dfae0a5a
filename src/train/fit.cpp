#include "trainer/fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <csignal>
#include <unistd.h>

#include "trainer/batch_choice.hpp"
#include "trainer/batch_search_json.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/distributed.hpp"
#include "trainer/error.hpp"
#include "trainer/epoch_metrics_json.hpp"
#include "trainer/evaluation.hpp"
#include "trainer/input_order.hpp"
#include "trainer/interrupt.hpp"
#include "trainer/log.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/prefetcher.hpp"
#include "trainer/report.hpp"
#include "trainer/run_memory.hpp"
#include "trainer/run_state.hpp"
#include "trainer/weights_io.hpp"

namespace trainer {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A different, reproducible dropout stream for every micro-batch of the run.
std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t step, std::int64_t micro_index) {
  std::uint64_t z = seed ^ (static_cast<std::uint64_t>(step) * 0x9E3779B97F4A7C15ULL) ^
                    (static_cast<std::uint64_t>(micro_index) * 0xBF58476D1CE4E5B9ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Output files must be writable before training starts, so a typo costs nothing.
void check_output_folder(const std::string& file, const char* flag) {
  if (file.empty()) return;
  auto folder = std::filesystem::path(file).parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    throw Error::runtime(std::string(flag) + " " + file, "folder " + folder.string() + " does not exist",
                         "an existing, writable folder");
  }
  if (::access(folder.c_str(), W_OK) != 0) {
    throw Error::runtime(std::string(flag) + " " + file, "folder " + folder.string() + " is not writable",
                         "an existing, writable folder");
  }
}

// --export-weights DIR is created at the end of training: its nearest existing ancestor must
// already be a writable folder, or the trained weights would be lost after the whole run.
void check_export_folder(const std::string& dir) {
  if (dir.empty()) return;
  std::filesystem::path p = std::filesystem::absolute(dir);
  std::error_code ec;
  while (!std::filesystem::exists(p, ec) && p.has_relative_path()) p = p.parent_path();
  const std::string where = "--export-weights " + dir;
  if (!std::filesystem::is_directory(p, ec))
    throw Error::runtime(where, p.string() + " is not a folder", "a folder that exists or can be created");
  if (::access(p.c_str(), W_OK) != 0)
    throw Error::runtime(where, "folder " + p.string() + " is not writable", "a folder that exists or can be created");
}

std::string epoch_line(const EpochMetrics& m, std::int64_t epochs) {
  char buf[256];
  int len = std::snprintf(buf, sizeof buf, "epoch %lld/%lld  loss %.4f", static_cast<long long>(m.epoch),
                          static_cast<long long>(epochs), m.train_loss);
  std::string s(buf, static_cast<std::size_t>(len));
  auto add = [&s](const char* name, double v) {
    char b[64];
    int l = std::snprintf(b, sizeof b, "  %s %.4f", name, v);
    s.append(b, static_cast<std::size_t>(l));
  };
  if (m.train_accuracy) add("accuracy", *m.train_accuracy);
  if (m.val_loss) add("val_loss", *m.val_loss);
  if (m.val_accuracy) add("val_accuracy", *m.val_accuracy);
  len = std::snprintf(buf, sizeof buf, "  %.1fs  %.0f samples/s", m.seconds, m.samples_per_second);
  s.append(buf, static_cast<std::size_t>(len));
  return s;
}

// The monitored value of early stopping; lower is better after the sign flip.
double monitored(const std::string& monitor, const EpochMetrics& m) {
  if (monitor == "val_accuracy") return -m.val_accuracy.value_or(0);
  if (monitor == "train_loss") return m.train_loss;
  return m.val_loss.value_or(m.train_loss);
}

class MetricsFile {
 public:
  MetricsFile(const std::string& path, bool append) : path_(path) {
    if (path.empty()) return;
    out_.open(path, append ? std::ios::app : std::ios::trunc);
    if (!out_) throw Error::runtime("--metrics " + path, "cannot open for writing", "a writable file path");
  }
  void write(const EpochMetrics& m) {
    if (path_.empty()) return;
    out_ << to_json(m).dump() << '\n';
    out_.flush();
    if (!out_) throw Error::runtime("--metrics " + path_, "cannot write (disk full?)");
  }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace

FitSummary fit(const Config& config, const FitOptions& options) {
  Communicator& comm = Communicator::world();  // rank 0 writes every output (docs/distributed.md)
  check_output_folder(comm.rank() == 0 ? options.metrics_path : "", "--metrics");
  check_output_folder(comm.rank() == 0 ? options.checkpoint_path : "", "--checkpoint");
  check_output_folder(comm.rank() == 0 ? options.report_path : "", "--report");
  if (comm.rank() == 0) check_export_folder(options.export_dir);

  std::optional<CheckpointData> resume;
  if (!options.resume_path.empty()) {
    resume = read_checkpoint(options.resume_path);
    if (resume->config_hash != config_hash(config)) {
      throw Error::data(options.resume_path, "checkpoint was made with a different model or optimizer config",
                        "a checkpoint written by a run of " + config.source);
    }
  }
  InputTransform saved;
  if (resume) {
    saved.scale = resume->x_scale;
    saved.mean = resume->mean;
    saved.inv_std = resume->inv_std;
  }
  DataSets data = open_data(config, DataUse::train, resume ? &saved : nullptr);
  Network net(config.model, data.width);
  Optimizer optimizer(config.optimizer);
  const int threads = set_compute_threads(static_cast<int>(config.training.threads));

  const std::int64_t n = data.train.size();
  std::int64_t largest_eval = std::max(data.validation.size(), data.test.size());
  RunShape shape;
  shape.width = data.width;
  shape.target_width = data.target_width;
  shape.target_kind = target_kind(config.model.loss);
  shape.train_rows = n;
  shape.optimizer_state_per_param = optimizer.state_per_param();
  BatchSearch search = search_batches(config, net, shape, n, largest_eval, &data);
  log::info("planned peak " + format_bytes(search.predicted_peak) +
            (search.budget_source == "none" ? std::string(" (memory budget not enforced)") : " of " + format_bytes(search.budget_bytes)));
  const BatchChoice batches = search.choice;
  shape.micro_batch = batches.micro;
  shape.eval_batch = batches.eval;
  if (batches.micro < part_of(batches.effective, comm.rank(), comm.size()).count) {
    log::info("batch " + std::to_string(batches.effective) + " does not fit at once: accumulating gradients over micro-batches of " +
              std::to_string(batches.micro));
  }

  RunState st = allocate_run(net, shape, &optimizer);
  RunWatch watch(search.predicted_peak, config.memory.headroom);  // resident memory against the plan
  if (resume) {
    if (resume->params.size() != st.params.size() || resume->optimizer_state.size() != st.opt_state.size() ||
        resume->input_width != data.width) {
      throw Error::data(options.resume_path, "checkpoint does not match the model's parameter layout");
    }
    std::copy(resume->params.begin(), resume->params.end(), st.params.begin());
    std::copy(resume->optimizer_state.begin(), resume->optimizer_state.end(), st.opt_state.begin());
    optimizer.set_steps(resume->optimizer_steps);
  } else if (!config.model.init_from.empty()) {
    import_weights(config.model.init_from, net.layout(), st.params);
  } else {
    net.init_weights(config.training.seed);
  }
  // Built from the staging before the prefetcher uses it, from the same rows in a resumed run;
  // every rank then takes rank 0's.
  InputOrder input_order;
  if (options.reorder_input_columns) {
    input_order = build_input_order(net, *data.train.data, data.train.rows, data.transform, st.staging.x,
                                    batches.micro, threads);
    agree_input_order(comm, input_order, data.width);
  }
  auto move_weights = [&](WeightOrder to) {
    move_input_weights(net, input_order, st.params, st.opt_state, shape.optimizer_state_per_param, to);
  };
  if (input_order.active()) {
    move_weights(WeightOrder::run);
    data.transform.chunks = input_order.chunks;
    char buf[160];
    std::snprintf(buf, sizeof buf, "input columns reordered for the first layer: %.1f%% of its weight gradient skippable instead of %.1f%%",
                  100.0 * input_order.zero_share_run, 100.0 * input_order.zero_share_file);
    log::info(buf, {{"event", "input_order"}, {"skippable_share", input_order.zero_share_run},
                    {"skippable_share_file_order", input_order.zero_share_file}});
  }
  // Checkpoints and exports keep the file's column order. A failed write ends the run, so the
  // weights need no moving back then.
  auto in_file_order = [&](auto&& write) {
    move_weights(WeightOrder::file);
    write();
    move_weights(WeightOrder::run);
  };

  const std::int64_t epochs = config.training.epochs;
  const std::int64_t B = batches.effective;
  const std::int64_t steps_per_epoch = config.data.drop_remainder ? n / B : (n + B - 1) / B;
  const bool has_accuracy = config.model.loss != Loss::mse;
  const auto& es = config.training.early_stopping;

  CheckpointData ck;
  ck.config_json = config.canonical_json;
  ck.config_hash = config_hash(config);
  ck.input_width = data.width;
  ck.seed = config.training.seed;
  ck.x_scale = data.transform.scale;
  ck.mean = data.transform.mean;
  ck.inv_std = data.transform.inv_std;
  ck.best_metric = std::numeric_limits<double>::infinity();
  std::int64_t start_epoch = 0, skip_batches = 0;
  if (resume) {
    start_epoch = resume->epochs_done;
    skip_batches = resume->batches_done;
    ck.best_metric = resume->best_metric;
    ck.bad_epochs = resume->bad_epochs;
    ck.best_epoch = resume->best_epoch;
  }
  auto save = [&](std::int64_t epochs_done, std::int64_t batches_done) {
    if (options.checkpoint_path.empty() || comm.rank() != 0) return;
    ck.epochs_done = epochs_done;
    ck.batches_done = batches_done;
    ck.optimizer_steps = optimizer.steps();
    in_file_order([&] { write_checkpoint(options.checkpoint_path, {&ck, st.params, st.opt_state}); });
  };

  FitSummary summary;
  summary.batch_size = B;
  summary.micro_batch = batches.micro;
  summary.eval_batch = batches.eval;
  summary.planned_bytes = st.storage.size();
  MetricsFile metrics(comm.rank() == 0 ? options.metrics_path : "", resume.has_value());
  log::info("training " + std::to_string(n) + " samples, " + std::to_string(net.layout().total) +
                " parameters, batch " + std::to_string(B) + " (micro-batch " + std::to_string(batches.micro) +
                "), " + std::to_string(threads) + " threads",
            {{"event", "start"}, {"samples", n}, {"parameters", net.layout().total}, {"batch_size", B},
             {"micro_batch", batches.micro}, {"eval_batch", batches.eval}, {"threads", threads}});

  InterruptGuard interrupts;
  // Each rank draws its own dropout masks: its samples differ from the other ranks'.
  const std::uint64_t rank_seed = config.training.seed ^ (static_cast<std::uint64_t>(comm.rank()) * 0xD1B54A32D192ED03ULL);
  Prefetcher prefetcher(*data.train.data, data.transform, st.staging, batches.micro, kPrefetchDepth);
  ShardedBatches shard(prefetcher, comm);
  for (std::int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
    const bool resumed_epoch = resume && epoch == start_epoch && skip_batches > 0;
    double loss_sum = resumed_epoch ? resume->epoch_loss_sum : 0.0;
    std::int64_t correct = resumed_epoch ? resume->epoch_correct : 0;
    std::int64_t samples = resumed_epoch ? resume->epoch_samples : 0;
    const double seconds_before = resumed_epoch ? resume->epoch_seconds : 0.0;
    const std::int64_t first_batch = epoch == start_epoch ? skip_batches : 0;
    const auto t0 = Clock::now();
    epoch_rows_into(st.order, data.train.rows, config.training.seed, static_cast<std::uint64_t>(epoch),
                    config.data.shuffle);
    shard.start(st.order.subspan(static_cast<std::size_t>(first_batch * B)), B, batches.micro,
                     config.data.drop_remainder);
    log::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs), n);
    double lr = 0;
    std::int64_t step = first_batch;
    std::int64_t micro_index = 0;
    double step_loss = 0;
    // The first micro-batch with rows stores its gradients, the others add theirs, so the
    // gradients need no clearing pass; a step whose shard is empty on this rank clears them.
    bool grads_hold_step = false;
    while (const auto batch = shard.next()) {
      BatchStats s;
      if (batch->n > 0) {
        // grad_scale 1/B_k: the accumulated gradient is the mean over the whole effective batch.
        s = net.train_micro_batch(batch->x, batch->labels, batch->targets, batch->n,
                                  1.0f / static_cast<float>(batch->batch_size),
                                  dropout_seed(rank_seed, optimizer.steps(), micro_index),
                                  grads_hold_step ? Network::Gradients::accumulate : Network::Gradients::overwrite);
        grads_hold_step = true;
      }
      step_loss += s.loss_sum;
      correct += s.correct;
      ++micro_index;
      if (!batch->last_in_batch) continue;

      if (!std::isfinite(step_loss)) {
        throw Error::diverged("epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(step + 1),
                              "the training loss is " + std::string(std::isnan(step_loss) ? "NaN" : "infinite"),
                              "lower the learning rate (/optimizer/lr) or scale the inputs (/data/x_scale, /data/normalize)");
      }
      loss_sum += step_loss;
      samples += batch->batch_size;
      lr = scheduled_lr(config.optimizer, config.schedule, epochs,
                        static_cast<double>(epoch) + static_cast<double>(step) / static_cast<double>(steps_per_epoch));
      if (!grads_hold_step) std::memset(st.grads.data(), 0, st.grads.size_bytes());
      comm.allreduce_sum(st.grads);
      optimizer.step(st.params, st.grads, lr);
      ++step;
      watch.sample(step);
      micro_index = 0;
      step_loss = 0;
      grads_hold_step = false;
      progress.update(samples, static_cast<double>(samples) / std::max(1e-9, seconds_since(t0)));
      if (options.max_steps && optimizer.steps() >= *options.max_steps) break;
      if (options.interrupt_after_steps && optimizer.steps() == *options.interrupt_after_steps) raise(SIGINT);
      if (InterruptGuard::pending() != 0) {
        progress.done();
        ck.epoch_loss_sum = loss_sum;
        ck.epoch_correct = correct;
        ck.epoch_samples = samples;
        ck.epoch_seconds = seconds_before + seconds_since(t0);
        save(epoch, step);
        throw Error::interrupted("fit", std::string("interrupted by ") +
                                            (InterruptGuard::pending() == SIGTERM ? "SIGTERM" : "SIGINT") +
                                            (options.checkpoint_path.empty() ? "" : "; checkpoint written to " + options.checkpoint_path));
      }
    }
    progress.done();
    sum_epoch_stats(comm, loss_sum, correct);
    check_in_sync(comm, st.params, epoch + 1);
    watch.sample(step, true);
    const double train_seconds = seconds_before + seconds_since(t0);
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.train_loss = samples > 0 ? loss_sum / static_cast<double>(samples) : 0.0;
    if (has_accuracy) m.train_accuracy = samples > 0 ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0;
    if (data.validation.present()) {
      EvalResult v = evaluate_sharded(comm, net, data.validation, data.transform, st.eval_staging, batches.eval);
      m.val_loss = v.loss;
      if (has_accuracy) m.val_accuracy = v.accuracy;
    }
    m.lr = lr;
    m.seconds = train_seconds;
    m.samples_per_second = train_seconds > 0 ? static_cast<double>(samples) / train_seconds : 0.0;
    m.batch_size = B;
    m.micro_batch = batches.micro;
    if (options.keep_epoch_history || summary.epochs.empty())
      summary.epochs.push_back(m);
    else
      summary.epochs.back() = m;
    metrics.write(m);
    nlohmann::json fields = to_json(m);
    fields["event"] = "epoch";
    log::info(epoch_line(m, epochs), fields);

    bool stop = options.max_steps && optimizer.steps() >= *options.max_steps;
    if (es.enabled) {
      const double value = monitored(es.monitor, m);
      if (value < ck.best_metric - es.min_delta) {
        ck.best_metric = value;
        ck.bad_epochs = 0;
        ck.best_epoch = epoch + 1;
      } else if (++ck.bad_epochs > es.patience) {
        log::info("early stopping: " + es.monitor + " has not improved for " + std::to_string(ck.bad_epochs) +
                  " epochs (best at epoch " + std::to_string(ck.best_epoch) + ")");
        summary.early_stopped = true;
        stop = true;
      }
    }
    ck.epoch_loss_sum = 0;
    ck.epoch_correct = 0;
    ck.epoch_samples = 0;
    ck.epoch_seconds = 0;
    save(epoch + 1, 0);
    if (InterruptGuard::pending() != 0) {
      throw Error::interrupted("fit", std::string("interrupted by ") +
                                          (InterruptGuard::pending() == SIGTERM ? "SIGTERM" : "SIGINT") +
                                          " at the end of epoch " + std::to_string(epoch + 1) +
                                          (options.checkpoint_path.empty() ? "" : "; checkpoint written to " + options.checkpoint_path));
    }
    if (stop) break;
  }
  summary.optimizer_steps = optimizer.steps();
  summary.budget_bytes = search.budget_bytes;
  summary.budget_source = search.budget_source;

  if (data.test.present()) {
    EvalResult t = evaluate_sharded(comm, net, data.test, data.transform, st.eval_staging, batches.eval);
    summary.test_loss = t.loss;
    if (has_accuracy) summary.test_accuracy = t.accuracy;
    char buf[128];
    if (has_accuracy) {
      std::snprintf(buf, sizeof buf, "test  loss %.4f  accuracy %.4f  (%lld samples)", t.loss, t.accuracy,
                    static_cast<long long>(t.samples));
    } else {
      std::snprintf(buf, sizeof buf, "test  loss %.4f  (%lld samples)", t.loss, static_cast<long long>(t.samples));
    }
    log::info(buf, {{"event", "test"}, {"test_loss", t.loss},
                    {"test_accuracy", has_accuracy ? nlohmann::json(t.accuracy) : nlohmann::json(nullptr)}});
  }
  watch.sample(0, true);
  summary.measured_peak_bytes = watch.peak();
  if (!options.report_path.empty() && comm.rank() == 0) {
    ReportInput report;
    report.epochs = summary.epochs;
    report.probe = to_json(search);
    report.settings = nlohmann::json::parse(config.canonical_json);
    report.source = config.source;
    write_report(report, options.report_path, ReportFormat::html);
    log::info("report written to " + options.report_path);
  }
  if (!options.export_dir.empty() && comm.rank() == 0) {
    in_file_order([&] { export_weights(options.export_dir, net.layout(), st.params); });
    log::info("weights written to " + options.export_dir);
  }
  return summary;
}

}  // namespace trainer
