// The layer sequence: building it from the config, carving its workspaces, and the forward and
// backward passes of a micro-batch. The layers do the numeric work.
#include "layer_stack.hpp"

#include <algorithm>
#include <string>

#include "kernels.hpp"
#include "trainer/error.hpp"

namespace trainer::model {
namespace {

std::string layer_key(std::size_t i) { return "/model/layers/" + std::to_string(i); }

// Rows at which a layer's per-sample bytes are measured: a power of two large enough that the
// 64-byte rounding of each buffer vanishes in the division.
constexpr std::int64_t kPerSampleProbe = std::int64_t{1} << 20;

}  // namespace

template <class T>
LayerStack<T>::LayerStack(const ModelConfig& config, const SampleShape& input, Index conv_workspace_floats)
    : input_(input), loss_(config.loss) {
  if (input.size() < 1)
    throw Error::data("input", "samples have " + std::to_string(input.size()) + " values",
                      "at least one input value per sample");
  const auto& layers = config.layers;
  if (std::none_of(layers.begin(), layers.end(),
                   [](const LayerConfig& l) { return l.type == LayerConfig::Type::dense; }))
    throw Error::usage("/model/layers", "the model has no dense layer",
                       "at least one {\"type\": \"dense\", \"units\": N}");
  if (layers.back().type != LayerConfig::Type::dense)
    throw Error::usage(layer_key(layers.size() - 1), "the last layer is not dense",
                       "a dense layer last; its activation is implied by the loss");
  ParamRegistry registry(layout_);
  SampleShape shape = input;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    LayerSite site{i, layer_key(i), shape, i + 1 == layers.size(), config.loss, config.init, conv_workspace_floats};
    layers_.push_back(make_layer<T>(layers[i], site, registry));
    shape = layers_.back()->output();
  }
  registry.finish();
  while (first_learning_ + 1 < layers_.size() && layers_[first_learning_]->parameters() == 0) ++first_learning_;
  inputs_.resize(layers_.size());
}

template <class T>
bool LayerStack<T>::has_batch_norm() const {
  return std::any_of(layers_.begin(), layers_.end(),
                     [](const auto& l) { return l->type() == LayerConfig::Type::batch_norm; });
}

template <class T>
std::vector<LayerSummary> LayerStack<T>::summaries() const {
  std::vector<LayerSummary> out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer<T>& l = *layers_[i];
    Carver measure(nullptr);
    layers_[i]->carve_train(measure, kPerSampleProbe);
    // Sizes are in T; what the trainer runs is float whatever T is.
    const std::uint64_t bytes = measure.used() / kPerSampleProbe * sizeof(float) / sizeof(T);
    out.push_back({i, to_string(l.type()), l.output().chw(), l.parameters(), bytes});
  }
  return out;
}

template <class T>
std::vector<GemmProduct> LayerStack<T>::gemm_products(std::int64_t micro, std::int64_t eval) const {
  std::vector<GemmProduct> out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (i >= first_learning_) layers_[i]->products(micro, true, needs_input_grad(i), out);
    layers_[i]->products(eval, false, false, out);
  }
  return out;
}

template <class T>
std::vector<MemoryItem> LayerStack<T>::carve_train(std::byte* base, std::int64_t batch, TrainBuffers& out) const {
  Carver carver(base);
  for (const auto& l : layers_) l->carve_train(carver, batch);
  std::int64_t gradient_width = 0, workspace = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (needs_input_grad(i) && layers_[i]->writes_gradient_buffer())
      gradient_width = std::max(gradient_width, layers_[i]->input().size());
    workspace = std::max(workspace, layers_[i]->workspace(batch));
  }
  carver.take(out.shared.gradient, batch * gradient_width, "gradient", "backward gradient buffer");
  carver.take(out.shared.workspace, workspace, "workspace", "layer workspace (unfolded convolution inputs)");
  return carver.items();
}

template <class T>
std::vector<MemoryItem> LayerStack<T>::carve_eval(std::byte* base, std::int64_t batch, EvalBuffers& out) const {
  Carver carver(base);
  std::int64_t widest = 0, workspace = 0;
  for (const auto& l : layers_) {
    widest = std::max(widest, l->output().size());
    workspace = std::max(workspace, l->workspace(batch));
  }
  carver.take(out.ping[0], batch * widest, "evaluation_activations", "evaluation activations");
  carver.take(out.ping[1], batch * widest, "evaluation_activations", "evaluation activations");
  for (const auto& l : layers_) l->carve_eval(carver, batch);
  carver.take(out.shared.workspace, workspace, "evaluation_workspace", "evaluation layer workspace");
  return carver.items();
}

