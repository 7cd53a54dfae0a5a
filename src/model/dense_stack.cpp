// The layer stack: validation of the config, the parameter layout, workspace carving, and the
// forward/backward passes of a micro-batch. The numeric work is in the kernels.
#include "dense_stack.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels.hpp"
#include "trainer/error.hpp"

namespace trainer::model {
namespace {

constexpr std::uint64_t kAlign = 64;

std::uint64_t round_up(std::uint64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Hands out consecutive 64-byte-aligned slices of a workspace; measures only when base is null.
class Carver {
 public:
  explicit Carver(std::byte* base) : base_(base) {}
  template <class U>
  U* take(std::int64_t count) {
    U* p = base_ ? reinterpret_cast<U*>(base_ + used_) : nullptr;
    used_ += round_up(static_cast<std::uint64_t>(count) * sizeof(U));
    return p;
  }
  // Closes an item of the breakdown: the bytes taken since the previous item.
  void item(std::vector<MemoryItem>& items, const char* name) {
    items.push_back({name, used_ - item_start_});
    item_start_ = used_;
  }
  std::uint64_t used() const { return used_; }

 private:
  std::byte* base_;
  std::uint64_t used_ = 0;
  std::uint64_t item_start_ = 0;
};

std::string layer_key(std::size_t i) { return "/model/layers/" + std::to_string(i); }

}  // namespace

template <class T>
DenseStack<T>::DenseStack(const ModelConfig& config, std::int64_t input_width)
    : input_width_(input_width), loss_(config.loss), init_(config.init) {
  if (input_width < 1)
    throw Error::data("input", "samples have " + std::to_string(input_width) + " values",
                      "at least one input value per sample");
  const auto& layers = config.layers;
  if (std::none_of(layers.begin(), layers.end(),
                   [](const LayerConfig& l) { return l.type == LayerConfig::Type::dense; }))
    throw Error::usage("/model/layers", "the model has no dense layer",
                       "at least one {\"type\": \"dense\", \"units\": N}");
  if (layers.back().type != LayerConfig::Type::dense)
    throw Error::usage(layer_key(layers.size() - 1), "the last layer is not dense",
                       "a dense layer last; its activation is implied by the loss");
  std::int64_t width = input_width;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerConfig& l = layers[i];
    if (l.type == LayerConfig::Type::dropout) {
      if (!(l.rate >= 0.0 && l.rate < 1.0))
        throw Error::usage(layer_key(i) + "/rate", "dropout rate " + std::to_string(l.rate),
                           "a probability in [0, 1)");
      ops_.push_back({false, dropout_.size()});
      dropout_.push_back({l.rate, width, nullptr, nullptr, nullptr});
      continue;
    }
    if (l.units < 1)
      throw Error::usage(layer_key(i) + "/units", "dense layer with " + std::to_string(l.units) + " units",
                         "at least 1 unit");
    const bool last = i + 1 == layers.size();
    if (last && loss_ == Loss::binary_cross_entropy && l.units != 1)
      throw Error::usage(layer_key(i) + "/units",
                         "binary_cross_entropy needs 1 output, the last layer has " + std::to_string(l.units),
                         "\"units\": 1 (or loss cross_entropy for several classes)");
    Dense d;
    d.in = width;
    d.out = l.units;
    d.activation = last ? Activation::linear : l.activation;
    d.keep_z = d.activation == Activation::gelu;
    const std::string name = "dense" + std::to_string(dense_.size());
    d.weight = layout_.total;
    layout_.tensors.push_back({name + ".weight", {d.out, d.in}, layout_.total, d.out * d.in});
    layout_.total += d.out * d.in;
    d.bias = layout_.total;
    layout_.tensors.push_back({name + ".bias", {d.out}, layout_.total, d.out});
    layout_.total += d.out;
    ops_.push_back({true, dense_.size()});
    dense_.push_back(d);
    width = d.out;
  }
}

template <class T>
std::vector<MemoryItem> DenseStack<T>::carve_train(std::byte* base, std::int64_t batch,
                                                   TrainBuffers& out) const {
  Carver carver(base);
  std::vector<MemoryItem> items;
  out = {};
  for (const Dense& d : dense_) {
    out.z.push_back(d.keep_z ? carver.take<T>(batch * d.out) : nullptr);
    out.a.push_back(carver.take<T>(batch * d.out));
  }
  for (const Dropout& p : dropout_) out.drop_out.push_back(carver.take<T>(batch * p.width));
  carver.item(items, "activations");
  std::int64_t scratch_width = 0;
  for (std::size_t i = 1; i < dense_.size(); ++i) scratch_width = std::max(scratch_width, dense_[i].in);
  out.scratch = carver.take<T>(batch * scratch_width);
  carver.item(items, "backward scratch");
  for (const Dropout& p : dropout_) out.masks.push_back(carver.take<std::uint8_t>(batch * p.width));
  carver.item(items, "dropout masks");
  return items;
}

template <class T>
std::vector<MemoryItem> DenseStack<T>::carve_eval(std::byte* base, std::int64_t batch, T** buffers) const {
  Carver carver(base);
  std::vector<MemoryItem> items;
  std::int64_t widest = 0;
  for (const Dense& d : dense_) widest = std::max(widest, d.out);
  buffers[0] = carver.take<T>(batch * widest);
  buffers[1] = carver.take<T>(batch * widest);
  carver.item(items, "eval activations");
  return items;
}

template <class T>
std::vector<MemoryItem> DenseStack<T>::plan_train(std::int64_t batch) const {
  TrainBuffers unused;
  return carve_train(nullptr, batch, unused);
}

template <class T>
std::vector<MemoryItem> DenseStack<T>::plan_eval(std::int64_t batch) const {
  T* unused[2];
  return carve_eval(nullptr, batch, unused);
}

template <class T>
void DenseStack<T>::bind(T* params, T* grads, std::span<std::byte> train_ws, std::int64_t max_train,
                         std::span<std::byte> eval_ws, std::int64_t max_eval) {
  auto check = [](std::span<std::byte> ws, std::uint64_t planned, const char* what) {
    if (ws.size() < planned)
      throw Error::runtime(what, std::to_string(ws.size()) + " bytes bound",
                           std::to_string(planned) + " bytes as planned");
    if (planned > 0 && reinterpret_cast<std::uintptr_t>(ws.data()) % kAlign != 0)
      throw Error::runtime(what, "storage is not 64-byte aligned");
  };
  params_ = params;
  grads_ = grads;
  max_train_ = max_train;
  max_eval_ = max_eval;
  TrainBuffers buffers;
  if (max_train > 0) {
    check(train_ws, Network::total(plan_train(max_train)), "train workspace");
    carve_train(train_ws.data(), max_train, buffers);
    for (std::size_t i = 0; i < dense_.size(); ++i) {
      dense_[i].z = buffers.z[i];
      dense_[i].a = buffers.a[i];
    }
    for (std::size_t i = 0; i < dropout_.size(); ++i) {
      dropout_[i].out = buffers.drop_out[i];
      dropout_[i].mask = buffers.masks[i];
    }
    scratch_ = buffers.scratch;
  }
  if (max_eval > 0) {
    check(eval_ws, Network::total(plan_eval(max_eval)), "eval workspace");
    carve_eval(eval_ws.data(), max_eval, eval_buf_);
  }
}

template <class T>
void DenseStack<T>::init_weights(std::uint64_t seed) {
  for (std::size_t i = 0; i < dense_.size(); ++i) {
    const Dense& d = dense_[i];
    init_dense_weight(init_, params_ + d.weight, d.out, d.in, seed, i);
    std::fill(params_ + d.bias, params_ + d.bias + d.out, T(0));
  }
}

template <class T>
BatchStats DenseStack<T>::train_micro_batch(const T* x, const std::int32_t* labels, const float* targets,
                                            std::int64_t n, T grad_scale, std::uint64_t dropout_seed,
                                            bool accumulate) {
  if (n < 1 || n > max_train_ || !grads_)
    throw Error::runtime("train_micro_batch", std::to_string(n) + " rows",
                         "1 to " + std::to_string(max_train_) + " rows, with gradients bound");
  if ((loss_ == Loss::mse && !targets) || (loss_ != Loss::mse && !labels))
    throw Error::runtime("train_micro_batch", "no training targets given",
                         loss_ == Loss::mse ? "float targets for mse" : "class labels");
  // forward, keeping what backward needs
  const T* cur = x;
  for (const Op& op : ops_) {
    if (op.dense) {
      Dense& d = dense_[op.index];
      d.input = cur;
      T* z = d.keep_z ? d.z : d.a;
      dense_forward(cur, params_ + d.weight, params_ + d.bias, d.activation, z, d.a, d.keep_z, n, d.out, d.in);
      cur = d.a;
    } else {
      Dropout& p = dropout_[op.index];
      p.input = cur;
      dropout_forward(cur, p.out, p.mask, n * p.width, p.rate, dropout_seed, op.index);
      cur = p.out;
    }
  }
  Dense& last = dense_.back();
  const BatchStats stats = loss_forward(loss_, last.a, n, last.out, labels, targets, true, grad_scale,
                                        static_cast<T*>(nullptr));
  // backward: g is the gradient w.r.t. the output of the op being visited
  T* g = last.a;
  for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
    if (!it->dense) {
      const Dropout& p = dropout_[it->index];
      dropout_backward(g, p.mask, n * p.width, p.rate);
      continue;
    }
    const Dense& d = dense_[it->index];
    if (&d != &last) activation_backward(d.activation, d.z, d.a, g, d.a, n * d.out);
    const T* dz = d.a;
    gemm_weight_grad(dz, d.input, grads_ + d.weight, d.out, d.in, n, accumulate);
    bias_grad(dz, grads_ + d.bias, n, d.out, accumulate);
    if (it->index == 0) break;  // the input needs no gradient
    gemm_input_grad(dz, params_ + d.weight, scratch_, n, d.in, d.out);
    g = scratch_;
  }
  return stats;
}

template <class T>
BatchStats DenseStack<T>::evaluate(const T* x, const std::int32_t* labels, const float* targets,
                                   std::int64_t n, T* outputs) {
  if (n < 0 || n > max_eval_)
    throw Error::runtime("evaluate", std::to_string(n) + " rows", "0 to " + std::to_string(max_eval_) + " rows");
  if (n == 0) return {};
  const T* cur = x;
  T* out = nullptr;
  int next = 0;
  for (const Op& op : ops_) {
    if (!op.dense) continue;  // dropout is the identity at evaluation
    const Dense& d = dense_[op.index];
    out = eval_buf_[next];
    next ^= 1;
    dense_forward(cur, params_ + d.weight, params_ + d.bias, d.activation, out, out, false, n, d.out, d.in);
    cur = out;
  }
  return loss_forward(loss_, out, n, dense_.back().out, labels, targets, false, T(1), outputs);
}

template class DenseStack<float>;
template class DenseStack<double>;

}  // namespace trainer::model
