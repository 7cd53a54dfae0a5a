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

json extent(const Extent& e) { return e.h == e.w ? json(e.h) : json{e.h, e.w}; }

// Keys that older configs did not have appear only when they differ from the default, so the
// hash of an MLP config (and of its checkpoints) is what it was before image layers existed.
json layer(const LayerConfig& l) {
  using T = LayerConfig::Type;
  json j{{"type", to_string(l.type)}};
  switch (l.type) {
    case T::dropout: j["rate"] = l.rate; break;
    case T::dense:
      j["units"] = l.units;
      j["activation"] = to_string(l.activation);
      if (!l.bias) j["bias"] = false;
      break;
    case T::conv2d:
      j["filters"] = l.filters;
      j["kernel"] = extent(l.kernel);
      j["stride"] = extent(l.stride);
      // Only "same" pads unevenly (an even kernel), so the canonical form reloads as it was.
      j["padding"] = l.pad_begin == l.pad_end ? extent(l.pad_begin) : json("same");
      j["activation"] = to_string(l.activation);
      j["bias"] = l.bias;
      break;
    case T::max_pool2d:
    case T::avg_pool2d:
      j["size"] = extent(l.size);
      j["stride"] = extent(l.stride);
      break;
    case T::batch_norm:
      j["momentum"] = l.momentum;
      j["eps"] = l.eps;
      j["activation"] = to_string(l.activation);
      break;
    case T::global_avg_pool:
    case T::flatten: break;
  }
  return j;
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
  if (c.data.layout != Layout::nhwc) data["layout"] = to_string(c.data.layout);
  if (!c.data.image_shape.empty()) data["image_shape"] = c.data.image_shape;
  if (c.data.augment.enabled())
    data["augment"] = {{"flip", c.data.augment.flip}, {"crop_padding", c.data.augment.crop_padding}};

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
  nlohmann::json shaping{
      {"model", {{"layers", full["model"]["layers"]}, {"loss", full["model"]["loss"]}}},
      {"optimizer", {{"type", full["optimizer"]["type"]}}},
      {"data", {{"x_scale", full["data"]["x_scale"]}, {"normalize", full["data"]["normalize"]}}}};
  // How pixels are laid out changes what the weights mean; absent for MLP configs, as before.
  for (const char* key : {"layout", "image_shape"})
    if (full["data"].contains(key)) shaping["data"][key] = full["data"][key];
  // FNV-1a 64: tiny, stable across platforms and releases, enough to tell configs apart.
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char byte : shaping.dump()) {
    h ^= byte;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace trainer
