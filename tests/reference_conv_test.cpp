// Reproduces every PyTorch run of fixtures/public/conv at the model level: the network and the
// optimizer driven by a minimal test-side loop (file order, batches of batch_size with the last
// partial batch kept, micro-batches of micro_batch whose gradients add at 1/B, one step per
// batch). Checks the first batch's gradient, every step's loss, the per-epoch train and eval
// metrics, the final parameters (running statistics included) and the test logits.
// The fit-level counterpart (config -> fit -> exported weights, predict) is fit_conv_reference_test.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "support/conv_fixture_support.hpp"
#include "support/fixture_support.hpp"
#include "support/workspace_support.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"

namespace {

using nlohmann::json;
using conv_fixtures::ConvCase;

class Trainer {
 public:
  Trainer(const ConvCase& c, const trainer::OptimizerConfig& o)
      : c_(c),
        net_(c.model, c.input),
        opt_(o),
        params_(fixtures::load_flat_weights(c.dir + "/init", net_.layout())),
        grads_(static_cast<std::size_t>(net_.layout().trainable)),
        state_(grads_.size() * static_cast<std::size_t>(opt_.state_per_param())),
        train_ws_(trainer::Network::total(net_.plan_train(c.micro_batch))),
        eval_ws_(trainer::Network::total(net_.plan_eval(std::max(c.rows, c.test_rows)))) {
    net_.bind(params_.data(), grads_.data(), train_ws_.span(), c.micro_batch, eval_ws_.span(),
              std::max(c.rows, c.test_rows));
    opt_.bind_state(state_);
  }

  // Rows [begin, end) as one effective batch in micro-batches; returns the batch's stats.
  trainer::BatchStats batch(std::int64_t begin, std::int64_t end) {
    trainer::BatchStats total;
    for (std::int64_t m = begin; m < end; m += c_.micro_batch) {
      const std::int64_t rows = std::min(c_.micro_batch, end - m);
      const auto s = net_.train_micro_batch(c_.x.data() + m * c_.input.size(), c_.labels.data() + m, nullptr, rows,
                                            1.0f / static_cast<float>(end - begin), 0,
                                            m == begin ? trainer::Network::Gradients::overwrite
                                                       : trainer::Network::Gradients::accumulate);
      total.loss_sum += s.loss_sum;
      total.correct += s.correct;
      total.samples += s.samples;
    }
    return total;
  }
  void step(double lr) { opt_.step(std::span<float>(params_).first(grads_.size()), grads_, lr); }
  trainer::BatchStats evaluate(const std::vector<float>& x, const std::vector<std::int32_t>& labels, std::int64_t rows,
                               float* outputs = nullptr) {
    return net_.evaluate(x.data(), labels.data(), nullptr, rows, outputs);
  }
  const std::vector<float>& params() const { return params_; }
  const std::vector<float>& grads() const { return grads_; }
  const trainer::Network& net() const { return net_; }

