// dense: z = x W^T + b over flat inputs (PyTorch's Linear), then the activation.
#include "../kernels.hpp"
#include "activated_output.hpp"
#include "trainer/error.hpp"

namespace trainer::model {
namespace {

template <class T>
class Dense final : public Layer<T> {
 public:
  Dense(const LayerConfig& c, const LayerSite& site, ParamRegistry& params)
      : Layer<T>(LayerConfig::Type::dense, site.input), init_(site.init) {
    if (site.input.image)
      refuse_shape(site, "dense layer on a " + site.input.text() + " (CxHxW) input",
                   "a flatten or global_avg_pool layer before it");
    if (c.units < 1)
      throw Error::usage(site.pointer + "/units", "dense layer with " + std::to_string(c.units) + " units",
                         "at least 1 unit");
    if (site.output_layer && site.loss == Loss::binary_cross_entropy && c.units != 1)
      throw Error::usage(site.pointer + "/units",
                         "binary_cross_entropy needs 1 output, the last layer has " + std::to_string(c.units),
                         "\"units\": 1 (or loss cross_entropy for several classes)");
    in_ = site.input.size();
    out_ = c.units;
    out_buf_.f = site.output_layer ? Activation::linear : c.activation;
    index_ = params.next_of("dense");
    const std::string name = "dense" + std::to_string(index_);
    weight_ = params.add(name + ".weight", {out_, in_});
    if (c.bias) bias_ = params.add(name + ".bias", {out_});
    has_bias_ = c.bias;
    this->output_ = SampleShape::flat(out_);
    this->parameters_ = out_ * in_ + (c.bias ? out_ : 0);
  }

  void carve_train(Carver& c, Index batch) override { out_buf_.carve(c, batch * out_); }

  void products(Index batch, bool training, bool need_input_grad, std::vector<GemmProduct>& out) const override {
    out.push_back({batch, out_, in_});
    if (!training) return;
    out.push_back({out_, in_, batch, true});
    if (need_input_grad) out.push_back({batch, in_, out_});
  }

  void init(std::uint64_t seed) override {
    // The stream of dense layer i is tensor i, as before conv layers existed: MLP runs keep
    // their initial weights.
    init_dense_weight(init_, this->param(weight_), out_, in_, seed, static_cast<std::uint64_t>(index_));
    if (has_bias_) std::fill(this->param(bias_), this->param(bias_) + out_, T(0));
  }

  T* forward_train(const T* in, Index n, const StepFlags&, SharedBuffers<T>) override {
    dense_forward(in, this->param(weight_), bias(), out_buf_.f, out_buf_.pre(), out_buf_.a, out_buf_.keeps_z(), n,
                  out_, in_);
    return out_buf_.a;
  }

  T* backward(const T* in, T* g, Index n, const StepFlags& flags, SharedBuffers<T> shared) override {
    out_buf_.to_pre_activation_grad(g, n * out_);
    const T* dz = out_buf_.a;
    gemm_weight_grad(dz, in, this->grad(weight_), out_, in_, n, flags.accumulate);
    if (has_bias_) bias_grad(dz, this->grad(bias_), n, out_, flags.accumulate);
    if (!flags.need_input_grad) return nullptr;
    gemm_input_grad(dz, this->param(weight_), shared.gradient, n, in_, out_);
    return shared.gradient;
  }

  const T* forward_eval(const T* in, T* out, Index n, SharedBuffers<T>) override {
    dense_forward(in, this->param(weight_), bias(), out_buf_.f, out, out, false, n, out_, in_);
    return out;
  }

 private:
  const T* bias() const { return has_bias_ ? this->param(bias_) : nullptr; }

  Init init_;
  Index in_ = 0, out_ = 0;
  int index_ = 0;
  std::size_t weight_ = 0, bias_ = 0;
  bool has_bias_ = true;
  ActivatedOutput<T> out_buf_;
};

}  // namespace

template <class T>
std::unique_ptr<Layer<T>> make_dense(const LayerConfig& c, const LayerSite& site, ParamRegistry& params) {
  return std::make_unique<Dense<T>>(c, site, params);
}
template std::unique_ptr<Layer<float>> make_dense<float>(const LayerConfig&, const LayerSite&, ParamRegistry&);
template std::unique_ptr<Layer<double>> make_dense<double>(const LayerConfig&, const LayerSite&, ParamRegistry&);

}  // namespace trainer::model
