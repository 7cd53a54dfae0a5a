// batch_norm: per channel of an image (over the batch's rows and pixels) or per feature of a
// flat input (over the batch's rows), as PyTorch's BatchNorm2d / BatchNorm1d. Training normalises
// by the batch's mean and biased variance and moves the running statistics towards the batch's
// (running = (1 - momentum) running + momentum batch, with the unbiased variance); evaluation
// uses the running statistics. Then weight * x + bias, then the activation.
//
// Inputs are [rows, C] row-major whether they are images (rows = samples x pixels, NHWC) or
// vectors, so one code path serves both. Sums are taken in double.
#include <algorithm>
#include <cmath>

#include "activated_output.hpp"

namespace trainer::model {
namespace {

template <class T>
class BatchNorm final : public Layer<T> {
 public:
  BatchNorm(const LayerConfig& c, const LayerSite& site, ParamRegistry& params)
      : Layer<T>(LayerConfig::Type::batch_norm, site.input), momentum_(c.momentum), eps_(c.eps) {
    c_ = site.input.image ? site.input.c : site.input.size();
    pixels_ = site.input.image ? site.input.h * site.input.w : 1;
    out_buf_.f = c.activation;
    const std::string name = "bn" + std::to_string(params.next_of("bn"));
    weight_ = params.add(name + ".weight", {c_});
    bias_ = params.add(name + ".bias", {c_});
    running_mean_ = params.add(name + ".running_mean", {c_}, true);
    running_var_ = params.add(name + ".running_var", {c_}, true);
    this->output_ = site.input;
    this->parameters_ = 2 * c_;
  }

  void carve_train(Carver& c, Index batch) override {
    out_buf_.carve(c, batch * pixels_ * c_);
    c.take(mean_, c_, "batch_norm_statistics", "batch-norm statistics");
    c.take(inv_std_, c_, "batch_norm_statistics", "batch-norm statistics");
    c.take(sum_dy_, c_, "batch_norm_statistics", "batch-norm statistics");
    c.take(sum_dy_xhat_, c_, "batch_norm_statistics", "batch-norm statistics");
  }
  void carve_eval(Carver& c, Index) override {
    c.take(scale_, c_, "batch_norm_statistics", "batch-norm statistics");
    c.take(shift_, c_, "batch_norm_statistics", "batch-norm statistics");
  }

  void init(std::uint64_t) override {
    std::fill(this->param(weight_), this->param(weight_) + c_, T(1));
    std::fill(this->param(bias_), this->param(bias_) + c_, T(0));
    std::fill(this->param(running_mean_), this->param(running_mean_) + c_, T(0));
    std::fill(this->param(running_var_), this->param(running_var_) + c_, T(1));
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T>) override {
    const Index rows = n * pixels_;
    std::fill(mean_, mean_ + c_, 0.0);
    std::fill(sum_dy_, sum_dy_ + c_, 0.0);  // variance sums, before backward needs them
    for (Index r = 0; r < rows; ++r)
      for (Index ch = 0; ch < c_; ++ch) mean_[ch] += static_cast<double>(in[r * c_ + ch]);
    for (Index ch = 0; ch < c_; ++ch) mean_[ch] /= static_cast<double>(rows);
    for (Index r = 0; r < rows; ++r)
      for (Index ch = 0; ch < c_; ++ch) {
        const double d = static_cast<double>(in[r * c_ + ch]) - mean_[ch];
        sum_dy_[ch] += d * d;
      }
    T* running_mean = this->param(running_mean_);
    T* running_var = this->param(running_var_);
    const double m = momentum_;
    for (Index ch = 0; ch < c_; ++ch) {
      const double var = sum_dy_[ch] / static_cast<double>(rows);
      const double unbiased = rows > 1 ? sum_dy_[ch] / static_cast<double>(rows - 1) : var;
      inv_std_[ch] = 1.0 / std::sqrt(var + eps_);
      running_mean[ch] = static_cast<T>((1.0 - m) * static_cast<double>(running_mean[ch]) + m * mean_[ch]);
      running_var[ch] = static_cast<T>((1.0 - m) * static_cast<double>(running_var[ch]) + m * unbiased);
    }
    const T* gamma = this->param(weight_);
    const T* beta = this->param(bias_);
    T* pre = out_buf_.pre();
    for (Index r = 0; r < rows; ++r)
      for (Index ch = 0; ch < c_; ++ch) {
        const double xhat = (static_cast<double>(in[r * c_ + ch]) - mean_[ch]) * inv_std_[ch];
        pre[r * c_ + ch] = static_cast<T>(xhat) * gamma[ch] + beta[ch];
      }
    activate(pre, out_buf_.a, rows);
    return out_buf_.a;
  }

