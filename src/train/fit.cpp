// fit(): the stages of a training run, in the order they happen.
//
//   check_outputs     every output folder is writable before any work
//   open_run          the resumed checkpoint, the data, the network and the optimizer
//   plan_memory       the batch search against the budget, then the run's one Storage block
//   set_weights       from the checkpoint, init_from, or seeded initialisation
//   order_inputs      an MLP's input column order for its first layer's weight gradient
//   train_epoch       one epoch of steps (micro-batches, accumulation, the optimizer)
//   end_epoch         validation, metrics, early stopping, the checkpoint
//   finish            the test set, the report and the exported weights
#include "trainer/fit.hpp"
#include "trainer/network_for.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "trainer/batch_search_json.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/distributed.hpp"
#include "trainer/epoch_metrics_json.hpp"
#include "trainer/error.hpp"
#include "trainer/evaluation.hpp"
#include "trainer/input_order.hpp"
#include "trainer/interrupt.hpp"
#include "trainer/log.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/prefetcher.hpp"
#include "trainer/report.hpp"
#include "trainer/run_memory.hpp"
#include "trainer/run_storage.hpp"
#include "trainer/training_trial.hpp"
#include "trainer/weights_io.hpp"

namespace trainer {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A different, reproducible dropout stream for every micro-batch of the run.
std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t step, std::int64_t micro_index) {
  std::uint64_t z = seed ^ (static_cast<std::uint64_t>(step) * 0x9E3779B97F4A7C15ULL) ^
                    (static_cast<std::uint64_t>(micro_index) * 0xBF58476D1CE4E5B9ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// ---- check_outputs ---------------------------------------------------------------------------

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

void check_outputs(const Communicator& comm, const FitOptions& options) {
  if (comm.rank() != 0) return;  // rank 0 writes every output (docs/distributed.md)
  check_output_folder(options.metrics_path, "--metrics");
  check_output_folder(options.checkpoint_path, "--checkpoint");
  check_output_folder(options.report_path, "--report");
  check_export_folder(options.export_dir);
}

// ---- logging ---------------------------------------------------------------------------------

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

Error interrupted(const FitOptions& options, const std::string& when) {
  return Error::interrupted("fit", std::string("interrupted by ") +
                                       (InterruptGuard::pending() == SIGTERM ? "SIGTERM" : "SIGINT") + when +
                                       (options.checkpoint_path.empty() ? "" : "; checkpoint written to " + options.checkpoint_path));
}

// ---- open_run --------------------------------------------------------------------------------

std::optional<CheckpointData> read_resume(const Config& config, const FitOptions& options) {
  if (options.resume_path.empty()) return std::nullopt;
  CheckpointData ck = read_checkpoint(options.resume_path);
  if (ck.config_hash != config_hash(config)) {
    throw Error::data(options.resume_path, "checkpoint was made with a different model or optimizer config",
                      "a checkpoint written by a run of " + config.source);
  }
  return ck;
}

// A resumed run keeps the statistics it was standardised with.
DataSets open_run_data(const Config& config, const std::optional<CheckpointData>& resume) {
  if (!resume) return open_data(config, DataUse::train);
  InputTransform saved;
  saved.scale = resume->x_scale;
  saved.mean = resume->mean;
  saved.inv_std = resume->inv_std;
  return open_data(config, DataUse::train, &saved);
}

// Everything a run holds, built by the stages below in order.
struct Run {
  Run(const Config& c, const FitOptions& o)
      : config(c),
        options(o),
        comm(Communicator::world()),
        resume(read_resume(c, o)),
        data(open_run_data(c, resume)),
        net(network_for(c, data.input)),
        optimizer(c.optimizer),
        threads(set_compute_threads(static_cast<int>(c.training.threads))) {}

  const Config& config;
  const FitOptions& options;
  Communicator& comm;
  std::optional<CheckpointData> resume;
  DataSets data;
  Network net;
  Optimizer optimizer;
  int threads;
  RunShape shape;
  BatchSearch search;
  BatchChoice batches;
  RunState st;
  InputOrder input_order;
  CheckpointData ck;  // the header of every checkpoint the run writes
};

// ---- plan_memory -----------------------------------------------------------------------------

void plan_memory(Run& r) {
  const std::int64_t n = r.data.train.size();
  r.shape.width = r.data.width;
  r.shape.target_width = r.data.target_width;
  r.shape.target_kind = target_kind(r.config.model.loss);
  r.shape.train_rows = n;
  r.shape.optimizer_state_per_param = r.optimizer.state_per_param();
  r.search = search_batches(r.config, r.net, r.shape, n, std::max(r.data.validation.size(), r.data.test.size()),
                            r.data.train.data->size(), training_trial_steps(r.config, r.data));
  log::info("planned peak " + format_bytes(r.search.predicted_peak) +
            (r.search.budget_source == "none" ? std::string(" (memory budget not enforced)")
                                              : " of " + format_bytes(r.search.budget_bytes)));
  r.batches = r.search.choice;
  r.shape.micro_batch = r.batches.micro;
  r.shape.eval_batch = r.batches.eval;
  const bool accumulates = r.batches.micro < part_of(r.batches.effective, r.comm.rank(), r.comm.size()).count;
  if (accumulates) {
    log::info("batch " + std::to_string(r.batches.effective) + " does not fit at once: accumulating gradients over micro-batches of " +
              std::to_string(r.batches.micro));
  }
  // Each micro-batch (each rank) normalises by its own statistics: the update is not the one a
  // whole batch in memory would give (docs/memory.md, "Batch norm and accumulation").
  if (r.net.has_batch_norm() && (accumulates || r.comm.distributed()))
    log::warn(std::string("batch_norm normalises each ") + (accumulates ? "micro-batch of " + std::to_string(r.batches.micro) : "rank's part") +
                  " by its own statistics, not the effective batch of " + std::to_string(r.batches.effective) +
                  "'s: results depend on the micro-batch and rank count",
              {{"event", "batch_norm_split"}, {"micro_batch", r.batches.micro}, {"ranks", r.comm.size()}});
  r.st = allocate_run(r.net, r.shape, &r.optimizer);
}

// ---- set_weights -----------------------------------------------------------------------------

void set_weights(Run& r) {
  if (r.resume) {
    if (r.resume->params.size() != r.st.params.size() || r.resume->optimizer_state.size() != r.st.opt_state.size() ||
        r.resume->input_width != r.data.width) {
      throw Error::data(r.options.resume_path, "checkpoint does not match the model's parameter layout");
    }
    std::copy(r.resume->params.begin(), r.resume->params.end(), r.st.params.begin());
    std::copy(r.resume->optimizer_state.begin(), r.resume->optimizer_state.end(), r.st.opt_state.begin());
    r.optimizer.set_steps(r.resume->optimizer_steps);
  } else if (!r.config.model.init_from.empty()) {
    import_weights(r.config.model.init_from, r.net.layout(), r.st.params);
  } else {
    r.net.init_weights(r.config.training.seed);
  }
}

// ---- order_inputs ----------------------------------------------------------------------------

void move_weights(Run& r, WeightOrder to) {
  move_input_weights(r.net, r.input_order, r.st.params, r.st.opt_state, r.shape.optimizer_state_per_param, to);
}

// Built from the staging before the prefetcher uses it, from the same rows in a resumed run;
// every rank then takes rank 0's.
void order_inputs(Run& r) {
  if (!r.options.reorder_input_columns) return;
  r.input_order = build_input_order(r.net, *r.data.train.data, r.data.train.rows, r.data.transform, r.st.staging.x,
                                    r.batches.micro, r.threads);
  agree_input_order(r.comm, r.input_order, r.data.width);
  if (!r.input_order.active()) return;
  move_weights(r, WeightOrder::run);
  r.data.transform.chunks = r.input_order.chunks;
  char buf[160];
  std::snprintf(buf, sizeof buf, "input columns reordered for the first layer: %.1f%% of its weight gradient skippable instead of %.1f%%",
                100.0 * r.input_order.zero_share_run, 100.0 * r.input_order.zero_share_file);
  log::info(buf, {{"event", "input_order"}, {"skippable_share", r.input_order.zero_share_run},
                  {"skippable_share_file_order", r.input_order.zero_share_file}});
}

// Checkpoints and exports keep the file's column order. A failed write ends the run, so the
// weights need no moving back then.
template <class Write>
void in_file_order(Run& r, Write&& write) {
  move_weights(r, WeightOrder::file);
  write();
  move_weights(r, WeightOrder::run);
}

// ---- checkpoints -----------------------------------------------------------------------------

void start_checkpoints(Run& r) {
  CheckpointData& ck = r.ck;
  ck.config_json = r.config.canonical_json;
  ck.config_hash = config_hash(r.config);
  ck.input_width = r.data.width;
  ck.input = r.data.input;
  ck.seed = r.config.training.seed;
  ck.x_scale = r.data.transform.scale;
  ck.mean = r.data.transform.mean;
  ck.inv_std = r.data.transform.inv_std;
  ck.best_metric = std::numeric_limits<double>::infinity();
  if (r.resume) {
    ck.best_metric = r.resume->best_metric;
    ck.bad_epochs = r.resume->bad_epochs;
    ck.best_epoch = r.resume->best_epoch;
  }
}

void save(Run& r, std::int64_t epochs_done, std::int64_t batches_done) {
  if (r.options.checkpoint_path.empty() || r.comm.rank() != 0) return;
  r.ck.epochs_done = epochs_done;
  r.ck.batches_done = batches_done;
  r.ck.optimizer_steps = r.optimizer.steps();
  in_file_order(r, [&] { write_checkpoint(r.options.checkpoint_path, {&r.ck, r.st.params, r.st.opt_state}); });
}

// ---- train_epoch -----------------------------------------------------------------------------

// Where an epoch starts: from scratch, or part-way in a resumed run.
struct EpochStart {
  std::int64_t first_batch = 0;
  double loss_sum = 0, seconds = 0;
  std::int64_t correct = 0, samples = 0;
};

EpochStart epoch_start(const Run& r, std::int64_t epoch, std::int64_t start_epoch) {
  EpochStart s;
  if (!r.resume || epoch != start_epoch || r.resume->batches_done == 0) return s;
  s.first_batch = r.resume->batches_done;
  s.loss_sum = r.resume->epoch_loss_sum;
  s.correct = r.resume->epoch_correct;
  s.samples = r.resume->epoch_samples;
  s.seconds = r.resume->epoch_seconds;
  return s;
}

struct EpochResult {
  EpochMetrics metrics;
  bool stop = false;  // options.max_steps reached
};

EpochResult train_epoch(Run& r, ShardedBatches& shard, RunWatch& watch, std::int64_t epoch, const EpochStart& from) {
  const Config& config = r.config;
  const std::int64_t n = r.data.train.size(), B = r.batches.effective, epochs = config.training.epochs;
  const std::int64_t steps_per_epoch = config.data.drop_remainder ? n / B : (n + B - 1) / B;
  // Each rank draws its own dropout masks: its samples differ from the other ranks'.
  const std::uint64_t rank_seed = config.training.seed ^ (static_cast<std::uint64_t>(r.comm.rank()) * 0xD1B54A32D192ED03ULL);
  double loss_sum = from.loss_sum;
  std::int64_t correct = from.correct, samples = from.samples;
  const auto t0 = Clock::now();
  epoch_rows_into(r.st.order, r.data.train.rows, config.training.seed, static_cast<std::uint64_t>(epoch), config.data.shuffle);
  shard.start(r.st.order.subspan(static_cast<std::size_t>(from.first_batch * B)), B, r.batches.micro,
              config.data.drop_remainder, static_cast<std::uint64_t>(epoch));
  log::Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs), n);
  double lr = 0;
  std::int64_t step = from.first_batch, micro_index = 0;
  double step_loss = 0;
  // The first micro-batch with rows stores its gradients, the others add theirs, so the
  // gradients need no clearing pass; a step whose shard is empty on this rank clears them.
  bool grads_hold_step = false;
  EpochResult result;
  while (const auto batch = shard.next()) {
    BatchStats s;
    if (batch->n > 0) {
      // grad_scale 1/B_k: the accumulated gradient is the mean over the whole effective batch.
      s = r.net.train_micro_batch(batch->x, batch->labels, batch->targets, batch->n,
                                  1.0f / static_cast<float>(batch->batch_size),
                                  dropout_seed(rank_seed, r.optimizer.steps(), micro_index),
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
    if (!grads_hold_step) std::memset(r.st.grads.data(), 0, r.st.grads.size_bytes());
    r.comm.allreduce_sum(r.st.grads);
    r.optimizer.step(r.st.params.first(r.st.grads.size()), r.st.grads, lr);
    ++step;
    watch.sample(step);
    micro_index = 0;
    step_loss = 0;
    grads_hold_step = false;
    progress.update(samples, static_cast<double>(samples) / std::max(1e-9, seconds_since(t0)));
    if (r.options.max_steps && r.optimizer.steps() >= *r.options.max_steps) {
      result.stop = true;
      break;
    }
    if (r.options.interrupt_after_steps && r.optimizer.steps() == *r.options.interrupt_after_steps) raise(SIGINT);
    if (InterruptGuard::pending() != 0) {
      progress.done();
      r.ck.epoch_loss_sum = loss_sum;
      r.ck.epoch_correct = correct;
      r.ck.epoch_samples = samples;
      r.ck.epoch_seconds = from.seconds + seconds_since(t0);
      save(r, epoch, step);
      throw interrupted(r.options, "");
    }
  }
  progress.done();
  sum_epoch_stats(r.comm, loss_sum, correct);
  // Ranks move their batch-norm running statistics by their own batches; rank 0's are the job's.
  const std::int64_t trainable = r.net.layout().trainable;
  broadcast_from_root(r.comm, r.st.params.subspan(static_cast<std::size_t>(trainable)));
  check_in_sync(r.comm, r.st.params.first(static_cast<std::size_t>(trainable)), epoch + 1);
  watch.sample(step, true);
  const double train_seconds = from.seconds + seconds_since(t0);
  EpochMetrics& m = result.metrics;
  m.epoch = epoch + 1;
  m.train_loss = samples > 0 ? loss_sum / static_cast<double>(samples) : 0.0;
  if (config.model.loss != Loss::mse)
    m.train_accuracy = samples > 0 ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0;
  m.lr = lr;
  m.seconds = train_seconds;
  m.samples_per_second = train_seconds > 0 ? static_cast<double>(samples) / train_seconds : 0.0;
  m.batch_size = B;
  m.micro_batch = r.batches.micro;
  return result;
}

// ---- end_epoch -------------------------------------------------------------------------------

// Validation, metrics and the log line, early stopping and the epoch's checkpoint. Returns
// whether training stops here.
bool end_epoch(Run& r, EpochMetrics& m, bool stop, MetricsFile& metrics, FitSummary& summary) {
  const bool has_accuracy = r.config.model.loss != Loss::mse;
  if (r.data.validation.present()) {
    EvalResult v = evaluate_sharded(r.comm, r.net, r.data.validation, r.data.transform, r.st.eval_staging, r.batches.eval);
    m.val_loss = v.loss;
    if (has_accuracy) m.val_accuracy = v.accuracy;
  }
  if (r.options.keep_epoch_history || summary.epochs.empty())
    summary.epochs.push_back(m);
  else
    summary.epochs.back() = m;
  metrics.write(m);
  nlohmann::json fields = to_json(m);
  fields["event"] = "epoch";
  log::info(epoch_line(m, r.config.training.epochs), fields);

  const auto& es = r.config.training.early_stopping;
  if (es.enabled) {
    const double value = monitored(es.monitor, m);
    if (value < r.ck.best_metric - es.min_delta) {
      r.ck.best_metric = value;
      r.ck.bad_epochs = 0;
      r.ck.best_epoch = m.epoch;
    } else if (++r.ck.bad_epochs > es.patience) {
      log::info("early stopping: " + es.monitor + " has not improved for " + std::to_string(r.ck.bad_epochs) +
                " epochs (best at epoch " + std::to_string(r.ck.best_epoch) + ")");
      summary.early_stopped = true;
      stop = true;
    }
  }
  r.ck.epoch_loss_sum = 0;
  r.ck.epoch_correct = 0;
  r.ck.epoch_samples = 0;
  r.ck.epoch_seconds = 0;
  save(r, m.epoch, 0);
  if (InterruptGuard::pending() != 0) throw interrupted(r.options, " at the end of epoch " + std::to_string(m.epoch));
  return stop;
}

// ---- finish ----------------------------------------------------------------------------------

void evaluate_test(Run& r, FitSummary& summary) {
  if (!r.data.test.present()) return;
  const bool has_accuracy = r.config.model.loss != Loss::mse;
  EvalResult t = evaluate_sharded(r.comm, r.net, r.data.test, r.data.transform, r.st.eval_staging, r.batches.eval);
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

void write_outputs(Run& r, const FitSummary& summary) {
  if (r.comm.rank() != 0) return;
  if (!r.options.report_path.empty()) {
    ReportInput report;
    report.epochs = summary.epochs;
    report.probe = to_json(r.search);
    report.settings = nlohmann::json::parse(r.config.canonical_json);
    report.source = r.config.source;
    write_report(report, r.options.report_path, ReportFormat::html);
    log::info("report written to " + r.options.report_path);
  }
  if (!r.options.export_dir.empty()) {
    in_file_order(r, [&] { export_weights(r.options.export_dir, r.net.layout(), r.st.params); });
    log::info("weights written to " + r.options.export_dir);
  }
}

}  // namespace

FitSummary fit(const Config& config, const FitOptions& options) {
  check_outputs(Communicator::world(), options);
  Run r(config, options);
  plan_memory(r);
  RunWatch watch(r.search.predicted_peak, config.memory.headroom);  // resident memory against the plan
  set_weights(r);
  order_inputs(r);
  start_checkpoints(r);

  FitSummary summary;
  summary.batch_size = r.batches.effective;
  summary.micro_batch = r.batches.micro;
  summary.eval_batch = r.batches.eval;
  summary.planned_bytes = r.st.storage.size();
  MetricsFile metrics(r.comm.rank() == 0 ? options.metrics_path : "", r.resume.has_value());
  log::info("training " + std::to_string(r.data.train.size()) + " samples, " + std::to_string(r.net.layout().trainable) +
                " parameters, batch " + std::to_string(r.batches.effective) + " (micro-batch " +
                std::to_string(r.batches.micro) + "), " + std::to_string(r.threads) + " threads",
            {{"event", "start"}, {"samples", r.data.train.size()}, {"parameters", r.net.layout().trainable},
             {"batch_size", r.batches.effective}, {"micro_batch", r.batches.micro}, {"eval_batch", r.batches.eval},
             {"threads", r.threads}});

  InterruptGuard interrupts;
  Prefetcher prefetcher(*r.data.train.data, r.data.transform, r.st.staging, r.batches.micro, kPrefetchDepth,
                        &r.data.augment);
  ShardedBatches shard(prefetcher, r.comm);
  const std::int64_t start_epoch = r.resume ? r.resume->epochs_done : 0;
  for (std::int64_t epoch = start_epoch; epoch < config.training.epochs; ++epoch) {
    EpochResult e = train_epoch(r, shard, watch, epoch, epoch_start(r, epoch, start_epoch));
    if (end_epoch(r, e.metrics, e.stop, metrics, summary)) break;
  }
  summary.optimizer_steps = r.optimizer.steps();
  summary.budget_bytes = r.search.budget_bytes;
  summary.budget_source = r.search.budget_source;
  evaluate_test(r, summary);
  watch.sample(0, true);
  summary.measured_peak_bytes = watch.peak();
  write_outputs(r, summary);
  return summary;
}

}  // namespace trainer
