// max_pool2d and avg_pool2d over NHWC images: windows of size kh x kw every sh x sw pixels, no
// padding (PyTorch's defaults). max takes the first largest value of a window (scanning rows,
// then columns, as PyTorch does); backward finds it again in the kept input instead of keeping
// its index, so pooling costs no memory beyond its output. avg divides by the window's size.
// Overlapping windows (stride below the size) add their gradients. Every loop runs across the
// channels, which NHWC stores side by side, so the compiler vectorises them.
//
// A max pool whose windows tile its input exactly can run inside the conv2d before it
// (ChunkFusion): it then keeps, per output value, which window position it came from (a byte,
// its top bit set when the value is above zero), since the conv2d's output is not kept; a fused
// 2x2 pool in single precision runs on the AVX-512 kernels of max_pool_2x2.hpp.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../max_pool_2x2.hpp"
#include "../parallel.hpp"
#include "layer.hpp"

namespace trainer::model {
namespace {

template <class T>
class Pool2d final : public Layer<T>, public ChunkFusion<T> {
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
    tiles_exactly_ = sh_ == kh_ && sw_ == kw_ && oh_ * kh_ == h_ && ow_ * kw_ == w_;
    this->output_ = SampleShape::hwc(oh_, ow_, c_);
  }

  void carve_train(Carver& c, Index batch) override {
    c.take(out_, batch * this->output_.size(), "activations", "activations kept for backward");
    if (fused_) c.take(from_, batch * this->output_.size(), "activations", "activations kept for backward");
  }
  bool writes_gradient_buffer() const override { return !fused_; }

  ChunkFusion<T>* fusion() override {
    // The window position takes 7 bits of a byte.
    return max_ && tiles_exactly_ && kh_ * kw_ <= 127 ? this : nullptr;
  }
  void fuse() override {
    fused_ = true;
    fast_2x2_ = kh_ == 2 && kw_ == 2 && max_pool_2x2_available();
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T>) override {
    if (!fused_) pool(in, out_, n);  // fused: the conv2d before it has run forward_chunk
    return out_;
  }

  void forward_chunk(const T* in, Index s0, Index count) override {
    const Index out_size = this->output_.size(), in_size = h_ * w_ * c_;
    if constexpr (std::is_same_v<T, float>) {
      if (fast_2x2_) return max_pool_2x2_forward(in, count, h_, w_, c_, out_ + s0 * out_size, from_ + s0 * out_size);
    }
    for (Index s = 0; s < count; ++s)
      for (Index oh = 0; oh < oh_; ++oh)
        for (Index ow = 0; ow < ow_; ++ow) {
          const Index o = (s0 + s) * out_size + (oh * ow_ + ow) * c_;
          const T* first = in + s * in_size + (oh * kh_ * w_ + ow * kw_) * c_;
          for (Index c0 = 0; c0 < c_; c0 += kChannelBlock)
            window_max(first + c0, out_ + o + c0, from_ + o + c0, std::min(kChannelBlock, c_ - c0));
        }
  }

  void backward_chunk(T* din, Index s0, Index count, bool through_relu) const override {
    const Index out_size = this->output_.size(), in_size = h_ * w_ * c_;
    if constexpr (std::is_same_v<T, float>) {
      if (fast_2x2_)
        return max_pool_2x2_spread(out_ + s0 * out_size, from_ + s0 * out_size, count, h_, w_, c_, through_relu, din);
    }
    for (Index s = 0; s < count; ++s)
      for (Index oh = 0; oh < oh_; ++oh)
        for (Index ow = 0; ow < ow_; ++ow) {
          const Index o = (s0 + s) * out_size + (oh * ow_ + ow) * c_;
          T* first = din + s * in_size + (oh * kh_ * w_ + ow * kw_) * c_;
          for (Index c0 = 0; c0 < c_; c0 += kChannelBlock)
            window_spread(out_ + o + c0, from_ + o + c0, first + c0, std::min(kChannelBlock, c_ - c0), through_relu);
        }
  }

  T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    if (!flags.need_input_grad) return nullptr;
    const Index out_size = this->output_.size(), in_size = h_ * w_ * c_;
    if (g != out_) std::copy(g, g + n * out_size, out_);  // the shared buffer receives the input's gradient
    if (fused_) return out_;  // the conv2d before it reads it through backward_chunk
    T* din = shared.gradient;
    parallel_rows(n, in_size + out_size * kh_ * kw_, [&](Index s0, Index s1) {
      // Windows that tile the input exactly write every input value once; otherwise values
      // outside every window stay zero and overlapping windows add.
      if (!tiles_exactly_) std::fill(din + s0 * in_size, din + s1 * in_size, T(0));
      for (Index s = s0; s < s1; ++s)
        for (Index oh = 0; oh < oh_; ++oh)
          for (Index ow = 0; ow < ow_; ++ow) {
            const Index first = (oh * sh_ * w_ + ow * sw_) * c_;
            const T* gpix = out_ + ((s * oh_ + oh) * ow_ + ow) * c_;
            for (Index c0 = 0; c0 < c_; c0 += kChannelBlock)
              window_backward(in + s * in_size + first + c0, din + s * in_size + first + c0, gpix + c0,
                              std::min(kChannelBlock, c_ - c0));
          }
    });
    return din;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T>) override {
    pool(in, out, n);
    return out;
  }

