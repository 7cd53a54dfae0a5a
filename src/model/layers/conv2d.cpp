// conv2d: a convolution over NHWC images as one GEMM per chunk of samples. The input of a chunk
// is unfolded (im2col) into the shared workspace: one row per output pixel, its columns ordered
// input channel, kernel row, kernel column, so that the weights are PyTorch's [out, in, kh, kw]
// as they are. The output [pixels, filters] is NHWC again. Chunks bound the workspace to about
// kConvWorkspaceFloats whatever the batch, so a larger batch costs only its activations.
#include <algorithm>
#include <cstring>

#include "../kernels.hpp"
#include "../parallel.hpp"
#include "activated_output.hpp"
#include "trainer/error.hpp"

namespace trainer::model {
namespace {

struct Geometry {
  Index h, w, c;           // input
  Index oh, ow, f;         // output
  Index kh, kw, sh, sw;    // kernel, stride
  Index ph, pw;            // zeros before the input (after: whatever the output size leaves)
  Index depth() const { return c * kh * kw; }
  Index pixels() const { return oh * ow; }
};

// dst[(s, oh, ow), (c, ki, kj)] = src[s, oh*sh - ph + ki, ow*sw - pw + kj, c], zero outside.
template <class T>
void im2col(const Geometry& g, const T* src, Index samples, T* dst) {
  const Index k = g.depth(), kk = g.kh * g.kw;
  parallel_rows(samples * g.oh, g.ow * k, [&](Index r0, Index r1) {
    for (Index r = r0; r < r1; ++r) {
      const Index s = r / g.oh, oh = r % g.oh;
      const T* image = src + s * g.h * g.w * g.c;
      for (Index ow = 0; ow < g.ow; ++ow) {
        T* row = dst + (r * g.ow + ow) * k;
        for (Index ki = 0; ki < g.kh; ++ki) {
          const Index ih = oh * g.sh - g.ph + ki;
          for (Index kj = 0; kj < g.kw; ++kj) {
            const Index iw = ow * g.sw - g.pw + kj;
            T* col = row + ki * g.kw + kj;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
              for (Index c = 0; c < g.c; ++c) col[c * kk] = T(0);
              continue;
            }
            const T* pixel = image + (ih * g.w + iw) * g.c;
            for (Index c = 0; c < g.c; ++c) col[c * kk] = pixel[c];
          }
        }
      }
    }
  });
}

// The adjoint of im2col: dst[s, ih, iw, c] = sum of the unfolded entries that read it.
template <class T>
void col2im(const Geometry& g, const T* cols, Index samples, T* dst) {
  const Index k = g.depth(), kk = g.kh * g.kw;
  const Index image_size = g.h * g.w * g.c;
  parallel_rows(samples, g.pixels() * k, [&](Index s0, Index s1) {
    std::fill(dst + s0 * image_size, dst + s1 * image_size, T(0));
    for (Index s = s0; s < s1; ++s) {
      T* image = dst + s * image_size;
      for (Index oh = 0; oh < g.oh; ++oh) {
        for (Index ow = 0; ow < g.ow; ++ow) {
          const T* row = cols + ((s * g.oh + oh) * g.ow + ow) * k;
          for (Index ki = 0; ki < g.kh; ++ki) {
            const Index ih = oh * g.sh - g.ph + ki;
            if (ih < 0 || ih >= g.h) continue;
            for (Index kj = 0; kj < g.kw; ++kj) {
              const Index iw = ow * g.sw - g.pw + kj;
              if (iw < 0 || iw >= g.w) continue;
              const T* col = row + ki * g.kw + kj;
              T* pixel = image + (ih * g.w + iw) * g.c;
              for (Index c = 0; c < g.c; ++c) pixel[c] += col[c * kk];
            }
          }
        }
      }
    }
  });
}

template <class T>
class Conv2d final : public Layer<T> {
 public:
  Conv2d(const LayerConfig& c, const LayerSite& site, ParamRegistry& params)
      : Layer<T>(LayerConfig::Type::conv2d, site.input), init_(site.init), workspace_floats_(site.workspace_floats) {
    const SampleShape& in = site.input;
    if (c.filters < 1 || c.kernel.h < 1 || c.kernel.w < 1 || c.stride.h < 1 || c.stride.w < 1 || c.pad_begin.h < 0 ||
        c.pad_begin.w < 0 || c.pad_end.h < 0 || c.pad_end.w < 0)
      refuse_shape(site, "conv2d with " + std::to_string(c.filters) + " filters, kernel " + extent_text(c.kernel) + ", stride " +
                             extent_text(c.stride), "filters, kernel and stride of at least 1, padding of at least 0");
    if (!in.image)
      refuse_shape(site, "conv2d on a flat input of " + in.text() + " values",
                   "an image input: x of [N, H, W, C] or [N, H, W] (layout nhwc), or data.image_shape for flat rows");
    const Index padded_h = in.h + c.pad_begin.h + c.pad_end.h, padded_w = in.w + c.pad_begin.w + c.pad_end.w;
    if (c.kernel.h > padded_h || c.kernel.w > padded_w)
      refuse_shape(site,
                   "conv2d kernel " + extent_text(c.kernel) + " is larger than its padded input " +
                       std::to_string(padded_h) + "x" + std::to_string(padded_w) + " (input " + in.text() + ", CxHxW)",
                   "a kernel of at most the padded input, more padding, or fewer pooling layers before it");
    g_ = {in.h, in.w, in.c, (padded_h - c.kernel.h) / c.stride.h + 1, (padded_w - c.kernel.w) / c.stride.w + 1,
          c.filters, c.kernel.h, c.kernel.w, c.stride.h, c.stride.w, c.pad_begin.h, c.pad_begin.w};
    direct_ = g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 && g_.ph == 0 && g_.pw == 0 &&
              c.pad_end == Extent{0, 0};
    out_buf_.f = c.activation;
    index_ = params.next_of("conv");
    const std::string name = "conv" + std::to_string(index_);
    weight_ = params.add(name + ".weight", {g_.f, g_.c, g_.kh, g_.kw});
    has_bias_ = c.bias;
    if (has_bias_) bias_ = params.add(name + ".bias", {g_.f});
    this->output_ = SampleShape::hwc(g_.oh, g_.ow, g_.f);
    this->parameters_ = g_.f * g_.depth() + (has_bias_ ? g_.f : 0);
  }