 private:
  const ConvCase& c_;
  trainer::Network net_;
  trainer::Optimizer opt_;
  std::vector<float> params_, grads_, state_;
  test_ws::Aligned train_ws_, eval_ws_;
};

void check_loss(double got, double ref, const conv_fixtures::Tolerance& tol, const std::string& what) {
  INFO(what << ": got " << got << " ref " << ref);
  CHECK(std::abs(got - ref) <= tol.loss_atol + tol.loss_rtol * std::abs(ref));
}

void check_run(const std::string& case_name, const std::string& run) {
  const ConvCase c = conv_fixtures::load_case(case_name);
  const json ref = fixtures::read_json(c.dir + "/" + run + "/ref.json");
  const conv_fixtures::Tolerance tol = conv_fixtures::tolerance(ref);
  const trainer::OptimizerConfig o = fixtures::optimizer_from(ref.at("hyperparameters"));
  const std::int64_t n = c.rows, batch = c.batch_size;

  {  // backprop alone, on a trainer of its own (a training pass moves the running statistics)
    Trainer first(c, o);
    first.batch(0, std::min(batch, n));
    for (const auto& t : first.net().layout().tensors) {
      if (t.buffer) continue;
      const std::vector<float> got(first.grads().begin() + t.offset, first.grads().begin() + t.offset + t.count);
      fixtures::check_close(got, conv_fixtures::read_floats(c.dir + "/" + run + "/first_batch_grad/" + t.name + ".npy"),
                                 1e-6, 1e-4, "first batch gradient of " + t.name);
    }
  }

  Trainer tr(c, o);
  std::size_t k = 0;
  const auto& epochs = ref.at("epochs");
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    trainer::BatchStats epoch;
    for (std::int64_t begin = 0; begin < n; begin += batch, ++k) {
      const std::int64_t end = std::min(begin + batch, n);
      const auto s = tr.batch(begin, end);
      tr.step(o.lr);
      check_loss(s.loss_sum / static_cast<double>(end - begin), ref.at("step_loss").at(k), tol, "step " + std::to_string(k));
      CHECK(end - begin == ref.at("step_batch_size").at(k).get<std::int64_t>());
      epoch.loss_sum += s.loss_sum;
      epoch.correct += s.correct;
      epoch.samples += s.samples;
    }
    const auto& r = epochs.at(e);
    const std::string tag = "epoch " + std::to_string(e + 1);
    check_loss(epoch.loss_sum / static_cast<double>(n), r.at("train_loss"), tol, tag + " train_loss");
    CHECK(std::abs(static_cast<double>(epoch.correct) / static_cast<double>(n) - r.at("train_accuracy").get<double>()) * static_cast<double>(n) <=
          r.value("train_ambiguous_rows", 0.0) + 1e-6);
    const auto eval = tr.evaluate(c.x, c.labels, n);
    check_loss(eval.loss_sum / static_cast<double>(n), r.at("eval_loss"), tol, tag + " eval_loss");
    CHECK(std::abs(static_cast<double>(eval.correct) / static_cast<double>(n) - r.at("eval_accuracy").get<double>()) * static_cast<double>(n) <=
          r.value("eval_ambiguous_rows", 0.0) + 1e-6);
  }
  CHECK(k == ref.at("step_loss").size());
  fixtures::check_close(tr.params(), fixtures::load_flat_weights(c.dir + "/" + run + "/final", tr.net().layout()),
                             tol.weights_atol, tol.weights_rtol, "final parameters");

  std::vector<float> probabilities(static_cast<std::size_t>(c.test_rows * tr.net().outputs()));
  const auto test = tr.evaluate(c.x_test, c.labels_test, c.test_rows, probabilities.data());
  check_loss(test.loss_sum / static_cast<double>(c.test_rows), ref.at("test").at("loss"), tol, "test loss");
  conv_fixtures::check_logits(probabilities, conv_fixtures::read_floats(c.dir + "/" + run + "/test_logits.npy"),
                              tr.net().outputs(), 1e-4);
}

#define CONV_RUN(case_name, run) \
  TEST_CASE("PyTorch conv trajectory " case_name "/" run " is reproduced by the model", "[reference][image]") { check_run(case_name, run); }

}  // namespace

TRAINER_CONV_REFERENCE_RUNS(CONV_RUN)

TEST_CASE("every run of the conv fixtures' index.json has a reference test", "[reference][image]") {
#define RUN_DIR(case_name, run) case_name "/" run,
  const std::set<std::string> tested = {TRAINER_CONV_REFERENCE_RUNS(RUN_DIR)};
#undef RUN_DIR
  std::set<std::string> listed;
  const json index = fixtures::read_json(conv_fixtures::conv_dir() + "/index.json");
  for (const auto& c : index.at("cases"))
    for (const auto& r : c.at("runs")) listed.insert(r.at("dir").get<std::string>());
  CHECK(listed == tested);
}