 private:
  // Channels a window's backward handles at once: its per-channel state stays in registers.
  static constexpr Index kChannelBlock = 64;

  // One window's largest value over `count` channels (x at its first pixel) into out, and the
  // position it came from into from (the first of equal values, as pool() and PyTorch take it;
  // a NaN in the first pixel stays), with kPoolAboveZero where it is above zero.
  void window_max(const T* x, T* out, std::uint8_t* from, Index count) const {
    // Positions as 32-bit lanes, so that they line up with the values' lanes.
    T best[kChannelBlock];
    std::int32_t at[kChannelBlock];
    for (Index ch = 0; ch < count; ++ch) best[ch] = x[ch], at[ch] = 0;
    for (Index i = 0; i < kh_; ++i)
      for (Index j = 0; j < kw_; ++j) {
        const T* p = x + (i * w_ + j) * c_;
        const auto tap = static_cast<std::int32_t>(i * kw_ + j);
        for (Index ch = 0; ch < count; ++ch) {
          const bool larger = p[ch] > best[ch];
          best[ch] = larger ? p[ch] : best[ch];
          at[ch] = larger ? tap : at[ch];
        }
      }
    for (Index ch = 0; ch < count; ++ch) {
      out[ch] = best[ch];
      from[ch] = static_cast<std::uint8_t>(at[ch] | (best[ch] > T(0) ? kPoolAboveZero : 0));
    }
  }

  // The inverse: g (the gradient of one window's output, `count` channels) into dx at the
  // positions from says, zero at the others (and everywhere a relu before cut it, with
  // through_relu).
  void window_spread(const T* g, const std::uint8_t* from, T* dx, Index count, bool through_relu) const {
    T gain[kChannelBlock];
    std::int32_t at[kChannelBlock];
    for (Index ch = 0; ch < count; ++ch) {
      at[ch] = from[ch] & kPoolPositionBits;
      gain[ch] = !through_relu || (from[ch] & kPoolAboveZero) != 0 ? g[ch] : T(0);
    }
    for (Index i = 0; i < kh_; ++i)
      for (Index j = 0; j < kw_; ++j) {
        T* d = dx + (i * w_ + j) * c_;
        const auto tap = static_cast<std::int32_t>(i * kw_ + j);
        for (Index ch = 0; ch < count; ++ch) d[ch] = at[ch] == tap ? gain[ch] : T(0);
      }
  }

  // The gradient of one window over `count` channels: x and dx point at the window's first
  // pixel, g at its output pixel. Channels are innermost, so every loop runs across them.
  void window_backward(const T* x, T* dx, const T* g, Index count) const {
    auto tap = [&](Index i, Index j) { return ((i * w_) + j) * c_; };
    if (!max_) {
      const T inv_area = T(1) / static_cast<T>(kh_ * kw_);
      for (Index i = 0; i < kh_; ++i)
        for (Index j = 0; j < kw_; ++j) {
          T* d = dx + tap(i, j);
          for (Index ch = 0; ch < count; ++ch) d[ch] = (tiles_exactly_ ? T(0) : d[ch]) + g[ch] * inv_area;
        }
      return;
    }
    // The window's largest value as forward took it, then its first occurrence (scanning rows,
    // then columns, as PyTorch does) receives the gradient.
    T best[kChannelBlock], open[kChannelBlock];
    for (Index ch = 0; ch < count; ++ch) best[ch] = x[ch], open[ch] = T(1);
    for (Index i = 0; i < kh_; ++i)
      for (Index j = 0; j < kw_; ++j) {
        const T* p = x + tap(i, j);
        for (Index ch = 0; ch < count; ++ch) best[ch] = p[ch] > best[ch] ? p[ch] : best[ch];
      }
    for (Index i = 0; i < kh_; ++i)
      for (Index j = 0; j < kw_; ++j) {
        const T* p = x + tap(i, j);
        T* d = dx + tap(i, j);
        for (Index ch = 0; ch < count; ++ch) {
          const bool hit = open[ch] != T(0) && p[ch] == best[ch];
          const T v = hit ? g[ch] : T(0);
          d[ch] = tiles_exactly_ ? v : d[ch] + v;
          open[ch] = hit ? T(0) : open[ch];
        }
      }
    // No value equals a NaN that forward kept from the first pixel: that pixel was its argmax.
    for (Index ch = 0; ch < count; ++ch)
      if (open[ch] != T(0)) dx[ch] += g[ch];
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
  bool tiles_exactly_ = false;  // windows neither overlap nor leave input values out
  bool fused_ = false;          // runs inside the conv2d before it (ChunkFusion)
  bool fast_2x2_ = false;       // fused, 2x2, on max_pool_2x2.hpp's kernels (single precision)
  Index kh_ = 1, kw_ = 1, sh_ = 1, sw_ = 1;
  Index h_ = 1, w_ = 1, c_ = 1, oh_ = 1, ow_ = 1;
  T* out_ = nullptr;  // [b, oh, ow, c]; the output's gradient during backward
  std::uint8_t* from_ = nullptr;  // fused: [b, oh, ow, c] window position of each output value
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_pool2d(const LayerConfig& c, const LayerSite& site, ParamRegistry&) {
  return std::make_unique<Pool2d<T>>(c, site);
}
template std::unique_ptr<Layer<float>> make_pool2d<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_pool2d<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
