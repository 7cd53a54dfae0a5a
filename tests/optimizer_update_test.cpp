// Update rules of the optimizers, one step computed by hand per rule (in double, from the
// torch.optim formulas), and the learning-rate schedules.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "trainer/optimizer.hpp"

namespace {

using trainer::OptimizerConfig;
using trainer::ScheduleConfig;

struct Run {
  std::vector<float> p{0.5f, -1.0f, 2.0f};
  const std::vector<float> g1{0.1f, -0.2f, 0.3f};
  const std::vector<float> g2{-0.4f, 0.05f, 0.2f};
  std::vector<float> state;
};

// Two steps (g1 then g2) with lr 0.1, returning the parameters.
std::vector<float> two_steps(const OptimizerConfig& c, Run& r) {
  trainer::Optimizer opt(c);
  r.state.assign(r.p.size() * static_cast<std::size_t>(opt.state_per_param()), 0.0f);
  opt.bind_state(r.state);
  opt.step(r.p, r.g1, 0.1);
  opt.step(r.p, r.g2, 0.1);
  CHECK(opt.steps() == 2);
  return r.p;
}

void check_params(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("parameter " << i);
    CHECK(got[i] == Approx(want[i]).epsilon(1e-6).margin(1e-7));
  }
}

OptimizerConfig sgd(double momentum, bool nesterov, double wd) {
  OptimizerConfig c;
  c.type = OptimizerConfig::Type::sgd;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = wd;
  return c;
}

// The reference in double: torch.optim.SGD for two steps.
std::vector<double> sgd_by_hand(double mu, bool nesterov, double wd) {
  const double lr = 0.1;
  std::vector<double> p{0.5, -1.0, 2.0}, g1{0.1f, -0.2f, 0.3f}, g2{-0.4f, 0.05f, 0.2f};
  for (std::size_t i = 0; i < p.size(); ++i) {
    double buf = 0;
    for (int s = 0; s < 2; ++s) {
      double d = (s == 0 ? g1[i] : g2[i]) + wd * p[i];
      if (mu != 0) {
        buf = s == 0 ? d : mu * buf + d;
        d = nesterov ? d + mu * buf : buf;
      }
      p[i] -= lr * d;
    }
  }
  return p;
}

std::vector<double> adam_by_hand(double wd, bool decoupled) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<double> p{0.5, -1.0, 2.0}, g1{0.1f, -0.2f, 0.3f}, g2{-0.4f, 0.05f, 0.2f};
  for (std::size_t i = 0; i < p.size(); ++i) {
    double m = 0, v = 0;
    for (int t = 1; t <= 2; ++t) {
      double g = t == 1 ? g1[i] : g2[i];
      if (decoupled)
        p[i] *= 1 - lr * wd;
      else
        g += wd * p[i];
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps;
      p[i] -= lr / (1 - std::pow(b1, t)) * m / denom;
    }
  }
  return p;
}

}  // namespace

TEST_CASE("plain SGD steps p -= lr * g and keeps no state", "[optimizer]") {
  Run r;
  CHECK(trainer::Optimizer(sgd(0, false, 0)).state_per_param() == 0);
  check_params(two_steps(sgd(0, false, 0), r), sgd_by_hand(0, false, 0));
  check_params(r.p, {0.5 - 0.1 * (0.1f - 0.4f), -1.0 - 0.1 * (-0.2f + 0.05f), 2.0 - 0.1 * (0.3f + 0.2f)});
}

TEST_CASE("SGD momentum accumulates buf = mu * buf + d, without dampening", "[optimizer]") {
  Run r;
  check_params(two_steps(sgd(0.9, false, 0), r), sgd_by_hand(0.9, false, 0));
  CHECK(r.state[0] == Approx(0.9 * 0.1f + -0.4f));
}

TEST_CASE("SGD Nesterov steps along d + mu * buf", "[optimizer]") {
  Run r;
  check_params(two_steps(sgd(0.9, true, 0), r), sgd_by_hand(0.9, true, 0));
}

TEST_CASE("SGD weight decay is coupled into the gradient before momentum", "[optimizer]") {
  Run r;
  check_params(two_steps(sgd(0.9, false, 0.05), r), sgd_by_hand(0.9, false, 0.05));
}

TEST_CASE("Adam steps with torch's bias correction and eps outside sqrt(v_hat)", "[optimizer]") {
  OptimizerConfig c;
  c.type = OptimizerConfig::Type::adam;
  Run r;
  CHECK(trainer::Optimizer(c).state_per_param() == 2);
  check_params(two_steps(c, r), adam_by_hand(0, false));
  // first step of Adam moves every parameter by lr * sign(g) (up to eps)
  Run one;
  trainer::Optimizer opt(c);
  one.state.assign(6, 0.0f);
  opt.bind_state(one.state);
  opt.step(one.p, one.g1, 0.1);
  check_params(one.p, {0.4, -0.9, 1.9});
}

