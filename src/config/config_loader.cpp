// The config's schema of keys: which keys each object may hold, their types, defaults and
// ranges, read into the typed settings of config.hpp. configs/trainer.schema.json states the
// same rules for editors; tests/schema_test.cpp and scripts/check-schema.py keep them agreeing.
#include <algorithm>
#include <cmath>
#include <limits>

#include "config_parts.hpp"
#include "json_reader.hpp"
#include "trainer/size.hpp"

namespace trainer {
namespace {

using config_detail::json;
using config_detail::ObjectView;

struct Range {
  double lo;
  bool lo_inclusive;
  double hi;  // exclusive
  const char* valid;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Range kPositive{0.0, false, kInf, "a number > 0"};
constexpr Range kNonNegative{0.0, true, kInf, "a number >= 0"};
constexpr Range kFraction{0.0, true, 1.0, "a number in [0, 1)"};

double ranged(const ObjectView& o, const std::string& key, double fallback, const Range& r) {
  const double v = o.number(key, fallback);
  const bool ok = std::isfinite(v) && (r.lo_inclusive ? v >= r.lo : v > r.lo) && v < r.hi;
  if (!ok) throw o.error(key, "value " + o.raw(key).dump() + " is out of range", r.valid);
  return v;
}

std::int64_t at_least(const ObjectView& o, const std::string& key, std::int64_t fallback,
                      std::int64_t min) {
  const std::int64_t v = o.integer(key, fallback);
  if (v < min) {
    throw o.error(key, "value " + std::to_string(v) + " is out of range",
                  "an integer >= " + std::to_string(min));
  }
  return v;
}

DataFiles read_files(const ObjectView& o) {
  o.allow_only({"x", "y"});
  return {o.required_string("x"), o.required_string("y")};
}

DataConfig read_data(const ObjectView& o) {
  o.allow_only({"train", "validation", "validation_split", "test", "x_scale", "normalize",
                "shuffle", "drop_remainder", "layout", "image_shape", "augment"});
  DataConfig d;
  d.train = read_files(o.object("train"));
  if (auto v = o.optional_object("validation")) d.validation = read_files(*v);
  if (o.has("validation") && o.has("validation_split")) {
    throw o.error("validation_split", "`validation` and `validation_split` are both given",
                  "give either validation files or a fraction of train to hold out, not both");
  }
  d.validation_split = ranged(o, "validation_split", d.validation_split, kFraction);
  if (auto t = o.optional_object("test")) d.test = read_files(*t);
  d.x_scale = ranged(o, "x_scale", d.x_scale, kPositive);
  d.normalize = o.choice("normalize", d.normalize, config_detail::normalize_names());
  d.shuffle = o.boolean("shuffle", d.shuffle);
  d.drop_remainder = o.boolean("drop_remainder", d.drop_remainder);
  d.layout = o.choice("layout", d.layout, config_detail::layout_names());
  if (o.has("image_shape")) {
    const json& v = o.raw("image_shape");
    const std::string want = "[H, W, C], three integers >= 1";
    if (!v.is_array() || v.size() != 3) throw o.error("image_shape", "expected [H, W, C], got " + v.dump(), want);
    for (const json& e : v) {
      if (!e.is_number_integer() || e.get<std::int64_t>() < 1)
        throw o.error("image_shape", "expected [H, W, C], got " + v.dump(), want);
      d.image_shape.push_back(e.get<std::int64_t>());
    }
  }
  if (auto a = o.optional_object("augment")) {
    a->allow_only({"flip", "crop_padding"});
    d.augment.flip = a->boolean("flip", false);
    d.augment.crop_padding = at_least(*a, "crop_padding", 0, 0);
  }
  return d;
}

// A height and width: a number (both) or [h, w], each an integer in [min, 2^20] (larger sides
// would overflow the shape arithmetic long before any image needs them).
Extent read_extent(const ObjectView& o, const std::string& key, Extent fallback, std::int64_t min) {
  if (!o.has(key)) return fallback;
  const json& v = o.raw(key);
  constexpr std::int64_t kMax = std::int64_t{1} << 20;
  const std::string want = "an integer from " + std::to_string(min) + " to " + std::to_string(kMax) + " or [h, w] of them";
  auto one = [&](const json& e) {
    if (!e.is_number_integer() || e.get<std::int64_t>() < min || e.get<std::int64_t>() > kMax)
      throw o.error(key, "value " + v.dump() + " is not " + want, want);
    return e.get<std::int64_t>();
  };
  if (v.is_array()) {
    if (v.size() != 2) throw o.error(key, "expected [h, w], got " + v.dump(), want);
    return {one(v[0]), one(v[1])};
  }
  if (!v.is_number()) throw o.error(key, "expected a number or [h, w], got " + config_detail::type_name(v), want);
  const std::int64_t n = one(v);
  return {n, n};
}

void read_conv2d(const ObjectView& o, LayerConfig& layer) {
  o.allow_only({"type", "filters", "kernel", "stride", "padding", "activation", "bias"}, "for a conv2d layer");
  if (!o.has("filters")) throw o.error("filters", "missing required key `filters`", "an integer >= 1");
  layer.filters = at_least(o, "filters", 0, 1);
  layer.kernel = read_extent(o, "kernel", layer.kernel, 1);
  layer.stride = read_extent(o, "stride", {1, 1}, 1);
  layer.activation = o.choice("activation", layer.activation, config_detail::activation_names());
  layer.bias = o.boolean("bias", layer.bias);
  if (!o.has("padding")) return;
  const json& p = o.raw("padding");
  if (p.is_string()) {
    const std::string word = p.get<std::string>();
    if (word == "valid") return;
    if (word != "same") throw o.unknown_value("padding", word, {"same", "valid"});
    if (layer.stride != Extent{1, 1})
      throw o.error("padding", "\"same\" padding with stride " + o.raw("stride").dump(),
                    "stride 1 with \"same\", or a number of zeros such as \"padding\": 1");
    layer.pad_begin = {(layer.kernel.h - 1) / 2, (layer.kernel.w - 1) / 2};
    layer.pad_end = {layer.kernel.h - 1 - layer.pad_begin.h, layer.kernel.w - 1 - layer.pad_begin.w};
    return;
  }
  layer.pad_begin = layer.pad_end = read_extent(o, "padding", {0, 0}, 0);
}

LayerConfig read_layer(const ObjectView& o) {
  using Type = LayerConfig::Type;
  const auto& types = config_detail::layer_type_names();
  if (!o.has("type")) {
    std::vector<std::string> names;
    for (const auto& [name, type] : types) names.push_back(name);
    throw o.error("type", "missing required key `type`", config_detail::list_names(names));
  }
  LayerConfig layer;
  layer.type = o.choice("type", Type::dense, types);
  const std::string context = std::string("for a ") + to_string(layer.type) + " layer";
  switch (layer.type) {
    case Type::dense:
      o.allow_only({"type", "units", "activation", "bias"}, context);
      if (!o.has("units")) throw o.error("units", "missing required key `units`", "an integer >= 1");
      layer.units = at_least(o, "units", 0, 1);
      layer.activation = o.choice("activation", layer.activation, config_detail::activation_names());
      layer.bias = o.boolean("bias", layer.bias);
      break;
    case Type::dropout:
      o.allow_only({"type", "rate"}, context);
      if (!o.has("rate")) throw o.error("rate", "missing required key `rate`", kFraction.valid);
      layer.rate = ranged(o, "rate", 0.0, kFraction);
      break;
    case Type::conv2d: read_conv2d(o, layer); break;
    case Type::max_pool2d:
    case Type::avg_pool2d:
      o.allow_only({"type", "size", "stride"}, context);
      if (!o.has("size")) throw o.error("size", "missing required key `size`", "an integer >= 1 or [h, w] of them");
      layer.size = read_extent(o, "size", layer.size, 1);
      layer.stride = read_extent(o, "stride", layer.size, 1);
      break;
    case Type::batch_norm:
      o.allow_only({"type", "momentum", "eps", "activation"}, context);
      layer.momentum = o.number("momentum", layer.momentum);
      if (!(layer.momentum >= 0.0 && layer.momentum <= 1.0))
        throw o.error("momentum", "value " + o.raw("momentum").dump() + " is out of range", "a number in [0, 1]");
      layer.eps = ranged(o, "eps", layer.eps, kPositive);
      layer.activation = o.choice("activation", layer.activation, config_detail::activation_names());
      break;
    case Type::global_avg_pool:
    case Type::flatten: o.allow_only({"type"}, context); break;
  }
  return layer;
}

ModelConfig read_model(const ObjectView& o) {
  o.allow_only({"layers", "loss", "init", "init_from"});
  ModelConfig m;
  const std::string want = "a list of layers ending in {\"type\": \"dense\", \"units\": N}";
  if (!o.has("layers")) throw o.error("layers", "missing required key `layers`", want);
  const json& layers = o.raw("layers");
  if (!layers.is_array()) {
    throw o.error("layers", "expected an array, got " + config_detail::type_name(layers), want);
  }
  if (layers.empty()) throw o.error("layers", "no layers", want);
  const std::string layers_ptr = o.pointer_of("layers");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    m.layers.push_back(read_layer(ObjectView(layers[i], layers_ptr + "/" + std::to_string(i),
                                             o.source())));
  }
  if (m.layers.back().type != LayerConfig::Type::dense) {
    throw o.error("layers", "the last layer is not dense",
                  "the output layer must be {\"type\": \"dense\", \"units\": N}");
  }
  m.loss = o.choice("loss", m.loss, config_detail::loss_names());
  m.init = o.choice("init", m.init, config_detail::init_names());
  if (o.has("init_from")) m.init_from = o.required_string("init_from");
  return m;
}

OptimizerConfig read_optimizer(const ObjectView& o) {
  using Type = OptimizerConfig::Type;
  OptimizerConfig opt;
  opt.type = o.choice("type", opt.type, config_detail::optimizer_names());
  if (opt.type == Type::sgd) {
    o.allow_only({"type", "lr", "momentum", "nesterov", "weight_decay"}, "for sgd");
    opt.lr = ranged(o, "lr", 0.01, kPositive);
    opt.momentum = ranged(o, "momentum", opt.momentum, kFraction);
    opt.nesterov = o.boolean("nesterov", opt.nesterov);
  } else {
    o.allow_only({"type", "lr", "beta1", "beta2", "eps", "weight_decay"},
                 std::string("for ") + to_string(opt.type));
    opt.lr = ranged(o, "lr", opt.lr, kPositive);
    opt.beta1 = ranged(o, "beta1", opt.beta1, kFraction);
    opt.beta2 = ranged(o, "beta2", opt.beta2, kFraction);
    opt.eps = ranged(o, "eps", opt.eps, kPositive);
  }
  opt.weight_decay = ranged(o, "weight_decay", opt.weight_decay, kNonNegative);
  return opt;
}

ScheduleConfig read_schedule(const ObjectView& o) {
  o.allow_only({"type", "warmup_epochs", "step_epochs", "gamma", "min_lr"});
  ScheduleConfig s;
  s.type = o.choice("type", s.type, config_detail::schedule_names());
  s.warmup_epochs = ranged(o, "warmup_epochs", s.warmup_epochs, kNonNegative);
  s.step_epochs = at_least(o, "step_epochs", s.step_epochs, 1);
  s.gamma = ranged(o, "gamma", s.gamma, kPositive);
  s.min_lr = ranged(o, "min_lr", s.min_lr, kNonNegative);
  return s;
}

// A batch size: an integer >= 1, "auto", or (when allowed) "full".
BatchSpec read_batch(const ObjectView& o, const std::string& key, BatchSpec fallback,
                     bool allow_full) {
  if (!o.has(key)) return fallback;
  const json& v = o.raw(key);
  std::vector<std::string> words{"auto"};
  if (allow_full) words.push_back("full");
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    if (text == "auto") return {BatchSpec::Kind::automatic, 0};
    if (allow_full && text == "full") return {BatchSpec::Kind::full, 0};
    throw o.unknown_value(key, text, words);
  }
  if (!v.is_number()) {
    throw o.error(key, "expected an integer or a string, got " + config_detail::type_name(v),
                  "an integer >= 1 or " + config_detail::list_names(words));
  }
  return {BatchSpec::Kind::fixed, at_least(o, key, 0, 1)};
}

EarlyStoppingConfig read_early_stopping(const ObjectView& o) {
  o.allow_only({"monitor", "patience", "min_delta"});
  EarlyStoppingConfig e;
  e.enabled = true;
  if (o.has("monitor")) {
    e.monitor = o.string("monitor", e.monitor);
    const auto& valid = config_detail::monitor_names();
    if (std::find(valid.begin(), valid.end(), e.monitor) == valid.end()) {
      throw o.unknown_value("monitor", e.monitor, valid);
    }
  }
  e.patience = at_least(o, "patience", e.patience, 0);
  e.min_delta = ranged(o, "min_delta", e.min_delta, kNonNegative);
  return e;
}

TrainingConfig read_training(const ObjectView& o) {
  o.allow_only({"epochs", "batch_size", "micro_batch", "seed", "threads", "early_stopping"});
  TrainingConfig t;
  t.epochs = at_least(o, "epochs", t.epochs, 1);
  t.batch_size = read_batch(o, "batch_size", t.batch_size, true);
  t.micro_batch = read_batch(o, "micro_batch", t.micro_batch, false);
  t.seed = static_cast<std::uint64_t>(at_least(o, "seed", static_cast<std::int64_t>(t.seed), 0));
  t.threads = at_least(o, "threads", t.threads, 0);
  if (auto e = o.optional_object("early_stopping")) t.early_stopping = read_early_stopping(*e);
  return t;
}

MemoryConfig read_memory(const ObjectView& o) {
  o.allow_only({"ram", "headroom", "verify"});
  MemoryConfig m;
  if (o.has("ram")) {
    const json& v = o.raw("ram");
    const std::string where = at_key(o.source(), o.pointer_of("ram"));
    if (v.is_string()) {
      m.ram = parse_size(v.get<std::string>(), where);
    } else if (v.is_number_unsigned()) {
      // The full uint64 range, as "16E"-style strings allow: the canonical config (which
      // checkpoints store and predict reloads) writes any byte budget as an integer.
      m.ram = {SizeSpec::Kind::bytes, v.get<std::uint64_t>()};
    } else if (v.is_number()) {
      m.ram = {SizeSpec::Kind::bytes, static_cast<std::uint64_t>(at_least(o, "ram", 0, 0))};
    } else {
      throw o.error("ram", "expected a string or an integer, got " + config_detail::type_name(v),
                    "12G, 12GB, 12GiB, 512M, 1.5G, 1073741824, auto, none");
    }
  }
  m.headroom = ranged(o, "headroom", m.headroom, kFraction);
  m.verify = o.boolean("verify", m.verify);
  return m;
}

}  // namespace

Config load_config_text(const std::string& text, const std::string& source,
                        const std::string& base_dir) {
  const json doc = config_detail::parse_json(text, source);
  const ObjectView root(doc, "", source);
  root.allow_only({"$schema", "data", "model", "optimizer", "schedule", "training", "memory"});
  Config config;
  config.source = source;
  config.base_dir = base_dir;
  (void)root.string("$schema", {});  // only for editors; must still be a string
  config.data = read_data(root.object("data"));
  config.model = read_model(root.object("model"));
  if (config.data.augment.enabled() && !is_image_model(config.model)) {
    throw root.object("data").error("augment", "augmentation of a model without image layers",
                                    "a model with conv2d, pooling, global_avg_pool or flatten layers, or no augment");
  }
  if (auto o = root.optional_object("optimizer")) config.optimizer = read_optimizer(*o);
  if (auto o = root.optional_object("schedule")) config.schedule = read_schedule(*o);
  if (auto o = root.optional_object("training")) config.training = read_training(*o);
  if (auto o = root.optional_object("memory")) config.memory = read_memory(*o);
  config.canonical_json = config_detail::canonical(config).dump(2);
  config_detail::resolve_paths(config);
  return config;
}

}  // namespace trainer
