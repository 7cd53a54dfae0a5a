// conv2d: a convolution over NHWC images as GEMMs over unfolded (im2col) chunks of samples.
//
// The batch is cut into chunks of samples whose unfolded input stays in a core's L2 cache
// (LayerSite::workspace_floats), which the compute threads take as they go (WorkItems): a thread
// unfolds its chunk into its own slice of the shared workspace and runs the chunk's products on
// its own (gemm_serial); backward also folds the unfolded gradient back (col2im) and adds the
// weight and bias gradients into partial sums, one per lane of consecutive chunks, which are
// added up in lane order at the end. One parallel region per pass, no barrier per chunk, and
// the chunks and lanes depend only on the batch and the thread count, so results are
// reproducible for a given thread count whichever thread took what.
//
// Unfolded columns are ordered kernel row, kernel column, input channel (the "run order"): in
// NHWC a kernel row's taps are then one contiguous run of kw x C input values, so unfolding and
// folding copy runs instead of scattering single values. Weights keep PyTorch's [out, in, kh, kw]
// everywhere outside this file (init, init_from, checkpoints, exports): each pass copies them
// into the run order at the start of the workspace ([F, kh, kw, C]: 18k floats for the
// Fashion-MNIST model's second layer), and backward moves the weight gradient back. With one
// input channel, or a 1x1 kernel, the two orders agree and the weights are used as they are.
//
// A layer whose window holds few values (K = kh kw C <= 12: a first layer on one channel) runs its
// forward pass and, when no input gradient is needed, its backward pass on the direct kernels of
// direct_conv.hpp instead: unfolding it would copy K values per output pixel for 2K multiply-adds
// per 32 filters. Its relu (and the relu's derivative) run inside those kernels.
//
// Workspace, in floats, each piece 64-byte aligned: the weights in the run order (when they
// differ; the direct kernels take them transposed, [K, F]); per thread the unfolded chunk
// [chunk samples x pixels, K] (the direct kernels' padded sample) and, fused with a pool, the
// chunk's output; per lane the weight gradient's partial sum [K, F] (transposed: K = kh kw C is
// a multiple of the GEMM kernel's 12 rows more often than F) and the bias gradient's [F].
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "../compute_pool.hpp"
#include "../direct_conv.hpp"
#include "../kernels.hpp"
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
  Index in_size() const { return h * w * c; }
  Index out_size() const { return oh * ow * f; }
};

// For output column ow, the kernel columns [first, last) that fall inside the input.
struct TapRange {
  Index first, last;
};
TapRange taps_inside(const Geometry& g, Index ow) {
  const Index iw0 = ow * g.sw - g.pw;
  return {std::max<Index>(0, -iw0), std::clamp<Index>(g.w - iw0, 0, g.kw)};
}

// dst[(s, oh, ow), (ki, kj, c)] = src[s, oh*sh - ph + ki, ow*sw - pw + kj, c], zero outside.
template <class T>
void im2col(const Geometry& g, const T* src, Index samples, T* dst) {
  const Index k = g.depth(), run = g.kw * g.c;
  for (Index s = 0; s < samples; ++s) {
    const T* image = src + s * g.in_size();
    for (Index oh = 0; oh < g.oh; ++oh)
      for (Index ow = 0; ow < g.ow; ++ow) {
        T* row = dst + ((s * g.oh + oh) * g.ow + ow) * k;
        const TapRange t = taps_inside(g, ow);
        const Index iw0 = ow * g.sw - g.pw;
        for (Index ki = 0; ki < g.kh; ++ki) {
          T* seg = row + ki * run;
          const Index ih = oh * g.sh - g.ph + ki;
          if (ih < 0 || ih >= g.h || t.last <= t.first) {
            std::fill(seg, seg + run, T(0));
            continue;
          }
          std::fill(seg, seg + t.first * g.c, T(0));
          const T* from = image + (ih * g.w + iw0 + t.first) * g.c;
          std::copy(from, from + (t.last - t.first) * g.c, seg + t.first * g.c);
          std::fill(seg + t.last * g.c, seg + run, T(0));
        }
      }
  }
}

