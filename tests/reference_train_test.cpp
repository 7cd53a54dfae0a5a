// Reproduces every PyTorch trajectory of fixtures/public/train with the network and the
// optimizers, through a minimal test-side loop: file order, batches of batch_size with the
// last partial batch kept, grad_scale = 1/B_k, one optimizer step per batch, constant lr.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "support/fixture_support.hpp"
#include "support/npy_test_reader_support.hpp"
#include "support/reference_runs.hpp"
#include "support/workspace_support.hpp"
#include "trainer/model.hpp"
#include "trainer/optimizer.hpp"

namespace {

using nlohmann::json;
using fixtures::check_close;
using fixtures::optimizer_from;

struct Tolerance {
  double weight_atol, weight_rtol, loss_atol, loss_rtol;
};

class Trainer {
 public:
  Trainer(const fixtures::ReferenceCase& c, const trainer::OptimizerConfig& o, std::int64_t max_batch)
      : c_(c),
        net_(c.model, c.features),
        opt_(o),
        params_(c.init),
        grads_(params_.size()),
        state_(params_.size() * static_cast<std::size_t>(opt_.state_per_param())),
        train_ws_(trainer::Network::total(net_.plan_train(max_batch))),
        eval_ws_(trainer::Network::total(net_.plan_eval(c.rows))) {
    net_.bind(params_.data(), grads_.data(), train_ws_.span(), max_batch, eval_ws_.span(), c.rows);
    opt_.bind_state(state_);
  }

  // Adds the gradient of rows [begin, end) weighted by 1/scale_rows.
  trainer::BatchStats accumulate(std::int64_t begin, std::int64_t end, std::int64_t scale_rows) {
    const std::int32_t* labels = c_.labels.empty() ? nullptr : c_.labels.data() + begin;
    const float* targets = c_.targets.empty() ? nullptr : c_.targets.data() + begin * c_.outputs;
    return net_.train_micro_batch(c_.x.data() + begin * c_.features, labels, targets, end - begin,
                                  1.0f / static_cast<float>(scale_rows), 0);
  }
  void zero_grads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }
  void step(double lr) { opt_.step(params_, grads_, lr); }
  trainer::BatchStats evaluate_all() {
    return net_.evaluate(c_.x.data(), c_.labels.empty() ? nullptr : c_.labels.data(),
                         c_.targets.empty() ? nullptr : c_.targets.data(), c_.rows, nullptr);
  }
  const std::vector<float>& params() const { return params_; }
  const std::vector<float>& grads() const { return grads_; }
  const trainer::ParamLayout& layout() const { return net_.layout(); }

 private:
  const fixtures::ReferenceCase& c_;
  trainer::Network net_;
  trainer::Optimizer opt_;
  std::vector<float> params_, grads_, state_;
  test_ws::Aligned train_ws_, eval_ws_;
};

void check_loss(double got, double ref, const Tolerance& tol, const std::string& what) {
  INFO(what << ": got " << got << " ref " << ref);
  CHECK(std::abs(got - ref) <= tol.loss_atol + tol.loss_rtol * std::abs(ref));
}

void check_accuracy(const trainer::BatchStats& s, const json& ref_accuracy, const json& ambiguous,
                    const std::string& what) {
  if (ref_accuracy.is_null()) return;
  const double differing = std::abs(static_cast<double>(s.correct) / static_cast<double>(s.samples) -
                                    ref_accuracy.get<double>()) * static_cast<double>(s.samples);
  INFO(what << ": correct " << s.correct << " of " << s.samples << ", ref accuracy " << ref_accuracy);
  CHECK(differing <= ambiguous.get<double>() + 1e-6);
}