  void carve_train(Carver& c, Index batch) override { out_buf_.carve(c, batch * g_.pixels() * g_.f); }
  Index workspace(Index batch) const override { return direct_ ? 0 : chunk(batch) * unfolded_per_sample(); }

  void products(Index batch, bool training, bool need_input_grad, std::vector<GemmProduct>& out) const override {
    // A chunk of fewer samples (a batch's last, a partial batch) shrinks the rows by whole images.
    const Index rows = chunk(batch) * g_.pixels(), step = g_.pixels();
    out.push_back({rows, g_.f, g_.depth(), false, step});
    if (!training) return;
    out.push_back({g_.f, g_.depth(), rows, true, step});
    if (need_input_grad) out.push_back({rows, g_.depth(), g_.f, false, step});
  }

  void init(std::uint64_t seed) override {
    // fan_in = C kh kw as PyTorch and Keras count it; streams after the dense layers' (which
    // keep theirs from before conv layers existed).
    init_dense_weight(init_, this->param(weight_), g_.f, g_.depth(), seed, 1000 + static_cast<std::uint64_t>(index_));
    if (has_bias_) std::fill(this->param(bias_), this->param(bias_) + g_.f, T(0));
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T> shared) override {
    run_forward(in, n, shared.workspace, out_buf_.pre(), out_buf_.a, out_buf_.keeps_z());
    return out_buf_.a;
  }

  T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    const Index out_size = g_.pixels() * g_.f, in_size = g_.h * g_.w * g_.c;
    out_buf_.to_pre_activation_grad(g, n * out_size);
    const T* dz = out_buf_.a;  // [n * pixels, filters]
    if (has_bias_) bias_grad(dz, this->grad(bias_), n * g_.pixels(), g_.f, flags.accumulate);
    const Index step = chunk(n);
    for (Index s0 = 0; s0 < n; s0 += step) {
      const Index cs = std::min(step, n - s0), rows = cs * g_.pixels();
      const T* cols = unfold(in + s0 * in_size, cs, shared.workspace);
      const T* dz_chunk = dz + s0 * out_size;
      gemm_weight_grad(dz_chunk, cols, this->grad(weight_), g_.f, g_.depth(), rows, flags.accumulate || s0 > 0);
      if (!flags.need_input_grad) continue;
      T* din = shared.gradient + s0 * in_size;
      T* dcols = direct_ ? din : shared.workspace;  // the unfolded input is used up: reuse its floats
      gemm_input_grad(dz_chunk, this->param(weight_), dcols, rows, g_.depth(), g_.f);
      if (!direct_) col2im(g_, dcols, cs, din);
    }
    return flags.need_input_grad ? shared.gradient : nullptr;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T> shared) override {
    run_forward(in, n, shared.workspace, out, out, false);
    return out;
  }

 private:
  Index unfolded_per_sample() const { return g_.pixels() * g_.depth(); }
  // Samples per unfolded chunk at a batch of `batch`.
  Index chunk(Index batch) const {
    return std::clamp<Index>(workspace_floats_ / std::max<Index>(1, unfolded_per_sample()), 1, std::max<Index>(1, batch));
  }
  const T* unfold(const T* src, Index samples, T* workspace) const {
    if (direct_) return src;  // a 1x1 convolution reads its input as it is
    im2col(g_, src, samples, workspace);
    return workspace;
  }
  void run_forward(const T* in, Index n, T* workspace, T* z, T* a, bool keep_z) {
    const Index out_size = g_.pixels() * g_.f, in_size = g_.h * g_.w * g_.c;
    const T* bias = has_bias_ ? this->param(bias_) : nullptr;
    const Index step = chunk(n);
    for (Index s0 = 0; s0 < n; s0 += step) {
      const Index cs = std::min(step, n - s0);
      const T* cols = unfold(in + s0 * in_size, cs, workspace);
      dense_forward(cols, this->param(weight_), bias, out_buf_.f, z + s0 * out_size, a + s0 * out_size, keep_z,
                    cs * g_.pixels(), g_.f, g_.depth());
    }
  }

  Init init_;
  Index workspace_floats_;
  Geometry g_{};
  bool direct_ = false;
  int index_ = 0;
  std::size_t weight_ = 0, bias_ = 0;
  bool has_bias_ = true;
  ActivatedOutput<T> out_buf_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_conv2d(const LayerConfig& c, const LayerSite& site, ParamRegistry& params) {
  return std::make_unique<Conv2d<T>>(c, site, params);
}
template std::unique_ptr<Layer<float>> make_conv2d<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_conv2d<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
