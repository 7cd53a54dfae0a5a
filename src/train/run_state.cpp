#include "trainer/run_state.hpp"

#include <algorithm>

namespace trainer {
namespace {

Staging carve_staging(Storage& storage, std::int64_t batch, const RunShape& s) {
  Staging st;
  const auto b = static_cast<std::uint64_t>(batch);
  st.x = storage.take_array<float>(b * static_cast<std::uint64_t>(s.width));
  if (s.target_kind == TargetKind::class_ids) {
    st.labels = storage.take_array<std::int32_t>(b);
  } else {
    st.targets = storage.take_array<float>(b * static_cast<std::uint64_t>(s.target_width));
  }
  st.rows = storage.take_array<std::int64_t>(b);
  return st;
}

}  // namespace

RunState allocate_run(Network& net, const RunShape& shape, Optimizer* optimizer) {
  const auto items = plan_storage(net, shape);
  RunState st;
  st.storage = Storage(Network::total(items));
  const auto p = static_cast<std::uint64_t>(net.layout().total);
  st.params = st.storage.take_array<float>(p);
  st.grads = st.storage.take_array<float>(p);
  st.opt_state = st.storage.take_array<float>(p * static_cast<std::uint64_t>(shape.optimizer_state_per_param));
  // Training buffers, then the evaluation buffers over the same bytes (see plan_storage).
  const std::uint64_t shared_from = st.storage.used();
  auto train_ws = st.storage.take(Network::total(net.plan_train(shape.micro_batch)));
  {
    const auto slots = static_cast<std::uint64_t>(kPrefetchDepth * shape.micro_batch);
    st.staging.x = st.storage.take_array<float>(slots * static_cast<std::uint64_t>(shape.width));
    if (shape.target_kind == TargetKind::class_ids) {
      st.staging.labels = st.storage.take_array<std::int32_t>(slots);
      st.staging.rows = st.storage.take_array<std::int64_t>(2 * static_cast<std::uint64_t>(shape.micro_batch));
    } else {
      st.staging.targets = st.storage.take_array<float>(slots * static_cast<std::uint64_t>(shape.target_width));
    }
  }
  const std::uint64_t train_end = st.storage.used();
  st.storage.seek(shared_from);
  auto eval_ws = st.storage.take(Network::total(net.plan_eval(shape.eval_batch)));
  st.eval_staging = carve_staging(st.storage, shape.eval_batch, shape);
  st.storage.seek(std::max(train_end, st.storage.used()));
  st.order = st.storage.take_array<std::int64_t>(static_cast<std::uint64_t>(shape.train_rows));
  net.bind(st.params.data(), st.grads.data(), train_ws, shape.micro_batch, eval_ws, shape.eval_batch);
  if (optimizer != nullptr) optimizer->bind_state(st.opt_state);
  return st;
}

}  // namespace trainer
