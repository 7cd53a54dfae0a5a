// The typed settings of a run, loaded from the JSON config of DESIGN.md.
//
// Each field notes its meaning and default. Loading validates every key (unknown keys are
// refused with the nearest valid name suggested) and reports errors as trainer::Error with
// exit code 2, naming the file and the JSON pointer of the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/size.hpp"

namespace trainer {

// A pair of .npy files. Paths are absolute after loading (resolved against the config's folder).
struct DataFiles {
  std::string x;
  std::string y;
  bool present() const { return !x.empty(); }
};

enum class Normalize { none, standardize };
// How image samples are stored in x: channels last ([N, H, W, C]) or first ([N, C, H, W]).
enum class Layout { nhwc, nchw };

// Random changes of training images, drawn per sample from (seed, epoch, row) on the
// prefetcher's thread; validation, test and predict rows are never augmented.
struct AugmentConfig {
  bool flip = false;               // horizontal flip with probability 1/2
  std::int64_t crop_padding = 0;   // pad this many zero pixels on every side, crop back at random
  bool enabled() const { return flip || crop_padding > 0; }
};

struct DataConfig {
  DataFiles train;                 // required
  DataFiles validation;            // optional; exclusive with validation_split
  double validation_split = 0.0;   // fraction in [0, 1) of train held out (a fixed, seeded slice)
  DataFiles test;                  // optional; evaluated at the end of fit
  double x_scale = 1.0;            // inputs multiplied by this on the fly
  Normalize normalize = Normalize::none;  // per-feature standardisation, stats streamed once
  bool shuffle = true;             // false = file order
  bool drop_remainder = false;     // true drops the last partial effective batch of an epoch
  Layout layout = Layout::nhwc;    // image models: how x holds an image
  std::vector<std::int64_t> image_shape;  // [H, W, C]: read flat rows as images; empty = x's own shape
  AugmentConfig augment;           // image models, training rows only
};

enum class Activation { relu, leaky_relu, tanh, sigmoid, gelu, linear };
enum class Loss { cross_entropy, mse, binary_cross_entropy };
enum class Init { he_uniform, he_normal, glorot_uniform, glorot_normal };

// A height and a width (kernel, stride, padding, pool size), from a number or [h, w].
struct Extent {
  std::int64_t h = 1, w = 1;
  bool operator==(const Extent&) const = default;
};

// One layer of the model. Semantics: ../shared/fixtures/public/conv/README.md and DESIGN.md.
struct LayerConfig {
  enum class Type { dense, dropout, conv2d, max_pool2d, avg_pool2d, global_avg_pool, batch_norm, flatten };
  Type type = Type::dense;
  std::int64_t units = 0;                    // dense: outputs (>= 1)
  // dense, conv2d, batch_norm: applied right after the layer (ignored on the last dense layer,
  // whose output function the loss implies).
  Activation activation = Activation::linear;
  double rate = 0.0;                         // dropout: probability in [0, 1)
  bool bias = true;                          // dense, conv2d: false drops the bias (before batch_norm)
  std::int64_t filters = 0;                  // conv2d: output channels (>= 1)
  Extent kernel{3, 3};                       // conv2d
  Extent stride{1, 1};                       // conv2d (default 1), pools (default = size)
  // conv2d: zeros added before and after the input along H and W. "same" pads k - 1 in all,
  // (k - 1) / 2 before (PyTorch's choice for even kernels); "valid" and the default pad none.
  Extent pad_begin{0, 0}, pad_end{0, 0};
  Extent size{2, 2};                         // pools: window
  double momentum = 0.1;                     // batch_norm: weight of the batch in the running statistics
  double eps = 1e-5;                         // batch_norm: added to the variance
};

struct ModelConfig {
  std::vector<LayerConfig> layers;
  Loss loss = Loss::cross_entropy;
  Init init = Init::he_uniform;
  std::string init_from;  // optional folder with dense<i>.{weight,bias}.npy, conv<i>.*, bn<i>.*
};

// Whether the model reads images (it has a conv2d, pooling, global_avg_pool or flatten layer):
// then x holds H x W x C samples, stored as data.layout says.
bool is_image_model(const ModelConfig& model);
// "conv2d", "max_pool2d", ...: the config's spelling of a layer type.
const char* to_string(LayerConfig::Type t);

struct OptimizerConfig {
  enum class Type { sgd, adam, adamw };
  Type type = Type::adam;
  double lr = 0.001;
  double momentum = 0.0;   // sgd
  bool nesterov = false;   // sgd
  double weight_decay = 0.0;
  double beta1 = 0.9;      // adam, adamw
  double beta2 = 0.999;
  double eps = 1e-8;
};

struct ScheduleConfig {
  enum class Type { constant, step, cosine };
  Type type = Type::constant;
  double warmup_epochs = 0.0;  // linear warm-up from 0 to lr over these epochs (may be fractional)
  std::int64_t step_epochs = 10;  // step: multiply lr by gamma every step_epochs epochs
  double gamma = 0.1;
  double min_lr = 0.0;        // cosine: floor
};

// batch_size and micro_batch: a number, "auto", or (batch_size only) "full".
struct BatchSpec {
  enum class Kind { fixed, automatic, full };
  Kind kind = Kind::automatic;
  std::int64_t n = 0;  // meaningful when kind == fixed
};

struct EarlyStoppingConfig {
  bool enabled = false;
  std::string monitor = "val_loss";  // val_loss | val_accuracy | train_loss
  std::int64_t patience = 3;
  double min_delta = 0.0;
};

struct TrainingConfig {
  std::int64_t epochs = 10;
  BatchSpec batch_size{BatchSpec::Kind::automatic, 0};
  BatchSpec micro_batch{BatchSpec::Kind::automatic, 0};
  std::uint64_t seed = 42;
  std::int64_t threads = 0;  // 0 = all cores
  EarlyStoppingConfig early_stopping;
};

struct MemoryConfig {
  SizeSpec ram;             // auto by default
  std::string ram_label = "memory.ram";  // where an explicit ram came from: "memory.ram" or "--ram"
  double headroom = 0.05;   // fraction of the budget kept free
  bool verify = true;       // run a sandboxed trial of the chosen batch
};

struct Config {
  std::string source;     // path of the config file, or "built-in demo config"
  std::string base_dir;   // folder relative paths were resolved against
  DataConfig data;
  ModelConfig model;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  TrainingConfig training;
  MemoryConfig memory;
  std::string canonical_json;  // the config with defaults filled in, for hashing and reports
};

// Reads and validates a config file. Throws Error (exit 2) with file, JSON pointer and hint;
// a missing/unreadable file is exit 2 as well (it is a usage error, not a data file).
Config load_config_file(const std::string& path);

// The same from text; `source` names it in messages, `base_dir` resolves relative paths.
Config load_config_text(const std::string& text, const std::string& source,
                        const std::string& base_dir);

// Without --config: ./trainer.json if it exists, else the built-in demo config
// (configs/digits-mlp.json of the installed or source tree). Returns the path chosen.
std::string default_config_path();

// Used by checkpoints to refuse a config they were not made for: FNV-1a 64 over the compact
// JSON dump of only the settings that make weights or optimizer state incompatible, with
// defaults filled in: {"model": {"layers": [...], "loss": ...}, "optimizer": {"type": ...},
// "data": {"x_scale": ..., "normalize": ...}}. Key order in the file, paths, lr, epochs,
// batch sizes, memory and other run settings do not change it, so a run may be resumed with
// a different budget or schedule.
std::uint64_t config_hash(const Config& config);

const char* to_string(Activation a);
const char* to_string(Loss l);
const char* to_string(OptimizerConfig::Type t);
const char* to_string(Init i);
const char* to_string(Normalize n);
const char* to_string(Layout l);
const char* to_string(ScheduleConfig::Type t);

}  // namespace trainer