void check_run(const std::string& case_name, const std::string& run) {
  const fixtures::ReferenceCase c = fixtures::load_case(case_name);
  const json ref = fixtures::read_json(c.dir + "/" + run + "/ref.json");
  const auto& t = ref.at("tolerance");
  const Tolerance tol{t.at("weight_atol"), t.at("weight_rtol"), t.at("loss_atol"), t.at("loss_rtol")};
  const trainer::OptimizerConfig o = optimizer_from(ref.at("hyperparameters"));
  const std::int64_t batch = ref.at("batch_size");
  const std::int64_t epochs = ref.at("epochs");
  const std::int64_t n = c.rows;
  const auto& ref32 = ref.at("float32");

  Trainer tr(c, o, batch);
  {  // backprop alone: the first batch's gradient at the initial weights
    tr.zero_grads();
    tr.accumulate(0, std::min(batch, n), std::min(batch, n));
    check_close(tr.grads(), test_npy::read(c.dir + "/grad_first_batch_flat.npy").as_float(), 1e-6, 1e-4,
                "first batch gradient");
  }
  const auto initial = tr.evaluate_all();
  check_loss(initial.loss_sum / static_cast<double>(n), ref32.at("initial_eval").at("loss"), tol, "initial eval loss");

  std::size_t k = 0;
  for (std::int64_t e = 0; e < epochs; ++e) {
    trainer::BatchStats epoch;
    for (std::int64_t begin = 0; begin < n; begin += batch, ++k) {
      const std::int64_t end = std::min(begin + batch, n);
      tr.zero_grads();
      const auto s = tr.accumulate(begin, end, end - begin);
      tr.step(o.lr);
      check_loss(s.loss_sum / static_cast<double>(end - begin), ref32.at("step_loss").at(k), tol,
                 "step " + std::to_string(k) + " loss");
      epoch.loss_sum += s.loss_sum;
      epoch.correct += s.correct;
      epoch.samples += s.samples;
    }
    const auto& ref_epoch = ref32.at("epochs").at(static_cast<std::size_t>(e));
    const std::string tag = "epoch " + std::to_string(e + 1);
    check_loss(epoch.loss_sum / static_cast<double>(n), ref_epoch.at("train_loss"), tol, tag + " train_loss");
    check_accuracy(epoch, ref_epoch.at("train_accuracy"), ref_epoch.at("train_ambiguous_rows"), tag + " train_accuracy");
    const auto eval = tr.evaluate_all();
    check_loss(eval.loss_sum / static_cast<double>(n), ref_epoch.at("eval_loss"), tol, tag + " eval_loss");
    check_accuracy(eval, ref_epoch.at("eval_accuracy"), ref_epoch.at("eval_ambiguous_rows"), tag + " eval_accuracy");
  }
  CHECK(k == ref32.at("step_loss").size());
  const auto final_ref = fixtures::load_flat_weights(c.dir + "/" + run + "/final", tr.layout());
  check_close(tr.params(), final_ref, tol.weight_atol, tol.weight_rtol, "final weights");

  if (ref.contains("grad_accum") && !ref.at("grad_accum").is_null()) {
    // the same full-batch steps, each accumulated over micro-batches weighted n_micro / N
    const std::int64_t micro = ref.at("grad_accum").at("micro_batch");
    REQUIRE(batch == n);
    Trainer acc(c, o, micro);
    for (std::int64_t e = 0; e < epochs; ++e) {
      acc.zero_grads();
      for (std::int64_t begin = 0; begin < n; begin += micro) acc.accumulate(begin, std::min(begin + micro, n), n);
      acc.step(o.lr);
    }
    check_close(acc.params(), final_ref, tol.weight_atol, tol.weight_rtol, "final weights, micro-batches of 16");
  }
}

#define REFERENCE_RUN(case_name, run)                                                      \
  TEST_CASE("PyTorch trajectory " case_name "/" run " is reproduced", "[reference]") { \
    check_run(case_name, run);                                                             \
  }

}  // namespace

TRAINER_REFERENCE_RUNS(REFERENCE_RUN)

TEST_CASE("every run of the fixtures' index.json has a reference test above", "[reference]") {
  // a new fixture run must not go untested: the list above must name every run of the index
#define RUN_DIR(case_name, run) case_name "/" run,
  const std::set<std::string> tested = {TRAINER_REFERENCE_RUNS(RUN_DIR)};
#undef RUN_DIR
  std::set<std::string> listed;
  const auto index = fixtures::read_json(fixtures::train_dir() + "/index.json");
  for (const auto& c : index.at("cases"))
    for (const auto& r : c.at("runs")) listed.insert(r.at("dir").get<std::string>());
  CHECK(listed == tested);
}
