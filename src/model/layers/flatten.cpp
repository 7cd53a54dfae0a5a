// flatten: an NHWC image as the flat vector PyTorch's flatten of NCHW gives (channel, row,
// column), so that the dense layer after it has PyTorch's weight layout whatever the data's
// layout. With one channel, or one pixel, the two orders agree and it is the identity.
#include <algorithm>

#include "../parallel.hpp"
#include "layer.hpp"

namespace trainer::model {
namespace {

template <class T>
class Flatten final : public Layer<T> {
 public:
  explicit Flatten(const LayerSite& site) : Layer<T>(LayerConfig::Type::flatten, site.input) {
    pixels_ = site.input.h * site.input.w;
    c_ = site.input.c;
    identity_ = !site.input.image || c_ == 1 || pixels_ == 1;
    this->output_ = SampleShape::flat(site.input.size());
  }

  void carve_train(Carver& c, Index batch) override {
    if (!identity_) c.take(out_, batch * this->output_.size(), "activations", "activations kept for backward");
  }
  bool writes_gradient_buffer() const override { return !identity_; }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T>) override {
    if (identity_) return const_cast<T*>(in);  // the next layer only reads it
    to_channel_major(in, out_, n);
    return out_;
  }

  T* backward(const T*, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    if (!flags.need_input_grad) return nullptr;
    if (identity_) return g;
    if (g != out_) std::copy(g, g + n * this->output_.size(), out_);
    T* din = shared.gradient;
    parallel_rows(n, pixels_ * c_, [&](Index s0, Index s1) {
      for (Index s = s0; s < s1; ++s) {
        const T* src = out_ + s * pixels_ * c_;
        T* dst = din + s * pixels_ * c_;
        for (Index p = 0; p < pixels_; ++p)
          for (Index ch = 0; ch < c_; ++ch) dst[p * c_ + ch] = src[ch * pixels_ + p];
      }
    });
    return din;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T>) override {
    if (identity_) return in;
    to_channel_major(in, out, n);
    return out;
  }

 private:
  void to_channel_major(const T* in, T* out, Index n) const {
    parallel_rows(n, pixels_ * c_, [&](Index s0, Index s1) {
      for (Index s = s0; s < s1; ++s) {
        const T* src = in + s * pixels_ * c_;
        T* dst = out + s * pixels_ * c_;
        for (Index p = 0; p < pixels_; ++p)
          for (Index ch = 0; ch < c_; ++ch) dst[ch * pixels_ + p] = src[p * c_ + ch];
      }
    });
  }

  Index pixels_ = 1, c_ = 1;
  bool identity_ = true;
  T* out_ = nullptr;  // [b, c * h * w]; the output's gradient during backward
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_flatten(const LayerConfig&, const LayerSite& site, ParamRegistry&) {
  return std::make_unique<Flatten<T>>(site);
}
template std::unique_ptr<Layer<float>> make_flatten<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_flatten<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