TEST_CASE("Adam with weight decay adds L2 to the gradient (into m and v)", "[optimizer]") {
  OptimizerConfig c;
  c.type = OptimizerConfig::Type::adam;
  c.weight_decay = 0.1;
  Run r;
  check_params(two_steps(c, r), adam_by_hand(0.1, false));
}

TEST_CASE("AdamW decays p *= 1 - lr * wd before the Adam step", "[optimizer]") {
  OptimizerConfig c;
  c.type = OptimizerConfig::Type::adamw;
  c.weight_decay = 0.1;
  Run r;
  check_params(two_steps(c, r), adam_by_hand(0.1, true));
}

TEST_CASE("set_steps restores the bias-correction step counter", "[optimizer]") {
  OptimizerConfig c;
  c.type = OptimizerConfig::Type::adam;
  Run straight;
  const auto expected = two_steps(c, straight);
  // step 1, then a "resumed" optimizer with the saved state continues at t = 2
  Run resumed;
  resumed.state.assign(6, 0.0f);
  trainer::Optimizer first(c);
  first.bind_state(resumed.state);
  first.step(resumed.p, resumed.g1, 0.1);
  trainer::Optimizer second(c);
  second.bind_state(resumed.state);
  second.set_steps(first.steps());
  second.step(resumed.p, resumed.g2, 0.1);
  CHECK(resumed.p == expected);
}

TEST_CASE("SGD with momentum converges on a quadratic to its minimum", "[optimizer]") {
  // f(p) = 0.5 * sum (p - target)^2 has gradient p - target
  std::vector<float> p{5.0f, -3.0f}, g(2), state(2, 0.0f);
  const std::vector<float> target{1.0f, 2.0f};
  trainer::Optimizer opt(sgd(0.9, true, 0));
  opt.bind_state(state);
  for (int k = 0; k < 300; ++k) {
    for (std::size_t i = 0; i < p.size(); ++i) g[i] = p[i] - target[i];
    opt.step(p, g, 0.05);
  }
  CHECK(p[0] == Approx(1.0).margin(1e-4));
  CHECK(p[1] == Approx(2.0).margin(1e-4));
}

TEST_CASE("constant schedule keeps lr and warm-up rises linearly from 0 over fractional epochs", "[optimizer]") {
  OptimizerConfig o;
  o.lr = 0.2;
  ScheduleConfig s;
  CHECK(trainer::scheduled_lr(o, s, 10, 0.0) == Approx(0.2));
  CHECK(trainer::scheduled_lr(o, s, 10, 7.5) == Approx(0.2));
  s.warmup_epochs = 0.5;
  CHECK(trainer::scheduled_lr(o, s, 10, 0.0) == Approx(0.0));
  CHECK(trainer::scheduled_lr(o, s, 10, 0.125) == Approx(0.05));
  CHECK(trainer::scheduled_lr(o, s, 10, 0.25) == Approx(0.1));
  CHECK(trainer::scheduled_lr(o, s, 10, 0.5) == Approx(0.2));
  CHECK(trainer::scheduled_lr(o, s, 10, 3.0) == Approx(0.2));
}

TEST_CASE("step schedule multiplies lr by gamma every step_epochs", "[optimizer]") {
  OptimizerConfig o;
  o.lr = 0.1;
  ScheduleConfig s;
  s.type = ScheduleConfig::Type::step;
  s.step_epochs = 3;
  s.gamma = 0.5;
  CHECK(trainer::scheduled_lr(o, s, 10, 0.0) == Approx(0.1));
  CHECK(trainer::scheduled_lr(o, s, 10, 2.99) == Approx(0.1));
  CHECK(trainer::scheduled_lr(o, s, 10, 3.0) == Approx(0.05));
  CHECK(trainer::scheduled_lr(o, s, 10, 6.5) == Approx(0.025));
  s.warmup_epochs = 1;
  CHECK(trainer::scheduled_lr(o, s, 10, 0.5) == Approx(0.05));
  CHECK(trainer::scheduled_lr(o, s, 10, 1.0) == Approx(0.1));
}

TEST_CASE("cosine schedule falls from lr to min_lr over the epochs after warm-up", "[optimizer]") {
  OptimizerConfig o;
  o.lr = 0.1;
  ScheduleConfig s;
  s.type = ScheduleConfig::Type::cosine;
  s.min_lr = 0.01;
  s.warmup_epochs = 2;
  CHECK(trainer::scheduled_lr(o, s, 10, 1.0) == Approx(0.05));  // warm-up
  CHECK(trainer::scheduled_lr(o, s, 10, 2.0) == Approx(0.1));
  CHECK(trainer::scheduled_lr(o, s, 10, 6.0) == Approx(0.055));  // half way: (0.1 + 0.01) / 2
  CHECK(trainer::scheduled_lr(o, s, 10, 4.0) == Approx(0.01 + 0.09 * 0.5 * (1 + std::cos(M_PI / 4))));
  CHECK(trainer::scheduled_lr(o, s, 10, 10.0) == Approx(0.01));
  CHECK(trainer::scheduled_lr(o, s, 10, 12.0) == Approx(0.01));
}
