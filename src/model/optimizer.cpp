// Update rules of torch.optim 1.13 (single-tensor, foreach=False) over flat spans.
//
// The arithmetic follows torch's order of float32 operations so that trajectories match the
// fixtures: coupled L2 before momentum/moments, AdamW's decay before the Adam step, bias
// corrections in double with the step size then applied in float, eps added to
// sqrt(v) / sqrt(1 - beta2^t). State starts at zero, which makes torch's "first momentum
// buffer = d" the ordinary update (0 * mu + d = d).
#include "trainer/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "eigen.hpp"
#include "parallel.hpp"
#include "trainer/error.hpp"

namespace trainer {

Optimizer::Optimizer(const OptimizerConfig& config) : config_(config) {}

int Optimizer::state_per_param() const {
  switch (config_.type) {
    case OptimizerConfig::Type::sgd: return config_.momentum != 0.0 ? 1 : 0;
    case OptimizerConfig::Type::adam:
    case OptimizerConfig::Type::adamw: return 2;
  }
  return 0;
}

void Optimizer::bind_state(std::span<float> state) { state_ = state; }

void Optimizer::step(std::span<float> params, std::span<const float> grads, double lr) {
  const auto n = static_cast<model::Index>(params.size());
  if (grads.size() != params.size() ||
      state_.size() < static_cast<std::size_t>(state_per_param()) * params.size())
    throw Error::runtime("optimizer", "state or gradients do not match " + std::to_string(n) + " parameters");
  ++t_;
  float* p = params.data();
  const float* g = grads.data();
  const auto wd = static_cast<float>(config_.weight_decay);

  if (config_.type == OptimizerConfig::Type::sgd) {
    const auto neg_lr = static_cast<float>(-lr);
    const auto mu = static_cast<float>(config_.momentum);
    const bool nesterov = config_.nesterov;
    float* buf = state_.data();
    model::parallel_rows(n, 8, [&](model::Index i0, model::Index i1) {
      for (model::Index i = i0; i < i1; ++i) {
        float d = g[i];
        if (wd != 0.0f) d = d + wd * p[i];
        if (mu != 0.0f) {
          buf[i] = mu * buf[i] + d;
          d = nesterov ? d + mu * buf[i] : buf[i];
        }
        p[i] = p[i] + neg_lr * d;
      }
    });
    return;
  }

  const bool decoupled = config_.type == OptimizerConfig::Type::adamw;
  const double t = static_cast<double>(t_);
  const double bias_correction1 = 1.0 - std::pow(config_.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(config_.beta2, t);
  const auto neg_step_size = static_cast<float>(-(lr / bias_correction1));
  const auto bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const auto decay = static_cast<float>(1.0 - lr * config_.weight_decay);
  const auto beta1 = static_cast<float>(config_.beta1);
  const auto beta2 = static_cast<float>(config_.beta2);
  const auto one_minus_beta1 = static_cast<float>(1.0 - config_.beta1);
  const auto one_minus_beta2 = static_cast<float>(1.0 - config_.beta2);
  const auto eps = static_cast<float>(config_.eps);
  float* m = state_.data();
  float* v = state_.data() + n;
  // Eigen array expressions over L1-sized chunks: they vectorise the square root, which a
  // plain loop does not (std::sqrt may set errno), while the arrays stay in cache between
  // the expressions.
  using Flat = Eigen::Map<Eigen::ArrayXf>;
  constexpr model::Index kChunk = 1024;
  model::parallel_rows(n, 16, [&](model::Index i0, model::Index i1) {
    for (model::Index c = i0; c < i1; c += kChunk) {
      const model::Index len = std::min(kChunk, i1 - c);
      Flat P(p + c, len), M(m + c, len), V(v + c, len);
      const Eigen::Map<const Eigen::ArrayXf> G(g + c, len);
      if (decoupled) P *= decay;
      if (!decoupled && wd != 0.0f) {
        M = M * beta1 + one_minus_beta1 * (G + wd * P);
        V = V * beta2 + (one_minus_beta2 * (G + wd * P)) * (G + wd * P);
      } else {
        M = M * beta1 + one_minus_beta1 * G;
        V = V * beta2 + (one_minus_beta2 * G) * G;
      }
      P = P + (neg_step_size * M) / (V.sqrt() / bias_correction2_sqrt + eps);
    }
  });
}

}  // namespace trainer
