// dropout: inverted dropout while training (a counter-based mask, kernels.hpp), the identity
// in evaluation. Works in place on the gradient.
#include "../kernels.hpp"
#include "layer.hpp"
#include "trainer/error.hpp"

namespace trainer::model {
namespace {

template <class T>
class Dropout final : public Layer<T> {
 public:
  Dropout(const LayerConfig& c, const LayerSite& site) : Layer<T>(LayerConfig::Type::dropout, site.input) {
    if (!(c.rate >= 0.0 && c.rate < 1.0))
      throw Error::usage(site.pointer + "/rate", "dropout rate " + std::to_string(c.rate), "a probability in [0, 1)");
    rate_ = c.rate;
    salt_ = site.index;
    this->output_ = site.input;
  }

  void carve_train(Carver& c, Index batch) override {
    c.take(out_, batch * this->input_.size(), "activations", "activations kept for backward");
    c.take(mask_, batch * this->input_.size(), "dropout_masks", "dropout masks");
  }
  bool writes_gradient_buffer() const override { return false; }

  T* forward_train(const T* in, Index n, const StepFlags& flags, SharedBuffers<T>) override {
    dropout_forward(in, out_, mask_, n * this->input_.size(), rate_, flags.dropout_seed, salt_);
    return out_;
  }
  T* backward(const T*, T* g, Index n, const StepFlags&, SharedBuffers<T>) override {
    dropout_backward(g, mask_, n * this->input_.size(), rate_);
    return g;
  }
  const T* forward_eval(const T* in, T*, Index, SharedBuffers<T>) override { return in; }

 private:
  double rate_ = 0;
  std::uint64_t salt_ = 0;  // the layer's index: each dropout layer draws its own mask
  T* out_ = nullptr;        // [b, width]
  std::uint8_t* mask_ = nullptr;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_dropout(const LayerConfig& c, const LayerSite& site, ParamRegistry&) {
  return std::make_unique<Dropout<T>>(c, site);
}
template std::unique_ptr<Layer<float>> make_dropout<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_dropout<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
