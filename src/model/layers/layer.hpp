// The contract every layer kind keeps, and the registry that builds one from its config.
//
// A layer is built from its LayerConfig and the shape of its input (throwing Error::usage that
// names the layer's pointer and both shapes when they do not fit); it registers its parameter
// tensors in the network's ParamLayout, says its output shape, carves the buffers it keeps for
// a micro-batch (the same carving measures the plan and binds the storage), names the GEMMs it
// runs (the plan's stack scratch), and runs forward and backward without allocating.
//
// Buffers. Activations are batch-major: [n, output size], an image sample stored h, w, c
// (channels last). Besides its own buffers a layer may use two buffers the stack shares among
// all layers, because only one layer runs at a time:
//   gradient   [batch, widest input of a layer that passes a gradient on]: where backward writes
//              the gradient with respect to its input;
//   workspace  the most floats any layer asks for (a convolution's unfolded input).
// Backward receives the gradient with respect to its output in `g`: the shared gradient buffer,
// or the layer's own output buffer when the loss wrote it there (the last layer). It returns
// where the gradient with respect to its input now is: the shared gradient buffer, or `g` itself
// when it worked in place. A layer that reads `g` while writing the shared buffer first moves
// `g` into its own output buffer, which backward no longer needs (fused with the activation's
// derivative where there is one).
//
// Templated on the scalar: float trains, double serves the finite-difference gradient checks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../carver.hpp"
#include "trainer/config.hpp"
#include "trainer/model.hpp"
#include "trainer/sample_shape.hpp"

namespace trainer::model {

using Index = std::int64_t;

// The most floats a convolution unfolds at once (8 MiB): it works through a batch in chunks of
// samples that fit, unless one sample needs more.
inline constexpr Index kConvWorkspaceFloats = Index{1} << 21;

// Where a layer sits, as its constructor needs to know it.
struct LayerSite {
  std::size_t index = 0;    // in config.layers
  std::string pointer;      // "/model/layers/<index>", for messages
  SampleShape input;
  bool output_layer = false;  // the last layer: its activation is implied by the loss
  Loss loss = Loss::cross_entropy;
  Init init = Init::he_uniform;
  Index workspace_floats = kConvWorkspaceFloats;  // tests lower it to make convolutions chunk
};

// Registers parameter tensors. Names count the layers of a kind: dense0, dense1, conv0, bn0, ...
// Trainable tensors come first in the flat storage, buffers (running statistics) after them,
// so that gradients and optimizer state cover a prefix of the parameters.
class ParamRegistry {
 public:
  explicit ParamRegistry(ParamLayout& layout) : layout_(layout) {}
  // The index the next layer of this kind gets ("conv" -> 0, 1, ...).
  int next_of(const std::string& kind);
  // Adds a tensor; returns its slot in layout.tensors (offsets are final after finish()).
  std::size_t add(const std::string& name, std::vector<std::int64_t> shape, bool buffer = false);
  // Lays out offsets: trainable tensors in order, then buffers.
  void finish();

 private:
  ParamLayout& layout_;
  std::vector<std::pair<std::string, int>> counts_;
};

// A GEMM the layer runs: output [m, n], depth k.
using GemmProduct = trainer::GemmProduct;

template <class T>
struct SharedBuffers {
  T* gradient = nullptr;   // see above
  T* workspace = nullptr;
};

// What a training call needs besides the data.
struct StepFlags {
  bool accumulate = true;       // add the parameter gradients into grads, else store them
  bool need_input_grad = true;  // false for the first layer that has anything to learn
  std::uint64_t dropout_seed = 0;
};

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  LayerConfig::Type type() const { return type_; }
  const SampleShape& input() const { return input_; }
  const SampleShape& output() const { return output_; }
  // Floats of trainable parameters (for the probe-batch table).
  std::int64_t parameters() const { return parameters_; }