  T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    const Index rows = n * pixels_;
    out_buf_.to_pre_activation_grad(g, rows * c_);
    const T* dy = out_buf_.a;
    std::fill(sum_dy_, sum_dy_ + c_, 0.0);
    std::fill(sum_dy_xhat_, sum_dy_xhat_ + c_, 0.0);
    for (Index r = 0; r < rows; ++r)
      for (Index ch = 0; ch < c_; ++ch) {
        const double d = static_cast<double>(dy[r * c_ + ch]);
        const double xhat = (static_cast<double>(in[r * c_ + ch]) - mean_[ch]) * inv_std_[ch];
        sum_dy_[ch] += d;
        sum_dy_xhat_[ch] += d * xhat;
      }
    T* dgamma = this->grad(weight_);
    T* dbeta = this->grad(bias_);
    for (Index ch = 0; ch < c_; ++ch) {
      const T dg = static_cast<T>(sum_dy_xhat_[ch]), db = static_cast<T>(sum_dy_[ch]);
      dgamma[ch] = flags.accumulate ? dgamma[ch] + dg : dg;
      dbeta[ch] = flags.accumulate ? dbeta[ch] + db : db;
    }
    if (!flags.need_input_grad) return nullptr;
    // dx = gamma / std * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the batch's rows
    const T* gamma = this->param(weight_);
    const double inv_rows = 1.0 / static_cast<double>(rows);
    T* din = shared.gradient;
    for (Index r = 0; r < rows; ++r)
      for (Index ch = 0; ch < c_; ++ch) {
        const double xhat = (static_cast<double>(in[r * c_ + ch]) - mean_[ch]) * inv_std_[ch];
        const double d = static_cast<double>(dy[r * c_ + ch]) - sum_dy_[ch] * inv_rows - xhat * sum_dy_xhat_[ch] * inv_rows;
        din[r * c_ + ch] = static_cast<T>(static_cast<double>(gamma[ch]) * inv_std_[ch] * d);
      }
    return din;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T>) override {
    const T* gamma = this->param(weight_);
    const T* beta = this->param(bias_);
    const T* running_mean = this->param(running_mean_);
    const T* running_var = this->param(running_var_);
    for (Index ch = 0; ch < c_; ++ch) {
      const double s = static_cast<double>(gamma[ch]) / std::sqrt(static_cast<double>(running_var[ch]) + eps_);
      scale_[ch] = static_cast<T>(s);
      shift_[ch] = static_cast<T>(static_cast<double>(beta[ch]) - static_cast<double>(running_mean[ch]) * s);
    }
    const Index rows = n * pixels_;
    for (Index r = 0; r < rows; ++r)
      for (Index ch = 0; ch < c_; ++ch) out[r * c_ + ch] = in[r * c_ + ch] * scale_[ch] + shift_[ch];
    activate(out, out, rows);
    return out;
  }

 private:
  // a = f(z) over rows x C values (in place when z == a; gelu's z is kept apart while training).
  void activate(T* z, T* a, Index rows) const {
    if (out_buf_.f == Activation::linear && z == a) return;
    bias_activation_tile<T>(out_buf_.f, z, a, nullptr, rows, c_, c_, z != a);
  }

  double momentum_, eps_;
  Index c_ = 1, pixels_ = 1;
  std::size_t weight_ = 0, bias_ = 0, running_mean_ = 0, running_var_ = 0;
  ActivatedOutput<T> out_buf_;
  double* mean_ = nullptr;         // [C] of the last training batch
  double* inv_std_ = nullptr;      // [C]
  double* sum_dy_ = nullptr;       // [C]
  double* sum_dy_xhat_ = nullptr;  // [C]
  T* scale_ = nullptr;             // [C] evaluation: weight / sqrt(running_var + eps)
  T* shift_ = nullptr;             // [C]
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_batch_norm(const LayerConfig& c, const LayerSite& site, ParamRegistry& params) {
  return std::make_unique<BatchNorm<T>>(c, site, params);
}
template std::unique_ptr<Layer<float>> make_batch_norm<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_batch_norm<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
