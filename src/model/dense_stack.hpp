// The layer stack behind trainer::Network, templated on the scalar: float for training,
// double for the finite-difference gradient checks of the tests.
//
// Layout of the train workspace (carved in this order, every buffer 64-byte aligned, sizes
// from one function so that plan and bind cannot disagree):
//   activations       per dense layer: output [b, out] (pre-activation overwritten in place
//                     by the activation; gelu also keeps its pre-activation [b, out]);
//                     per dropout layer: output [b, units]
//   backward scratch  [b, max input width of a non-first dense layer]
//   dropout masks     per dropout layer: [b, units] bytes
// The eval workspace is two ping-pong buffers [b, widest layer].
//
// Ownership: params, grads and workspaces belong to the caller and must outlive the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace trainer::model {

template <class T>
class DenseStack {
 public:
  DenseStack(const ModelConfig& config, std::int64_t input_width);

  const ParamLayout& layout() const { return layout_; }
  std::int64_t input_width() const { return input_width_; }
  std::int64_t outputs() const { return dense_.back().out; }
  Loss loss() const { return loss_; }
  bool first_layer_dense() const { return ops_.front().dense; }

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
  struct Dense {
    std::int64_t in = 0, out = 0;
    Activation activation = Activation::linear;  // linear on the last layer
    bool keep_z = false;                         // gelu keeps its pre-activation for backward
    std::int64_t weight = 0, bias = 0;           // offsets in params/grads
    T* z = nullptr;                              // [b, out] pre-activation (gelu only)
    T* a = nullptr;                              // [b, out] output; dz during backward
    const T* input = nullptr;                    // [b, in] input kept for dW (null: x)
  };
  struct Dropout {
    double rate = 0;
    std::int64_t width = 0;
    T* out = nullptr;                 // [b, width]
    std::uint8_t* mask = nullptr;     // [b, width]
    const T* input = nullptr;         // null: x
  };
  struct Op {
    bool dense;
    std::size_t index;
  };

  // Buffer addresses of a carved workspace (null when only measuring).
  struct TrainBuffers {
    std::vector<T*> z, a, drop_out;
    std::vector<std::uint8_t*> masks;
    T* scratch = nullptr;
  };
  // Carves a workspace at base (or, with base == null, only measures it); returns the bytes of
  // each item. The one function behind plan_*() and bind(), so they cannot disagree.
  std::vector<MemoryItem> carve_train(std::byte* base, std::int64_t batch, TrainBuffers& out) const;
  std::vector<MemoryItem> carve_eval(std::byte* base, std::int64_t batch, T** buffers) const;

  ParamLayout layout_;
  std::int64_t input_width_;
  Loss loss_;
  Init init_;
  std::vector<Dense> dense_;
  std::vector<Dropout> dropout_;
  std::vector<Op> ops_;
  T* params_ = nullptr;
  T* grads_ = nullptr;
  std::int64_t max_train_ = 0, max_eval_ = 0;
  T* scratch_ = nullptr;        // [b, max input width] backward scratch
  T* eval_buf_[2] = {nullptr, nullptr};
};

extern template class DenseStack<float>;
extern template class DenseStack<double>;

}  // namespace trainer::model
