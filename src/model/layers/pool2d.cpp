// max_pool2d and avg_pool2d over NHWC images: windows of size kh x kw every sh x sw pixels, no
// padding (PyTorch's defaults). max takes the first largest value of a window (scanning rows,
// then columns, as PyTorch does); backward finds it again in the kept input instead of keeping
// its index, so pooling costs no memory beyond its output. avg divides by the window's size.
// Overlapping windows (stride below the size) add their gradients.
#include <algorithm>

#include "../parallel.hpp"
#include "layer.hpp"

namespace trainer::model {
namespace {

template <class T>
class Pool2d final : public Layer<T> {
 public:
  Pool2d(const LayerConfig& c, const LayerSite& site) : Layer<T>(c.type, site.input) {
    const SampleShape& in = site.input;
    const char* kind = to_string(c.type);
    if (c.size.h < 1 || c.size.w < 1 || c.stride.h < 1 || c.stride.w < 1)
      refuse_shape(site, std::string(kind) + " of size " + extent_text(c.size) + ", stride " + extent_text(c.stride),
                   "a size and stride of at least 1");
    if (!in.image)
      refuse_shape(site, std::string(kind) + " on a flat input of " + in.text() + " values",
                   "an image input (pool before flatten or global_avg_pool)");
    if (c.size.h > in.h || c.size.w > in.w)
      refuse_shape(site, std::string(kind) + " of size " + extent_text(c.size) + " on a " + std::to_string(in.h) + "x" +
                             std::to_string(in.w) + " input (" + in.text() + ", CxHxW)",
                   "a size of at most the input's height and width, or fewer pooling layers before it");
    max_ = c.type == LayerConfig::Type::max_pool2d;
    kh_ = c.size.h, kw_ = c.size.w, sh_ = c.stride.h, sw_ = c.stride.w;
    h_ = in.h, w_ = in.w, c_ = in.c;
    oh_ = (h_ - kh_) / sh_ + 1, ow_ = (w_ - kw_) / sw_ + 1;
    this->output_ = SampleShape::hwc(oh_, ow_, c_);
  }

  void carve_train(Carver& c, Index batch) override {
    c.take(out_, batch * this->output_.size(), "activations", "activations kept for backward");
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T>) override {
    pool(in, out_, n);
    return out_;
  }

  T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    if (!flags.need_input_grad) return nullptr;
    const Index out_size = this->output_.size(), in_size = h_ * w_ * c_;
    if (g != out_) std::copy(g, g + n * out_size, out_);  // the shared buffer receives the input's gradient
    T* din = shared.gradient;
    const T inv_area = T(1) / static_cast<T>(kh_ * kw_);
    parallel_rows(n, in_size + out_size * kh_ * kw_, [&](Index s0, Index s1) {
      std::fill(din + s0 * in_size, din + s1 * in_size, T(0));
      for (Index s = s0; s < s1; ++s) {
        const T* image = in + s * in_size;
        T* dimage = din + s * in_size;
        for (Index oh = 0; oh < oh_; ++oh)
          for (Index ow = 0; ow < ow_; ++ow) {
            const T* gpix = out_ + ((s * oh_ + oh) * ow_ + ow) * c_;
            for (Index ch = 0; ch < c_; ++ch) {
              if (max_) {
                const Index at = argmax(image, oh, ow, ch);
                dimage[at] += gpix[ch];
                continue;
              }
              const T share = gpix[ch] * inv_area;
              for (Index i = 0; i < kh_; ++i)
                for (Index j = 0; j < kw_; ++j) dimage[((oh * sh_ + i) * w_ + ow * sw_ + j) * c_ + ch] += share;
            }
          }
      }
    });
    return din;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T>) override {
    pool(in, out, n);
    return out;
  }

 private:
  // Offset in the image of the first largest value of window (oh, ow) in channel ch.
  Index argmax(const T* image, Index oh, Index ow, Index ch) const {
    Index best = (oh * sh_ * w_ + ow * sw_) * c_ + ch;
    for (Index i = 0; i < kh_; ++i)
      for (Index j = 0; j < kw_; ++j) {
        const Index at = ((oh * sh_ + i) * w_ + ow * sw_ + j) * c_ + ch;
        if (image[at] > image[best]) best = at;
      }
    return best;
  }

  void pool(const T* in, T* out, Index n) const {
    const Index out_size = this->output_.size(), in_size = h_ * w_ * c_;
    const T inv_area = T(1) / static_cast<T>(kh_ * kw_);
    parallel_rows(n * oh_, ow_ * c_ * kh_ * kw_, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const Index s = r / oh_, oh = r % oh_;
        const T* image = in + s * in_size;
        for (Index ow = 0; ow < ow_; ++ow) {
          T* o = out + s * out_size + (oh * ow_ + ow) * c_;
          const T* first = image + (oh * sh_ * w_ + ow * sw_) * c_;
          std::copy(first, first + c_, o);
          for (Index i = 0; i < kh_; ++i)
            for (Index j = 0; j < kw_; ++j) {
              if (i == 0 && j == 0) continue;
              const T* p = image + ((oh * sh_ + i) * w_ + ow * sw_ + j) * c_;
              if (max_)
                for (Index ch = 0; ch < c_; ++ch) o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
              else
                for (Index ch = 0; ch < c_; ++ch) o[ch] += p[ch];
            }
          if (!max_)
            for (Index ch = 0; ch < c_; ++ch) o[ch] *= inv_area;
        }
      }
    });
  }

  bool max_ = true;
  Index kh_ = 1, kw_ = 1, sh_ = 1, sw_ = 1;
  Index h_ = 1, w_ = 1, c_ = 1, oh_ = 1, ow_ = 1;
  T* out_ = nullptr;  // [b, oh, ow, c]; the output's gradient during backward
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_pool2d(const LayerConfig& c, const LayerSite& site, ParamRegistry&) {
  return std::make_unique<Pool2d<T>>(c, site);
}
template std::unique_ptr<Layer<float>> make_pool2d<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_pool2d<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
