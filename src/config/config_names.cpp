// The spelling of every enumerated config value, in the order messages list them.
#include "config_parts.hpp"

namespace trainer {
namespace config_detail {

const NameTable<Activation>& activation_names() {
  static const NameTable<Activation> t{{"relu", Activation::relu},
                                       {"leaky_relu", Activation::leaky_relu},
                                       {"tanh", Activation::tanh},
                                       {"sigmoid", Activation::sigmoid},
                                       {"gelu", Activation::gelu},
                                       {"linear", Activation::linear}};
  return t;
}

const NameTable<Loss>& loss_names() {
  static const NameTable<Loss> t{{"cross_entropy", Loss::cross_entropy},
                                 {"mse", Loss::mse},
                                 {"binary_cross_entropy", Loss::binary_cross_entropy}};
  return t;
}

const NameTable<Init>& init_names() {
  static const NameTable<Init> t{{"he_uniform", Init::he_uniform},
                                 {"he_normal", Init::he_normal},
                                 {"glorot_uniform", Init::glorot_uniform},
                                 {"glorot_normal", Init::glorot_normal}};
  return t;
}

const NameTable<Normalize>& normalize_names() {
  static const NameTable<Normalize> t{{"none", Normalize::none},
                                      {"standardize", Normalize::standardize}};
  return t;
}

const NameTable<Layout>& layout_names() {
  static const NameTable<Layout> t{{"nhwc", Layout::nhwc}, {"nchw", Layout::nchw}};
  return t;
}

const NameTable<LayerConfig::Type>& layer_type_names() {
  using T = LayerConfig::Type;
  static const NameTable<T> t{{"dense", T::dense},           {"dropout", T::dropout},
                              {"conv2d", T::conv2d},         {"max_pool2d", T::max_pool2d},
                              {"avg_pool2d", T::avg_pool2d}, {"global_avg_pool", T::global_avg_pool},
                              {"batch_norm", T::batch_norm}, {"flatten", T::flatten}};
  return t;
}

const NameTable<OptimizerConfig::Type>& optimizer_names() {
  using T = OptimizerConfig::Type;
  static const NameTable<T> t{{"sgd", T::sgd}, {"adam", T::adam}, {"adamw", T::adamw}};
  return t;
}

const NameTable<ScheduleConfig::Type>& schedule_names() {
  using T = ScheduleConfig::Type;
  static const NameTable<T> t{{"constant", T::constant}, {"step", T::step}, {"cosine", T::cosine}};
  return t;
}

const std::vector<std::string>& monitor_names() {
  static const std::vector<std::string> t{"val_loss", "val_accuracy", "train_loss"};
  return t;
}

}  // namespace config_detail

const char* to_string(Activation a) { return config_detail::name_of(config_detail::activation_names(), a); }
const char* to_string(Loss l) { return config_detail::name_of(config_detail::loss_names(), l); }
const char* to_string(Init i) { return config_detail::name_of(config_detail::init_names(), i); }
const char* to_string(Normalize n) { return config_detail::name_of(config_detail::normalize_names(), n); }
const char* to_string(Layout l) { return config_detail::name_of(config_detail::layout_names(), l); }
const char* to_string(LayerConfig::Type t) { return config_detail::name_of(config_detail::layer_type_names(), t); }

bool is_image_model(const ModelConfig& model) {
  using T = LayerConfig::Type;
  for (const LayerConfig& l : model.layers) {
    if (l.type == T::conv2d || l.type == T::max_pool2d || l.type == T::avg_pool2d || l.type == T::global_avg_pool ||
        l.type == T::flatten)
      return true;
  }
  return false;
}

const char* to_string(OptimizerConfig::Type t) {
  return config_detail::name_of(config_detail::optimizer_names(), t);
}
const char* to_string(ScheduleConfig::Type t) {
  return config_detail::name_of(config_detail::schedule_names(), t);
}

}  // namespace trainer
