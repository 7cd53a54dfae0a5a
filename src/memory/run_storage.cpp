#include "trainer/run_storage.hpp"

#include <algorithm>
#include <string>

namespace trainer {
namespace {

// Carves a Storage, or with none only measures it, and books the bytes taken since the last
// booking as items of the breakdown.
class RunCarver {
 public:
  explicit RunCarver(Storage* storage) : storage_(storage) {}

  template <class T>
  std::span<T> take(std::uint64_t count) {
    used_ += align_up(count * sizeof(T));
    return storage_ ? storage_->take_array<T>(count) : std::span<T>{};
  }
  std::uint64_t used() const { return used_; }
  // Moves the carving point (back: the next slices lie over earlier ones); nothing is booked.
  void seek(std::uint64_t offset) {
    if (storage_) storage_->seek(offset);
    used_ = marked_ = offset;
  }
  // Books the bytes since the last booking as one item.
  void item(const std::string& key, const std::string& name) { book(key, name, used_ - marked_); }
  // Books given bytes instead (the slices since the last booking are covered by them).
  void book(const std::string& key, const std::string& name, std::uint64_t bytes) {
    items_.push_back({key, name, bytes});
    marked_ = used_;
  }
  const std::vector<MemoryItem>& items() const { return items_; }

 private:
  Storage* storage_;
  std::uint64_t used_ = 0, marked_ = 0;
  std::vector<MemoryItem> items_;
};

Staging carve_staging(RunCarver& c, std::int64_t batch, const RunShape& s) {
  Staging st;
  const auto b = static_cast<std::uint64_t>(batch);
  st.x = c.take<float>(b * static_cast<std::uint64_t>(s.width));
  if (s.target_kind == TargetKind::class_ids)
    st.labels = c.take<std::int32_t>(b);
  else
    st.targets = c.take<float>(b * static_cast<std::uint64_t>(s.target_width));
  st.rows = c.take<std::int64_t>(b);
  return st;
}

// The one pass behind plan_storage and allocate_run.
void carve_run(RunCarver& c, const Network& net, const RunShape& shape, RunState& out, std::span<std::byte>& train_ws,
               std::span<std::byte>& eval_ws) {
  const auto trainable = static_cast<std::uint64_t>(net.layout().trainable);
  out.params = c.take<float>(static_cast<std::uint64_t>(net.layout().total));
  c.item("parameters", "parameters");
  out.grads = c.take<float>(trainable);
  c.item("gradients", "gradients");
  out.opt_state = c.take<float>(trainable * static_cast<std::uint64_t>(shape.optimizer_state_per_param));
  c.item("optimizer_state", "optimizer state");

  // Evaluation runs between training steps, never during one, so its workspace and staging lie
  // over the training workspace and the prefetcher's staging: only what exceeds them is booked.
  const std::uint64_t shared_from = c.used();
  const std::vector<MemoryItem> train_items = net.plan_train(shape.micro_batch);
  train_ws = c.take<std::byte>(Network::total(train_items));
  for (const MemoryItem& item : train_items) c.book(item.key, item.name, item.bytes);
  const auto slots = static_cast<std::uint64_t>(kPrefetchDepth * shape.micro_batch);
  out.staging.x = c.take<float>(slots * static_cast<std::uint64_t>(shape.width));
  if (shape.target_kind == TargetKind::class_ids) {
    out.staging.labels = c.take<std::int32_t>(slots);
    // Two micro-batches of row indices: the prefetcher orders a micro-batch by class.
    out.staging.rows = c.take<std::int64_t>(2 * static_cast<std::uint64_t>(shape.micro_batch));
  } else {
    out.staging.targets = c.take<float>(slots * static_cast<std::uint64_t>(shape.target_width));
  }
  c.item("input_staging", "input staging (x" + std::to_string(kPrefetchDepth) + " prefetch)");
  const std::uint64_t train_end = c.used();

  c.seek(shared_from);
  eval_ws = c.take<std::byte>(Network::total(net.plan_eval(shape.eval_batch)));
  out.eval_staging = carve_staging(c, shape.eval_batch, shape);
  const std::uint64_t eval_end = c.used();
  c.seek(std::max(train_end, eval_end));
  c.book("evaluation", "evaluation beyond the training buffers it reuses", eval_end > train_end ? eval_end - train_end : 0);

  out.order = c.take<std::int64_t>(static_cast<std::uint64_t>(shape.train_rows));
  c.item("sample_order", "sample order");
}

}  // namespace

std::vector<MemoryItem> plan_storage(const Network& net, const RunShape& shape) {
  RunCarver measure(nullptr);
  RunState unused;
  std::span<std::byte> train_ws, eval_ws;
  carve_run(measure, net, shape, unused, train_ws, eval_ws);
  return measure.items();
}

RunState allocate_run(Network& net, const RunShape& shape, Optimizer* optimizer) {
  RunState st;
  st.storage = Storage(Network::total(plan_storage(net, shape)));
  RunCarver carver(&st.storage);
  std::span<std::byte> train_ws, eval_ws;
  carve_run(carver, net, shape, st, train_ws, eval_ws);
  st.items = carver.items();
  net.bind(st.params.data(), st.grads.data(), train_ws, shape.micro_batch, eval_ws, shape.eval_batch);
  if (optimizer != nullptr) optimizer->bind_state(st.opt_state);
  return st;
}

}  // namespace trainer
