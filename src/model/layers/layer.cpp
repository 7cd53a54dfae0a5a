// The layer registry (one line per kind), parameter registration and the shape messages
// shared by the layers.
#include "layer.hpp"

#include "trainer/error.hpp"

namespace trainer::model {

int ParamRegistry::next_of(const std::string& kind) {
  for (auto& [name, count] : counts_)
    if (name == kind) return count++;
  counts_.emplace_back(kind, 1);
  return 0;
}

std::size_t ParamRegistry::add(const std::string& name, std::vector<std::int64_t> shape, bool buffer) {
  std::int64_t count = 1;
  for (std::int64_t d : shape)
    if (__builtin_mul_overflow(count, d, &count) || count > (std::int64_t{1} << 40))
      throw Error::usage("/model/layers", "tensor " + name + " would hold more than 2^40 values",
                         "layers of a size a machine can hold");
  layout_.tensors.push_back({name, std::move(shape), 0, count, buffer});
  return layout_.tensors.size() - 1;
}

void ParamRegistry::finish() {
  std::int64_t at = 0;
  for (bool buffers : {false, true})
    for (TensorSlot& t : layout_.tensors) {
      if (t.buffer != buffers) continue;
      t.offset = at;
      at += t.count;
      if (!buffers) layout_.trainable = at;
    }
  layout_.total = at;
}

std::string extent_text(const Extent& e) { return std::to_string(e.h) + "x" + std::to_string(e.w); }

void refuse_shape(const LayerSite& site, const std::string& fault, const std::string& valid) {
  throw Error::usage(site.pointer, fault, valid);
}

template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& config, const LayerSite& site, ParamRegistry& params) {
  using Type = LayerConfig::Type;
  switch (config.type) {
    case Type::dense: return make_dense<T>(config, site, params);
    case Type::dropout: return make_dropout<T>(config, site, params);
    case Type::conv2d: return make_conv2d<T>(config, site, params);
    case Type::max_pool2d:
    case Type::avg_pool2d: return make_pool2d<T>(config, site, params);
    case Type::global_avg_pool: return make_global_avg_pool<T>(config, site, params);
    case Type::batch_norm: return make_batch_norm<T>(config, site, params);
    case Type::flatten: return make_flatten<T>(config, site, params);
  }
  throw Error::usage(site.pointer + "/type", "unknown layer type");
}

template std::unique_ptr<Layer<float>> make_layer<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_layer<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