// The adjoint of im2col: dst[s, ih, iw, c] = sum of the unfolded entries that read it.
template <class T>
void col2im(const Geometry& g, const T* cols, Index samples, T* dst) {
  const Index k = g.depth(), run = g.kw * g.c;
  std::fill(dst, dst + samples * g.in_size(), T(0));
  for (Index s = 0; s < samples; ++s) {
    T* image = dst + s * g.in_size();
    for (Index oh = 0; oh < g.oh; ++oh)
      for (Index ow = 0; ow < g.ow; ++ow) {
        const T* row = cols + ((s * g.oh + oh) * g.ow + ow) * k;
        const TapRange t = taps_inside(g, ow);
        const Index iw0 = ow * g.sw - g.pw;
        for (Index ki = 0; ki < g.kh; ++ki) {
          const Index ih = oh * g.sh - g.ph + ki;
          if (ih < 0 || ih >= g.h) continue;
          const T* from = row + ki * run + t.first * g.c;
          T* to = image + (ih * g.w + iw0 + t.first) * g.c;
          for (Index i = 0, count = (t.last - t.first) * g.c; i < count; ++i) to[i] += from[i];
        }
      }
  }
}

Index round16(Index floats) { return (floats + 15) / 16 * 16; }

// Chunks (and backward's lanes) per thread, when the batch has that many samples.
constexpr Index kChunksPerThread = 4;

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
    reordered_ = g_.c > 1 && g_.kh * g_.kw > 1;
    small_ = {g_.h, g_.w, g_.c, g_.oh, g_.ow, g_.f, g_.kh, g_.kw, g_.sh, g_.sw, g_.ph, g_.pw};
    direct_small_ = std::is_same_v<T, float> && !direct_ && direct_conv_available(small_);
    out_buf_.f = c.activation;
    index_ = params.next_of("conv");
    const std::string name = "conv" + std::to_string(index_);
    weight_ = params.add(name + ".weight", {g_.f, g_.c, g_.kh, g_.kw});
    has_bias_ = c.bias;
    if (has_bias_) bias_ = params.add(name + ".bias", {g_.f});
    this->output_ = SampleShape::hwc(g_.oh, g_.ow, g_.f);
    this->parameters_ = g_.f * g_.depth() + (has_bias_ ? g_.f : 0);
  }

  void carve_train(Carver& c, Index batch) override {
    if (!next_) out_buf_.carve(c, batch * g_.out_size());  // fused: the output exists chunk by chunk
  }
  Index workspace(Index batch) const override {
    return split(batch, static_cast<int>(std::min<Index>(compute_threads(), std::max<Index>(1, batch)))).total;
  }

  bool fuse_next(Layer<T>& next) override {
    // The pool records whether each value it takes is above zero: enough for a relu's derivative.
    if (out_buf_.f != Activation::relu && out_buf_.f != Activation::linear) return false;
    next_ = next.fusion();
    if (next_) next_->fuse();
    return next_ != nullptr;
  }

  void products(Index batch, bool training, bool need_input_grad, std::vector<GemmProduct>& out) const override {
    // The most rows a chunk has: one thread's chunk at this batch (more threads, a batch's last
    // chunk or a partial batch make it smaller, by whole images).
    const Index rows = split(batch, 1).chunk * g_.pixels(), k = g_.depth(), step = g_.pixels();
    if (!direct_small_) out.push_back({rows, g_.f, k, false, step, true});
    if (!training || (direct_small_ && !need_input_grad)) return;
    out.push_back({k, g_.f, rows, true, step, true});
    if (need_input_grad) out.push_back({rows, k, g_.f, false, step, true});
  }

  void init(std::uint64_t seed) override {
    // fan_in = C kh kw as PyTorch and Keras count it; streams after the dense layers' (which
    // keep theirs from before conv layers existed).
    init_dense_weight(init_, this->param(weight_), g_.f, g_.depth(), seed, 1000 + static_cast<std::uint64_t>(index_));
    if (has_bias_) std::fill(this->param(bias_), this->param(bias_) + g_.f, T(0));
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T> shared) override {
    run_forward(in, n, shared, out_buf_.pre(), out_buf_.a, out_buf_.keeps_z(), next_ != nullptr);
    return out_buf_.a;  // fused: null; the pool's forward_train returns the pooled batch
  }

  T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    const Split p = fit(n, shared);
    const Index out_size = g_.out_size(), in_size = g_.in_size(), k = g_.depth(), f = g_.f;
    const bool direct = direct_small_ && !flags.need_input_grad;
    // Where the gradient before the activation comes from:
    //  fused      the pool after it spreads its output's gradient over each chunk, relu included;
    //  fused_relu g itself, masked by the kept output inside the direct kernel;
    //  otherwise  the output buffer, after the activation's derivative. g may be the shared
    //             gradient buffer, where the input's gradient goes: then all of it is converted
    //             before any thread writes there.
    const bool fused = next_ != nullptr;
    const bool fused_relu = !fused && direct && out_buf_.f == Activation::relu && g != out_buf_.a;
    const bool convert_first = !fused && flags.need_input_grad;
    if (convert_first) out_buf_.to_pre_activation_grad(g, n * out_size);
    const T* w = flags.need_input_grad ? run_order_weights(shared.workspace) : nullptr;
    WorkItems lanes(p.lanes);
    auto job = [&](int slot, int) {
      T* cols = shared.workspace + p.slot_at(slot);  // or the direct kernels' padded sample
      T* chunk_out = cols + p.cols;                  // fused: [chunk, pixels, F]
      for (Index lane; (lane = lanes.next()) >= 0;) {
        T* dwt = shared.workspace + p.lane_at(lane);  // [K, F]
        T* db = dwt + p.dwt;                          // [F]
        const Index first_chunk = p.chunks * lane / p.lanes, end_chunk = p.chunks * (lane + 1) / p.lanes;
        for (Index c = first_chunk; c < end_chunk; ++c) {
          const Index s0 = c * p.chunk, cs = std::min(p.chunk, n - s0), rows = cs * g_.pixels();
          const bool first = c == first_chunk;
          // Fused, the output buffer does not exist (it is null): no pointer into it is formed.
          const T* dz = chunk_out;
          if (fused) {
            next_->backward_chunk(chunk_out, s0, cs, out_buf_.f == Activation::relu);
          } else {
            dz = (fused_relu ? g : out_buf_.a) + s0 * out_size;
            if (!convert_first && !fused_relu) out_buf_.to_pre_activation_grad(g, cs * out_size, s0 * out_size);
          }
          if constexpr (std::is_same_v<T, float>) {
            if (direct) {
              direct_conv_weight_grad(small_, in + s0 * in_size, cs, dz, fused_relu ? out_buf_.a + s0 * out_size : nullptr,
                                      dwt, has_bias_ ? db : nullptr, !first, cols);
              continue;
            }
          }
          if (has_bias_) bias_grad(dz, db, rows, f, !first);
          const T* x = unfold(in + s0 * in_size, cs, cols);
          gemm_serial<T>(k, f, rows, {x, 1, k, true}, {dz, f, 1, false}, dwt, f, !first);
          if (!flags.need_input_grad) continue;
          T* din = shared.gradient + s0 * in_size;
          T* dx = direct_ ? din : cols;  // the unfolded input is used up: its floats take its gradient
          gemm_serial<T>(rows, k, f, {dz, f, 1, true}, {w, k, 1, false}, dx, k, false);
          if (!direct_) col2im(g_, dx, cs, din);
        }
      }
    };
    run_on_threads(p.slots, job);
    add_partial_gradients(shared.workspace, p, flags.accumulate);
    return flags.need_input_grad ? shared.gradient : nullptr;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T> shared) override {
    run_forward(in, n, shared, out, out, false, false);
    return out;
  }

 private:
  // How a pass at n rows uses the workspace (floats): chunks of samples handed out to the
  // threads as they ask (WorkItems), each thread with its own scratch; in backward the chunks
  // form lanes of consecutive chunks, each lane with its own partial weight and bias gradient,
  // so that the sums do not depend on which thread took which lane.
  struct Split {
    int slots = 1;     // threads
    Index chunk = 1;   // samples a thread works on at once
    Index chunks = 1;  // of the n samples
    Index lanes = 1;   // backward's groups of consecutive chunks
    Index weights = 0, cols = 0, out = 0, dwt = 0, db = 0;  // pieces, each rounded to 64 bytes
    Index per_slot = 0, per_lane = 0;  // cols + out, dwt + db
    Index total = 0;
    // [weights] [slot 0: cols, out] [slot 1] ... [lane 0: dwt, db] [lane 1] ...
    Index slot_at(int slot) const { return weights + slot * per_slot; }
    Index lane_at(Index lane) const { return weights + slots * per_slot + lane * per_lane; }
  };
  Split split(Index n, int slots) const {
    Split p;
    p.slots = slots;
    // Enough chunks for every thread to take several (a descheduled thread then holds up little),
    // each within the budget of floats a thread keeps in its L2 cache.
    const Index share = (std::max<Index>(1, n) + slots * kChunksPerThread - 1) / (slots * kChunksPerThread);
    // Per sample of a chunk: its unfolded input, and when fused its output.
    const Index per_sample = (direct_ ? 0 : g_.pixels() * g_.depth()) + (next_ ? g_.out_size() : 0);
    p.chunk = std::clamp<Index>(workspace_floats_ / std::max<Index>(1, per_sample), 1, share);
    p.chunks = (std::max<Index>(1, n) + p.chunk - 1) / p.chunk;
    p.lanes = std::min<Index>(p.chunks, slots * kChunksPerThread);
    p.weights = reordered_ || direct_small_ ? round16(g_.f * g_.depth()) : 0;
    p.cols = direct_ ? 0 : round16(std::max(p.chunk * g_.pixels() * g_.depth(),
                                            direct_small_ ? direct_conv_scratch_floats(small_) : Index{0}));
    p.out = next_ ? round16(p.chunk * g_.out_size()) : 0;
    p.dwt = round16(g_.depth() * g_.f);
    p.db = round16(g_.f);
    p.per_slot = p.cols + p.out;
    p.per_lane = p.dwt + p.db;
    p.total = p.weights + slots * p.per_slot + p.lanes * p.per_lane;
    return p;
  }
  // The split a pass at n rows uses: one share per compute thread (at most one per sample), fewer
  // if the workspace the plan gave holds fewer (threads added after the plan was made).
  Split fit(Index n, const SharedBuffers<T>& shared) const {
    for (int slots = static_cast<int>(std::min<Index>(compute_threads(), std::max<Index>(1, n))); slots >= 1; --slots) {
      const Split p = split(n, slots);
      if (p.total <= shared.workspace_floats) return p;
    }
    throw Error::runtime("conv2d workspace",
                         std::to_string(split(n, 1).total) + " floats needed for " + std::to_string(n) + " rows",
                         "at most the " + std::to_string(shared.workspace_floats) + " floats the memory plan gave it");
  }

  // The weights in the run order, [F, K] (transposed: [K, F]): copied into the workspace's first
  // floats, or the parameters themselves when the orders agree and no transpose is asked for.
  const T* run_order_weights(T* workspace, bool transposed = false) const {
    const T* w = this->param(weight_);
    if (!reordered_ && !transposed) return w;
    const Index k = g_.depth(), khw = g_.kh * g_.kw;
    for (Index f = 0; f < g_.f; ++f)
      for (Index t = 0; t < khw; ++t)
        for (Index c = 0; c < g_.c; ++c) {
          const Index kr = t * g_.c + c;
          workspace[transposed ? kr * g_.f + f : f * k + kr] = w[f * k + c * khw + t];
        }
    return workspace;
  }

  // Adds the lanes' partial weight and bias gradients (the weight's transposed and in the run
  // order) into the parameters' gradients (= without accumulate).
  void add_partial_gradients(const T* workspace, const Split& p, bool accumulate) {
    const Index k = g_.depth(), khw = g_.kh * g_.kw, f = g_.f;
    const T* first = workspace + p.lane_at(0);
    T* dw = this->grad(weight_);
    for (Index t = 0; t < khw; ++t)
      for (Index c = 0; c < g_.c; ++c) {
        const Index kr = t * g_.c + c, kp = reordered_ ? c * khw + t : kr;
        for (Index j = 0; j < f; ++j) {
          T sum = first[kr * f + j];
          for (Index lane = 1; lane < p.lanes; ++lane) sum += first[lane * p.per_lane + kr * f + j];
          dw[j * k + kp] = accumulate ? dw[j * k + kp] + sum : sum;
        }
      }
    if (!has_bias_) return;
    T* db = this->grad(bias_);
    for (Index j = 0; j < f; ++j) {
      T sum = first[p.dwt + j];
      for (Index lane = 1; lane < p.lanes; ++lane) sum += first[lane * p.per_lane + p.dwt + j];
      db[j] = accumulate ? db[j] + sum : sum;
    }
  }

  const T* unfold(const T* src, Index samples, T* cols) const {
    if (direct_) return src;  // a 1x1 convolution reads its input as it is
    im2col(g_, src, samples, cols);
    return cols;
  }

  // Forward into z and a (the same buffer unless keep_z); fused: each chunk into the thread's
  // workspace, then through the pool after it.
  void run_forward(const T* in, Index n, SharedBuffers<T> shared, T* z, T* a, bool keep_z, bool fused) {
    const Split p = fit(n, shared);
    const Index out_size = g_.out_size(), in_size = g_.in_size(), k = g_.depth(), f = g_.f;
    const T* w = run_order_weights(shared.workspace, direct_small_);
    const T* bias = has_bias_ ? this->param(bias_) : nullptr;
    const Activation act = out_buf_.f;
    WorkItems chunks(p.chunks);
    auto job = [&](int slot, int) {
      T* cols = shared.workspace + p.slot_at(slot);
      T* chunk_out = cols + p.cols;
      for (Index c; (c = chunks.next()) >= 0;) {
        const Index s0 = c * p.chunk, cs = std::min(p.chunk, n - s0), rows = cs * g_.pixels();
        T* zc = fused ? chunk_out : z + s0 * out_size;
        T* ac = fused ? chunk_out : a + s0 * out_size;
        bool done = false;
        if constexpr (std::is_same_v<T, float>) {
          if (direct_small_) {
            direct_conv_forward(small_, in + s0 * in_size, cs, w, bias, act == Activation::relu, zc, cols);
            if (act != Activation::relu && act != Activation::linear)
              bias_activation_tile<T>(act, zc, ac, nullptr, rows, f, f, keep_z);
            done = true;
          }
        }
        if (!done) {
          const T* x = unfold(in + s0 * in_size, cs, cols);
          gemm_serial<T>(rows, f, k, {x, k, 1, true}, {w, 1, k, false}, zc, f, false);
          bias_activation_tile(act, zc, ac, bias, rows, f, f, keep_z);
        }
        if (fused) next_->forward_chunk(ac, s0, cs);
      }
    };
    run_on_threads(p.slots, job);
  }

  Init init_;
  Index workspace_floats_;
  Geometry g_{};
  bool direct_ = false;
  bool reordered_ = false;  // the run order differs from PyTorch's (C > 1 and a kernel wider than 1x1)
  DirectConvShape small_{};
  bool direct_small_ = false;  // forward (and backward without input gradient) on direct_conv.hpp
  ChunkFusion<T>* next_ = nullptr;  // the max pool it runs chunk by chunk, if fused
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