  // Carves (base null: measures) the buffers this layer keeps while training on up to `batch`
  // rows, and those it needs for forward-only passes of `batch` rows.
  virtual void carve_train(Carver& c, Index batch) = 0;
  virtual void carve_eval(Carver& c, Index batch) { (void)c, (void)batch; }
  // Floats of the shared workspace it needs at `batch` rows (training or evaluation).
  virtual Index workspace(Index batch) const { (void)batch; return 0; }
  // Whether backward writes the gradient with respect to the input into the shared buffer (so
  // the buffer must hold this layer's input), rather than in place.
  virtual bool writes_gradient_buffer() const { return true; }
  // Appends the GEMMs of a training step at `batch` rows (forward, weight and, with
  // need_input_grad, input gradients) or of a forward-only pass.
  virtual void products(Index batch, bool training, bool need_input_grad, std::vector<GemmProduct>& out) const {
    (void)batch, (void)training, (void)need_input_grad, (void)out;
  }

  // Parameters and gradients in the network's flat storage (grads covers the trainable prefix).
  void bind_params(T* params, T* grads, const ParamLayout& layout) {
    params_ = params;
    grads_ = grads;
    layout_ = &layout;
  }
  // Seeded initial values of this layer's parameters (and buffers).
  virtual void init(std::uint64_t seed) { (void)seed; }

  // Training forward over n rows of `in` ([n, input size]); returns the output [n, output size]
  // (its own buffer, or `in` for a layer that is the identity here).
  virtual T* forward_train(const T* in, Index n, const StepFlags& flags, SharedBuffers<T> shared) = 0;
  // See the header comment. REQUIRES: forward_train on the same rows just before.
  virtual T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) = 0;
  // Forward-only (evaluation mode: running statistics, no dropout) into `out` ([n, output
  // size]), or returns `in` when the layer is the identity here.
  virtual const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T> shared) = 0;

 protected:
  Layer(LayerConfig::Type type, const SampleShape& input) : type_(type), input_(input) {}
  T* param(std::size_t slot) const { return params_ + layout_->tensors[slot].offset; }
  T* grad(std::size_t slot) const { return grads_ + layout_->tensors[slot].offset; }

  LayerConfig::Type type_;
  SampleShape input_;
  SampleShape output_;
  std::int64_t parameters_ = 0;

 private:
  T* params_ = nullptr;
  T* grads_ = nullptr;
  const ParamLayout* layout_ = nullptr;
};

// Builds the layer a config entry describes. Throws Error::usage naming site.pointer.
template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& config, const LayerSite& site, ParamRegistry& params);

// One factory per layer kind, each in its own file (layers/<kind>.cpp).
template <class T>
std::unique_ptr<Layer<T>> make_dense(const LayerConfig&, const LayerSite&, ParamRegistry&);
template <class T>
std::unique_ptr<Layer<T>> make_dropout(const LayerConfig&, const LayerSite&, ParamRegistry&);
template <class T>
std::unique_ptr<Layer<T>> make_conv2d(const LayerConfig&, const LayerSite&, ParamRegistry&);
template <class T>
std::unique_ptr<Layer<T>> make_pool2d(const LayerConfig&, const LayerSite&, ParamRegistry&);
template <class T>
std::unique_ptr<Layer<T>> make_global_avg_pool(const LayerConfig&, const LayerSite&, ParamRegistry&);
template <class T>
std::unique_ptr<Layer<T>> make_batch_norm(const LayerConfig&, const LayerSite&, ParamRegistry&);
template <class T>
std::unique_ptr<Layer<T>> make_flatten(const LayerConfig&, const LayerSite&, ParamRegistry&);

// Messages: "conv2d of kernel 5x5 on a 3x3 input" style pieces.
std::string extent_text(const Extent& e);
// Error for an input a layer cannot take, naming the pointer and both shapes.
[[noreturn]] void refuse_shape(const LayerSite& site, const std::string& fault, const std::string& valid);

}  // namespace trainer::model
