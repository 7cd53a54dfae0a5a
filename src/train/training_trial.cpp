#include "trainer/training_trial.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"
#include "trainer/prefetcher.hpp"
#include "trainer/run_storage.hpp"

namespace trainer {

TrialSteps training_trial_steps(const Config& config, const DataSets& data) {
  return [&config, &data](const RunShape& shape) {
    Network net(config.model, data.input);
    Optimizer optimizer(config.optimizer);
    // Kept alive past the steps: the trial's last sample, taken after they return, must see the
    // run's memory (the child ends with _exit, which frees it).
    static std::optional<RunState> kept;
    kept.emplace(allocate_run(net, shape, &optimizer));
    RunState& st = *kept;
    net.init_weights(config.training.seed);
    // The epoch order as fit fills it, then two micro-batches through the real prefetcher, so
    // its thread and both staging slots are part of the measurement.
    const std::size_t rows = std::min(st.order.size(), data.train.rows.size());
    std::copy_n(data.train.rows.begin(), rows, st.order.begin());
    const std::int64_t micro = std::max<std::int64_t>(1, shape.micro_batch);
    const std::int64_t used = std::min<std::int64_t>(static_cast<std::int64_t>(rows), 2 * micro);
    Prefetcher prefetcher(*data.train.data, data.transform, st.staging, micro, kPrefetchDepth, &data.augment);
    prefetcher.start(st.order.first(static_cast<std::size_t>(used)), micro, micro, false);
    std::int64_t step = 0;
    while (const auto batch = prefetcher.next()) {
      net.train_micro_batch(batch->x, batch->labels, batch->targets, batch->n, 1.0f / static_cast<float>(batch->n),
                            static_cast<std::uint64_t>(step), Network::Gradients::overwrite);
      optimizer.step(st.params.first(st.grads.size()), st.grads, config.optimizer.lr);
      ++step;
    }
    const RowSet& eval_set = data.validation.present() ? data.validation
                             : data.test.present()     ? data.test
                                                       : data.train;
    const std::int64_t m = std::min(shape.eval_batch, eval_set.size());
    const Staging& es = st.eval_staging;
    std::copy_n(eval_set.rows.begin(), m, es.rows.begin());
    std::int32_t* labels = es.labels.empty() ? nullptr : es.labels.data();
    float* targets = es.targets.empty() ? nullptr : es.targets.data();
    eval_set.data->gather({es.rows.data(), static_cast<std::size_t>(m)}, data.transform, es.x.data(), labels,
                          targets);
    net.evaluate(es.x.data(), labels, targets, m, nullptr);
  };
}

TrialResult training_trial(const Config& config, const RunShape& shape, const DataSets& data,
                           std::uint64_t data_limit, std::chrono::milliseconds timeout) {
  const TrialSteps steps = training_trial_steps(config, data);
  return run_trial(data_limit, timeout, [&] { steps(shape); });
}

}  // namespace trainer
