// global_avg_pool: each channel's mean over the image's height and width; the output is flat
// ([C]), so a dense layer may follow.
#include <algorithm>

#include "../parallel.hpp"
#include "layer.hpp"

namespace trainer::model {
namespace {

template <class T>
class GlobalAvgPool final : public Layer<T> {
 public:
  explicit GlobalAvgPool(const LayerSite& site) : Layer<T>(LayerConfig::Type::global_avg_pool, site.input) {
    if (!site.input.image)
      refuse_shape(site, "global_avg_pool on a flat input of " + site.input.text() + " values",
                   "an image input (global_avg_pool before any flatten or dense layer)");
    pixels_ = site.input.h * site.input.w;
    c_ = site.input.c;
    this->output_ = SampleShape::flat(c_);
  }

  void carve_train(Carver& c, Index batch) override {
    c.take(out_, batch * c_, "activations", "activations kept for backward");
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T>) override {
    average(in, out_, n);
    return out_;
  }

  T* backward(const T*, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    if (!flags.need_input_grad) return nullptr;
    if (g != out_) std::copy(g, g + n * c_, out_);
    T* din = shared.gradient;
    const T inv = T(1) / static_cast<T>(pixels_);
    parallel_rows(n, pixels_ * c_, [&](Index s0, Index s1) {
      for (Index s = s0; s < s1; ++s)
        for (Index p = 0; p < pixels_; ++p)
          for (Index ch = 0; ch < c_; ++ch) din[(s * pixels_ + p) * c_ + ch] = out_[s * c_ + ch] * inv;
    });
    return din;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T>) override {
    average(in, out, n);
    return out;
  }

 private:
  void average(const T* in, T* out, Index n) const {
    const T inv = T(1) / static_cast<T>(pixels_);
    parallel_rows(n, pixels_ * c_, [&](Index s0, Index s1) {
      for (Index s = s0; s < s1; ++s) {
        T* o = out + s * c_;
        std::fill(o, o + c_, T(0));
        for (Index p = 0; p < pixels_; ++p)
          for (Index ch = 0; ch < c_; ++ch) o[ch] += in[(s * pixels_ + p) * c_ + ch];
        for (Index ch = 0; ch < c_; ++ch) o[ch] *= inv;
      }
    });
  }

  Index pixels_ = 1, c_ = 1;
  T* out_ = nullptr;  // [b, c]; the output's gradient during backward
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_global_avg_pool(const LayerConfig&, const LayerSite& site, ParamRegistry&) {
  return std::make_unique<GlobalAvgPool<T>>(site);
}
template std::unique_ptr<Layer<float>> make_global_avg_pool<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_global_avg_pool<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
