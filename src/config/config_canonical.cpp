// The canonical form of a loaded config (every setting, defaults filled in) and the hash of
// its weight-shaping part that checkpoints carry (see config_hash in config.hpp).
#include "config_parts.hpp"

namespace trainer {
namespace config_detail {
namespace {

json files(const DataFiles& f) { return {{"x", f.x}, {"y", f.y}}; }

json batch(const BatchSpec& b) {
  switch (b.kind) {
    case BatchSpec::Kind::automatic: return "auto";
    case BatchSpec::Kind::full: return "full";
    case BatchSpec::Kind::fixed: break;
  }
  return b.n;
}

json ram(const SizeSpec& s) {
  switch (s.kind) {
    case SizeSpec::Kind::automatic: return "auto";
    case SizeSpec::Kind::none: return "none";
    case SizeSpec::Kind::bytes: break;
  }
  return s.bytes;
}

json layer(const LayerConfig& l) {
  if (l.type == LayerConfig::Type::dropout) return {{"type", "dropout"}, {"rate", l.rate}};
  return {{"type", "dense"}, {"units", l.units}, {"activation", to_string(l.activation)}};
}

}  // namespace

json canonical(const Config& c) {
  json data{{"train", files(c.data.train)},
            {"x_scale", c.data.x_scale},
            {"normalize", to_string(c.data.normalize)},
            {"shuffle", c.data.shuffle},
            {"drop_remainder", c.data.drop_remainder}};
  if (c.data.validation.present()) data["validation"] = files(c.data.validation);
  else data["validation_split"] = c.data.validation_split;
  if (c.data.test.present()) data["test"] = files(c.data.test);

  json layers = json::array();
  for (const auto& l : c.model.layers) layers.push_back(layer(l));
  json model{{"layers", layers}, {"loss", to_string(c.model.loss)},
             {"init", to_string(c.model.init)}};
  if (!c.model.init_from.empty()) model["init_from"] = c.model.init_from;

  const auto& o = c.optimizer;
  json optimizer{{"type", to_string(o.type)}, {"lr", o.lr}, {"weight_decay", o.weight_decay}};
  if (o.type == OptimizerConfig::Type::sgd) {
    optimizer["momentum"] = o.momentum;
    optimizer["nesterov"] = o.nesterov;
  } else {
    optimizer["beta1"] = o.beta1;
    optimizer["beta2"] = o.beta2;
    optimizer["eps"] = o.eps;
  }

  const auto& s = c.schedule;
  json schedule{{"type", to_string(s.type)}, {"warmup_epochs", s.warmup_epochs},
                {"step_epochs", s.step_epochs}, {"gamma", s.gamma}, {"min_lr", s.min_lr}};

  const auto& t = c.training;
  json training{{"epochs", t.epochs}, {"batch_size", batch(t.batch_size)},
                {"micro_batch", batch(t.micro_batch)}, {"seed", t.seed},
                {"threads", t.threads}};
  if (t.early_stopping.enabled) {
    training["early_stopping"] = {{"monitor", t.early_stopping.monitor},
                                  {"patience", t.early_stopping.patience},
                                  {"min_delta", t.early_stopping.min_delta}};
  }

  json memory{{"ram", ram(c.memory.ram)}, {"headroom", c.memory.headroom},
              {"verify", c.memory.verify}};

  return {{"data", data}, {"model", model}, {"optimizer", optimizer},
          {"schedule", schedule}, {"training", training}, {"memory", memory}};
}

}  // namespace config_detail

std::uint64_t config_hash(const Config& config) {
  const auto full = config_detail::canonical(config);
  const nlohmann::json shaping{
      {"model", {{"layers", full["model"]["layers"]}, {"loss", full["model"]["loss"]}}},
      {"optimizer", {{"type", full["optimizer"]["type"]}}},
      {"data", {{"x_scale", full["data"]["x_scale"]}, {"normalize", full["data"]["normalize"]}}}};
  // FNV-1a 64: tiny, stable across platforms and releases, enough to tell configs apart.
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char byte : shaping.dump()) {
    h ^= byte;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace trainer
