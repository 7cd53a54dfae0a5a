// trainer::Network: the float instantiation of the layer stack behind the public interface.
#include "trainer/model.hpp"

#include "layer_stack.hpp"

namespace trainer {

struct Network::Impl {
  model::LayerStack<float> stack;
};

Network::Network(const ModelConfig& config, const SampleShape& input)
    : impl_(new Impl{model::LayerStack<float>(config, input)}) {}

Network::Network(const ModelConfig& config, std::int64_t input_width) : Network(config, SampleShape::flat(input_width)) {}

Network::~Network() { delete impl_; }

const ParamLayout& Network::layout() const { return impl_->stack.layout(); }
const SampleShape& Network::input_shape() const { return impl_->stack.input_shape(); }
std::int64_t Network::input_width() const { return impl_->stack.input_shape().size(); }
std::int64_t Network::outputs() const { return impl_->stack.outputs(); }
Loss Network::loss() const { return impl_->stack.loss(); }
bool Network::first_layer_dense() const { return impl_->stack.first_layer_dense(); }
bool Network::has_batch_norm() const { return impl_->stack.has_batch_norm(); }
std::vector<LayerSummary> Network::layers() const { return impl_->stack.summaries(); }
std::vector<GemmProduct> Network::gemm_products(std::int64_t micro, std::int64_t eval) const {
  return impl_->stack.gemm_products(micro, eval);
}

std::vector<MemoryItem> Network::plan_train(std::int64_t batch) const { return impl_->stack.plan_train(batch); }
std::vector<MemoryItem> Network::plan_eval(std::int64_t batch) const { return impl_->stack.plan_eval(batch); }

std::uint64_t Network::total(const std::vector<MemoryItem>& items) {
  std::uint64_t sum = 0;
  for (const MemoryItem& item : items) sum += item.bytes;
  return sum;
}

void Network::bind(float* params, float* grads, std::span<std::byte> train_ws, std::int64_t max_train,
                   std::span<std::byte> eval_ws, std::int64_t max_eval) {
  impl_->stack.bind(params, grads, train_ws, max_train, eval_ws, max_eval);
}

void Network::init_weights(std::uint64_t seed) { impl_->stack.init_weights(seed); }

BatchStats Network::train_micro_batch(const float* x, const std::int32_t* labels, const float* targets,
                                      std::int64_t n, float grad_scale, std::uint64_t dropout_seed,
                                      Gradients gradients) {
  return impl_->stack.train_micro_batch(x, labels, targets, n, grad_scale, dropout_seed,
                                        gradients == Gradients::accumulate);
}

BatchStats Network::evaluate(const float* x, const std::int32_t* labels, const float* targets,
                             std::int64_t n, float* outputs) {
  return impl_->stack.evaluate(x, labels, targets, n, outputs);
}

}  // namespace trainer