template <class T>
std::vector<MemoryItem> LayerStack<T>::plan_train(std::int64_t batch) const {
  TrainBuffers unused;
  return carve_train(nullptr, batch, unused);
}

template <class T>
std::vector<MemoryItem> LayerStack<T>::plan_eval(std::int64_t batch) const {
  EvalBuffers unused;
  return carve_eval(nullptr, batch, unused);
}

template <class T>
void LayerStack<T>::bind(T* params, T* grads, std::span<std::byte> train_ws, std::int64_t max_train,
                         std::span<std::byte> eval_ws, std::int64_t max_eval) {
  auto check = [](std::span<std::byte> ws, std::uint64_t planned, const char* what) {
    if (ws.size() < planned)
      throw Error::runtime(what, std::to_string(ws.size()) + " bytes bound",
                           std::to_string(planned) + " bytes as planned");
    if (planned > 0 && reinterpret_cast<std::uintptr_t>(ws.data()) % Carver::kAlign != 0)
      throw Error::runtime(what, "storage is not 64-byte aligned");
  };
  params_ = params;
  grads_ = grads;
  max_train_ = max_train;
  max_eval_ = max_eval;
  for (auto& l : layers_) l->bind_params(params, grads, layout_);
  if (max_train > 0) {
    check(train_ws, Network::total(plan_train(max_train)), "train workspace");
    carve_train(train_ws.data(), max_train, train_);
  }
  if (max_eval > 0) {
    check(eval_ws, Network::total(plan_eval(max_eval)), "eval workspace");
    carve_eval(eval_ws.data(), max_eval, eval_);
  }
}

template <class T>
void LayerStack<T>::init_weights(std::uint64_t seed) {
  for (auto& l : layers_) l->init(seed);
}

template <class T>
BatchStats LayerStack<T>::train_micro_batch(const T* x, const std::int32_t* labels, const float* targets,
                                            std::int64_t n, T grad_scale, std::uint64_t dropout_seed,
                                            bool accumulate) {
  if (n < 1 || n > max_train_ || !grads_)
    throw Error::runtime("train_micro_batch", std::to_string(n) + " rows",
                         "1 to " + std::to_string(max_train_) + " rows, with gradients bound");
  if ((loss_ == Loss::mse && !targets) || (loss_ != Loss::mse && !labels))
    throw Error::runtime("train_micro_batch", "no training targets given",
                         loss_ == Loss::mse ? "float targets for mse" : "class labels");
  StepFlags flags{accumulate, true, dropout_seed};
  const T* cur = x;
  T* logits = nullptr;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    inputs_[i] = cur;
    logits = layers_[i]->forward_train(cur, n, flags, train_.shared);
    cur = logits;
  }
  // The last layer is dense: its output is its own buffer, which the loss overwrites with its
  // gradient, where the layer's backward expects it.
  const BatchStats stats = loss_forward(loss_, logits, n, outputs(), labels, targets, true, grad_scale,
                                        static_cast<T*>(nullptr));
  T* g = logits;
  for (std::size_t i = layers_.size(); i-- > first_learning_;) {
    flags.need_input_grad = needs_input_grad(i);
    g = layers_[i]->backward(inputs_[i], g, n, flags, train_.shared);
  }
  return stats;
}

template <class T>
BatchStats LayerStack<T>::evaluate(const T* x, const std::int32_t* labels, const float* targets, std::int64_t n,
                                   T* outputs) {
  if (n < 0 || n > max_eval_)
    throw Error::runtime("evaluate", std::to_string(n) + " rows", "0 to " + std::to_string(max_eval_) + " rows");
  if (n == 0) return {};
  const T* cur = x;
  int next = 0;
  for (auto& l : layers_) {
    T* out = eval_.ping[next];
    const T* result = l->forward_eval(cur, out, n, eval_.shared);
    if (result == out) next ^= 1;
    cur = result;
  }
  // The last layer is dense and wrote one of the ping-pong buffers.
  return loss_forward(loss_, const_cast<T*>(cur), n, this->outputs(), labels, targets, false, T(1), outputs);
}

template class LayerStack<float>;
template class LayerStack<double>;

}  // namespace trainer::model
