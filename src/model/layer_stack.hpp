// The layers behind trainer::Network, templated on the scalar: float for training, double for
// the finite-difference gradient checks of the tests.
//
// Layout of the train workspace (carved in this order, every buffer 64-byte aligned, sizes
// from one pass of the Carver so that plan and bind cannot disagree):
//   each layer's own buffers  outputs kept for backward, dropout masks, batch-norm statistics
//   gradient                  [b, widest input of a layer that writes the shared gradient]
//   workspace                 the most floats any layer asks for (a convolution's unfolded input)
// The eval workspace is two ping-pong buffers [b, widest layer output], each layer's evaluation
// buffers, and the workspace at the evaluation batch.
//
// Ownership: params, grads and workspaces belong to the caller and must outlive the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "layers/layer.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace trainer::model {

template <class T>
class LayerStack {
 public:
  LayerStack(const ModelConfig& config, const SampleShape& input, Index conv_workspace_floats = kConvWorkspaceFloats);

  const ParamLayout& layout() const { return layout_; }
  const SampleShape& input_shape() const { return input_; }
  std::int64_t outputs() const { return layers_.back()->output().size(); }
  Loss loss() const { return loss_; }
  bool first_layer_dense() const { return layers_.front()->type() == LayerConfig::Type::dense; }
  bool has_batch_norm() const;
  std::vector<LayerSummary> summaries() const;
  std::vector<GemmProduct> gemm_products(std::int64_t micro, std::int64_t eval) const;

  std::vector<MemoryItem> plan_train(std::int64_t batch) const;
  std::vector<MemoryItem> plan_eval(std::int64_t batch) const;

  void bind(T* params, T* grads, std::span<std::byte> train_ws, std::int64_t max_train,
            std::span<std::byte> eval_ws, std::int64_t max_eval);
  void init_weights(std::uint64_t seed);

  // accumulate: add the gradients into grads, else store them.
  BatchStats train_micro_batch(const T* x, const std::int32_t* labels, const float* targets,
                               std::int64_t n, T grad_scale, std::uint64_t dropout_seed, bool accumulate = true);
  BatchStats evaluate(const T* x, const std::int32_t* labels, const float* targets, std::int64_t n,
                      T* outputs);

 private:
  struct TrainBuffers {
    SharedBuffers<T> shared;
  };
  struct EvalBuffers {
    T* ping[2] = {nullptr, nullptr};
    SharedBuffers<T> shared;
  };
  // Carves (base null: measures) the train workspace for `batch` rows; returns its items.
  std::vector<MemoryItem> carve_train(std::byte* base, std::int64_t batch, TrainBuffers& out) const;
  std::vector<MemoryItem> carve_eval(std::byte* base, std::int64_t batch, EvalBuffers& out) const;
  // Whether layer i must pass a gradient to its input: some earlier layer learns.
  bool needs_input_grad(std::size_t i) const { return i > first_learning_; }

  ParamLayout layout_;
  SampleShape input_;
  Loss loss_;
  // Layers carve their buffers during plan_*() too (with a null base), hence mutable: what a
  // measuring carve stores is overwritten by bind().
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::size_t first_learning_ = 0;  // the first layer with parameters
  std::vector<const T*> inputs_;    // each layer's input in the current step
  T* params_ = nullptr;
  T* grads_ = nullptr;
  std::int64_t max_train_ = 0, max_eval_ = 0;
  TrainBuffers train_;
  EvalBuffers eval_;
};

extern template class LayerStack<float>;
extern template class LayerStack<double>;

}  // namespace trainer::model
