#include "support/fixture_support.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "support/npy_test_reader_support.hpp"

namespace fixtures {

std::string train_dir() { return std::string(TRAINER_FIXTURES_DIR) + "/train"; }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  return nlohmann::json::parse(in);
}

namespace {

trainer::Activation activation_named(const std::string& name) {
  if (name == "relu") return trainer::Activation::relu;
  if (name == "tanh") return trainer::Activation::tanh;
  if (name == "sigmoid") return trainer::Activation::sigmoid;
  throw std::runtime_error("fixture activation " + name + " unknown to the test");
}

}  // namespace

ReferenceCase load_case(const std::string& name) {
  ReferenceCase c;
  c.name = name;
  c.dir = train_dir() + "/" + name;
  const nlohmann::json index = read_json(train_dir() + "/index.json");
  for (const auto& entry : index.at("cases"))
    if (entry.at("case") == name) c.entry = entry;
  if (c.entry.is_null()) throw std::runtime_error("case " + name + " not in index.json");
  const auto x = test_npy::read(c.dir + "/X.npy");
  c.rows = x.shape.at(0);
  c.features = x.shape.at(1);
  c.x = x.as_float();
  c.outputs = c.entry.at("outputs").get<std::int64_t>();
  const std::string loss = c.entry.at("loss");
  const auto y = test_npy::read(c.dir + "/y.npy");
  if (loss == "cross_entropy") {
    c.model.loss = trainer::Loss::cross_entropy;
    c.labels = y.as_int32();
  } else if (loss == "mse") {
    c.model.loss = trainer::Loss::mse;
    c.targets = y.as_float();  // [N] is [N, 1]; [N, T] stays row-major
  } else {
    throw std::runtime_error("fixture loss " + loss + " unknown to the test");
  }
  const auto activation = activation_named(c.entry.at("hidden_activation"));
  for (const auto& units : c.entry.at("hidden")) {
    trainer::LayerConfig layer;
    layer.units = units.get<std::int64_t>();
    layer.activation = activation;
    c.model.layers.push_back(layer);
  }
  trainer::LayerConfig last;
  last.units = c.outputs;
  c.model.layers.push_back(last);
  trainer::Network shape_only(c.model, c.features);
  c.init = load_flat_weights(c.dir + "/init", shape_only.layout());
  return c;
}

std::vector<float> load_flat_weights(const std::string& folder, const trainer::ParamLayout& layout) {
  std::vector<float> flat(static_cast<std::size_t>(layout.total));
  for (const auto& tensor : layout.tensors) {
    const auto a = test_npy::read(folder + "/" + tensor.name + ".npy");
    if (a.shape != tensor.shape) throw std::runtime_error(folder + "/" + tensor.name + ": shape differs from the layout");
    for (std::int64_t i = 0; i < tensor.count; ++i)
      flat[static_cast<std::size_t>(tensor.offset + i)] = static_cast<float>(a.values[static_cast<std::size_t>(i)]);
  }
  return flat;
}

trainer::OptimizerConfig optimizer_from(const nlohmann::json& h) {
  trainer::OptimizerConfig o;
  const std::string type = h.at("optimizer");
  o.type = type == "sgd" ? trainer::OptimizerConfig::Type::sgd
           : type == "adam" ? trainer::OptimizerConfig::Type::adam
                            : trainer::OptimizerConfig::Type::adamw;
  o.lr = h.at("lr");
  o.weight_decay = h.value("weight_decay", 0.0);
  o.momentum = h.value("momentum", 0.0);
  o.nesterov = h.value("nesterov", false);
  o.beta1 = h.value("beta1", 0.9);
  o.beta2 = h.value("beta2", 0.999);
  o.eps = h.value("eps", 1e-8);
  return o;
}

void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                 const std::string& what) {
  REQUIRE(got.size() == ref.size());
  std::size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double allowed = atol + rtol * std::abs(static_cast<double>(ref[i]));
    const double ratio = std::abs(static_cast<double>(got[i]) - ref[i]) / allowed;
    if (!(ratio <= 1.0)) ++bad;
    if (!(ratio <= worst_ratio)) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  INFO(what << ": " << bad << " of " << got.size() << " outside tolerance; worst [" << worst << "] got "
            << got[worst] << " ref " << ref[worst] << " (ratio " << worst_ratio << ")");
  CHECK(bad == 0);
}

}  // namespace fixtures
