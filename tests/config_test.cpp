#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "trainer/config.hpp"
#include "trainer/error.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using trainer::Config;
using trainer::Error;

namespace {

// The smallest valid config; each test changes one thing.
json minimal() {
  return json::parse(R"({
    "data": {"train": {"x": "train_x.npy", "y": "train_y.npy"}},
    "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                         {"type": "dense", "units": 3}]}
  })");
}

Config load(const json& config) { return trainer::load_config_text(config.dump(), "run.json", "/base"); }

// The Error loading `text` throws; fails the test when it loads.
Error refusal_of_text(const std::string& text) {
  try {
    trainer::load_config_text(text, "run.json", "/base");
  } catch (const Error& e) {
    return e;
  }
  FAIL("config was accepted: " << text);
  throw;  // unreachable: FAIL throws
}

Error refusal(const json& config) { return refusal_of_text(config.dump()); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A fresh folder under the temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("trainer_config_test_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + "_" +
            std::to_string(std::rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
};

// Runs with the current directory switched, restoring it after.
struct InDir {
  fs::path old = fs::current_path();
  explicit InDir(const fs::path& p) { fs::current_path(p); }
  ~InDir() { fs::current_path(old); }
};

}  // namespace

TEST_CASE("malformed JSON is exit 2 at file:line:col of the offending character", "[config]") {
  // The stray comma is the 16th character of line 3.
  const Error e = refusal_of_text("{\n  \"data\": {\n    \"x_scale\": ,\n  }\n}\n");
  CHECK(e.exit_code() == 2);
  CHECK(e.where() == "run.json:3:16");
  CHECK(contains(e.fault(), "malformed JSON"));
  CHECK(contains(e.fault(), "unexpected ','"));

  // The lexer stops at the first character that cannot continue `tru`: the `}` in column 10.
  CHECK(refusal_of_text("{\"a\": tru}").where() == "run.json:1:10");
  CHECK(refusal_of_text("").exit_code() == 2);
  CHECK(refusal_of_text("{\"data\": {}").where().rfind("run.json:1:", 0) == 0);
}

TEST_CASE("an unknown top-level key names file and pointer and suggests the nearest key",
          "[config]") {
  json c = minimal();
  c["optimiser"] = {{"type", "adam"}};
  const Error e = refusal(c);
  CHECK(e.exit_code() == 2);
  CHECK(e.where() == "run.json: /optimiser");
  CHECK(contains(e.fault(), "unknown key `optimiser`"));
  CHECK(contains(e.valid(), "did you mean `optimizer`?"));
  CHECK(contains(std::string(e.what()), "run.json: /optimiser"));
}

TEST_CASE("typos of nested keys suggest the key valid in that object", "[config]") {
  struct Case { const char* object_ptr; const char* typo; const char* suggestion; };
  for (const Case& k : {Case{"/optimizer", "lerning_rate", "lr"},
                        Case{"/optimizer", "learning_rate", "lr"},
                        Case{"/optimizer", "weight_decy", "weight_decay"},
                        Case{"/data", "trian", "train"},
                        Case{"/data", "validaton_split", "validation_split"},
                        Case{"/schedule", "warmup_epoch", "warmup_epochs"},
                        Case{"/training", "batchsize", "batch_size"},
                        Case{"/training/early_stopping", "patiance", "patience"},
                        Case{"/memory", "RAM", "ram"},
                        Case{"/model/layers/0", "unit", "units"},
                        Case{"/data/train", "X", "x"}}) {
    INFO(k.object_ptr << " " << k.typo);
    json c = minimal();
    c[json::json_pointer(std::string(k.object_ptr) + "/" + k.typo)] = 1;
    const Error e = refusal(c);
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == std::string("run.json: ") + k.object_ptr + "/" + k.typo);
    CHECK(contains(e.valid(), std::string("did you mean `") + k.suggestion + "`?"));
  }
}

TEST_CASE("an unknown key with no near match lists the valid keys without a guess", "[config]") {
  json c = minimal();
  c["memory"] = {{"swap", "2G"}};
  const Error e = refusal(c);
  CHECK(e.where() == "run.json: /memory/swap");
  CHECK_FALSE(contains(e.valid(), "did you mean"));
  CHECK(contains(e.valid(), "`ram`, `headroom`, `verify`"));
}

TEST_CASE("optimizer keys of another optimizer type are refused, naming the type", "[config]") {
  json c = minimal();
  c["optimizer"] = {{"type", "sgd"}, {"beta1", 0.9}};
  Error e = refusal(c);
  CHECK(e.where() == "run.json: /optimizer/beta1");
  CHECK(contains(e.valid(), "valid keys for sgd"));
  c["optimizer"] = {{"momentum", 0.9}};  // adam by default
  e = refusal(c);
  CHECK(e.where() == "run.json: /optimizer/momentum");
  CHECK(contains(e.valid(), "valid keys for adam"));
}

TEST_CASE("a value of the wrong type names the pointer and the expected type", "[config]") {
  struct Case { const char* pointer; json value; const char* expected; };
  for (const Case& k : {Case{"/optimizer/lr", "0.01", "expected a number, got a string"},
                        Case{"/model/layers/0/units", "16", "expected an integer, got a string"},
                        Case{"/model/layers/0/units", 16.5, "expected an integer, got 16.5"},
                        Case{"/training/epochs", true, "expected an integer, got a boolean"},
                        Case{"/data/shuffle", "yes", "expected a boolean, got a string"},
                        Case{"/model/loss", 3, "expected a string, got an integer"},
                        Case{"/model/layers", json::object(), "expected an array, got an object"},
                        Case{"/training", json::array(), "expected an object, got an array"},
                        Case{"/data/train", "train.npy", "expected an object, got a string"},
                        Case{"/training/batch_size", nullptr,
                             "expected an integer or a string, got null"},
                        Case{"/memory/ram", true, "expected a string or an integer, got a boolean"}}) {
    INFO(k.pointer);
    json c = minimal();
    c[json::json_pointer(k.pointer)] = k.value;
    const Error e = refusal(c);
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == std::string("run.json: ") + k.pointer);
    CHECK(e.fault() == k.expected);
  }
}

TEST_CASE("numbers out of range are refused with the valid range", "[config]") {
  struct Case { const char* pointer; json value; const char* valid; };
  for (const Case& k : {Case{"/optimizer/lr", 0, "a number > 0"},
                        Case{"/optimizer/lr", -0.1, "a number > 0"},
                        Case{"/model/layers/0/units", 0, "an integer >= 1"},
                        Case{"/optimizer/beta1", 1.0, "a number in [0, 1)"},
                        Case{"/optimizer/beta2", -0.5, "a number in [0, 1)"},
                        Case{"/optimizer/eps", 0, "a number > 0"},
                        Case{"/optimizer/weight_decay", -1, "a number >= 0"},
                        Case{"/data/x_scale", 0, "a number > 0"},
                        Case{"/data/validation_split", 1, "a number in [0, 1)"},
                        Case{"/training/epochs", 0, "an integer >= 1"},
                        Case{"/training/batch_size", 0, "an integer >= 1"},
                        Case{"/training/micro_batch", -4, "an integer >= 1"},
                        Case{"/training/threads", -1, "an integer >= 0"},
                        Case{"/training/seed", -1, "an integer >= 0"},
                        Case{"/training/early_stopping/patience", -1, "an integer >= 0"},
                        Case{"/training/early_stopping/min_delta", -0.1, "a number >= 0"},
                        Case{"/schedule/warmup_epochs", -1, "a number >= 0"},
                        Case{"/schedule/step_epochs", 0, "an integer >= 1"},
                        Case{"/schedule/gamma", 0, "a number > 0"},
                        Case{"/memory/headroom", 1, "a number in [0, 1)"}}) {
    INFO(k.pointer << " = " << k.value.dump());
    json c = minimal();
    c[json::json_pointer(k.pointer)] = k.value;
    const Error e = refusal(c);
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == std::string("run.json: ") + k.pointer);
    CHECK(contains(e.fault(), "out of range"));
    CHECK(e.valid() == k.valid);
  }
}

TEST_CASE("momentum is refused at 1 for sgd", "[config]") {
  json c = minimal();
  c["optimizer"] = {{"type", "sgd"}, {"momentum", 1}};
  const Error e = refusal(c);
  CHECK(e.where() == "run.json: /optimizer/momentum");
  CHECK(e.valid() == "a number in [0, 1)");
}

TEST_CASE("a dropout rate of 1 is refused", "[config]") {
  json c = minimal();
  c["model"]["layers"].insert(c["model"]["layers"].begin() + 1,
                              json::object({{"type", "dropout"}, {"rate", 1.0}}));
  const Error e = refusal(c);
  CHECK(e.exit_code() == 2);
  CHECK(e.where() == "run.json: /model/layers/1/rate");
  CHECK(e.valid() == "a number in [0, 1)");
}

TEST_CASE("enumerated strings are refused with every valid value listed", "[config]") {
  struct Case { const char* pointer; const char* value; const char* valid; };
  for (const Case& k :
       {Case{"/model/layers/0/activation", "softmax",
             "`relu`, `leaky_relu`, `tanh`, `sigmoid`, `gelu`, `linear`"},
        Case{"/model/loss", "nll", "`cross_entropy`, `mse`, `binary_cross_entropy`"},
        Case{"/model/init", "xavier",
             "`he_uniform`, `he_normal`, `glorot_uniform`, `glorot_normal`"},
        Case{"/model/layers/0/type", "conv", "`dense`, `dropout`"},
        Case{"/optimizer/type", "rmsprop", "`sgd`, `adam`, `adamw`"},
        Case{"/schedule/type", "linear", "`constant`, `step`, `cosine`"},
        Case{"/data/normalize", "minmax", "`none`, `standardize`"},
        Case{"/training/batch_size", "max", "`auto`, `full`"},
        Case{"/training/micro_batch", "full", "`auto`"},
        Case{"/training/early_stopping/monitor", "loss",
             "`val_loss`, `val_accuracy`, `train_loss`"}}) {
    INFO(k.pointer);
    json c = minimal();
    c[json::json_pointer(k.pointer)] = k.value;
    const Error e = refusal(c);
    CHECK(e.exit_code() == 2);
    CHECK(e.where() == std::string("run.json: ") + k.pointer);
    CHECK(e.fault() == std::string("unknown value `") + k.value + "`");
    CHECK(contains(e.valid(), std::string("valid values: ") + k.valid));
  }
}

TEST_CASE("a near-miss enum value suggests the valid spelling", "[config]") {
  json c = minimal();
  c["model"]["layers"][0]["activation"] = "Relu";
  CHECK(contains(refusal(c).valid(), "did you mean `relu`?"));
  c = minimal();
  c["optimizer"] = {{"type", "adma"}};
  CHECK(contains(refusal(c).valid(), "did you mean `adam`?"));
}

TEST_CASE("validation files and validation_split together are refused", "[config]") {
  json c = minimal();
  c["data"]["validation"] = {{"x", "v_x.npy"}, {"y", "v_y.npy"}};
  c["data"]["validation_split"] = 0.1;
  const Error e = refusal(c);
  CHECK(e.exit_code() == 2);
  CHECK(e.where() == "run.json: /data/validation_split");
  CHECK(contains(e.fault(), "`validation` and `validation_split`"));
}

TEST_CASE("data.train with x and y, data and model are required", "[config]") {
  json c = minimal();
  c["data"].erase("train");
  Error e = refusal(c);
  CHECK(e.where() == "run.json: /data/train");
  CHECK(contains(e.fault(), "missing required key `train`"));

  c = minimal();
  c["data"]["train"].erase("y");
  e = refusal(c);
  CHECK(e.where() == "run.json: /data/train/y");

  c = minimal();
  c["data"]["train"]["x"] = "";
  CHECK(refusal(c).where() == "run.json: /data/train/x");

  c = minimal();
  c.erase("model");
  CHECK(refusal(c).where() == "run.json: /model");

  CHECK(refusal(json::array()).where() == "run.json");
}

TEST_CASE("layers need a dense layer last, units on dense and a rate on dropout", "[config]") {
  json c = minimal();
  c["model"]["layers"] = json::array();
  CHECK(refusal(c).where() == "run.json: /model/layers");

  c["model"]["layers"] = json::parse(R"([{"type": "dense", "units": 4}, {"type": "dropout", "rate": 0.5}])");
  Error e = refusal(c);
  CHECK(e.where() == "run.json: /model/layers");
  CHECK(contains(e.fault(), "last layer is not dense"));

  c["model"]["layers"] = json::parse(R"([{"type": "dense"}])");
  CHECK(refusal(c).where() == "run.json: /model/layers/0/units");

  c["model"]["layers"] = json::parse(R"([{"type": "dropout"}, {"type": "dense", "units": 2}])");
  CHECK(refusal(c).where() == "run.json: /model/layers/0/rate");

  c["model"]["layers"] = json::parse(R"([{"units": 2}])");
  CHECK(refusal(c).where() == "run.json: /model/layers/0/type");

  c["model"]["layers"] = json::parse(R"([{"type": "dropout", "rate": 0.1, "activation": "relu"},
                                         {"type": "dense", "units": 2}])");
  e = refusal(c);
  CHECK(e.where() == "run.json: /model/layers/0/activation");
  CHECK(contains(e.valid(), "valid keys for a dropout layer: `type`, `rate`"));
}

TEST_CASE("memory.ram goes through the size parser, naming the config key", "[config]") {
  json c = minimal();
  c["memory"] = {{"ram", "1.5G"}};
  Config cfg = load(c);
  CHECK(cfg.memory.ram.kind == trainer::SizeSpec::Kind::bytes);
  CHECK(cfg.memory.ram.bytes == 3ull * 512 * 1024 * 1024);

  c["memory"]["ram"] = 4096;
  CHECK(load(c).memory.ram.bytes == 4096);
  c["memory"]["ram"] = "none";
  CHECK(load(c).memory.ram.kind == trainer::SizeSpec::Kind::none);

  c["memory"]["ram"] = "12X";
  const Error e = refusal(c);
  CHECK(e.exit_code() == 2);
  CHECK(e.where() == "run.json: /memory/ram");
  CHECK(contains(e.valid(), "accepted forms: 12G"));
}

TEST_CASE("omitted settings take the documented defaults", "[config]") {
  const Config c = load(minimal());
  CHECK(c.source == "run.json");
  CHECK(c.data.validation_split == 0.0);
  CHECK_FALSE(c.data.validation.present());
  CHECK_FALSE(c.data.test.present());
  CHECK(c.data.x_scale == 1.0);
  CHECK(c.data.normalize == trainer::Normalize::none);
  CHECK(c.data.shuffle);
  CHECK_FALSE(c.data.drop_remainder);
  CHECK(c.model.loss == trainer::Loss::cross_entropy);
  CHECK(c.model.init == trainer::Init::he_uniform);
  CHECK(c.model.layers[1].activation == trainer::Activation::linear);
  CHECK(c.optimizer.type == trainer::OptimizerConfig::Type::adam);
  CHECK(c.optimizer.lr == 0.001);
  CHECK(c.optimizer.beta1 == 0.9);
  CHECK(c.optimizer.beta2 == 0.999);
  CHECK(c.optimizer.eps == 1e-8);
  CHECK(c.schedule.type == trainer::ScheduleConfig::Type::constant);
  CHECK(c.training.epochs == 10);
  CHECK(c.training.batch_size.kind == trainer::BatchSpec::Kind::automatic);
  CHECK(c.training.micro_batch.kind == trainer::BatchSpec::Kind::automatic);
  CHECK(c.training.seed == 42);
  CHECK(c.training.threads == 0);
  CHECK_FALSE(c.training.early_stopping.enabled);
  CHECK(c.memory.ram.kind == trainer::SizeSpec::Kind::automatic);
  CHECK(c.memory.headroom == 0.05);
  CHECK(c.memory.verify);

  json sgd = minimal();
  sgd["optimizer"] = {{"type", "sgd"}};
  CHECK(load(sgd).optimizer.lr == 0.01);
}

TEST_CASE("canonical_json lists every setting with defaults and paths as written", "[config]") {
  const Config c = load(minimal());
  const json canonical = json::parse(c.canonical_json);
  CHECK(canonical["optimizer"]["lr"] == 0.001);
  CHECK(canonical["optimizer"]["type"] == "adam");
  CHECK(canonical["training"]["batch_size"] == "auto");
  CHECK(canonical["training"]["epochs"] == 10);
  CHECK(canonical["memory"]["ram"] == "auto");
  CHECK(canonical["data"]["x_scale"] == 1.0);
  CHECK(canonical["model"]["layers"][1]["activation"] == "linear");
  CHECK(canonical["data"]["train"]["x"] == "train_x.npy");
  // Loading the canonical form again gives the same canonical form.
  CHECK(load(canonical).canonical_json == c.canonical_json);
}

TEST_CASE("every given setting is read into the typed config", "[config]") {
  const Config c = load(json::parse(R"({
    "$schema": "./trainer.schema.json",
    "data": {"train": {"x": "a.npy", "y": "b.npy"}, "validation": {"x": "c.npy", "y": "d.npy"},
             "x_scale": 0.5, "normalize": "standardize", "shuffle": false, "drop_remainder": true},
    "model": {"layers": [{"type": "dense", "units": 32, "activation": "gelu"},
                         {"type": "dropout", "rate": 0.25},
                         {"type": "dense", "units": 1}],
              "loss": "binary_cross_entropy", "init": "glorot_normal"},
    "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.01},
    "schedule": {"type": "step", "warmup_epochs": 0.5, "step_epochs": 3, "gamma": 0.5, "min_lr": 0.001},
    "training": {"epochs": 3.0, "batch_size": "full", "micro_batch": 32, "seed": 7, "threads": 2,
                 "early_stopping": {"monitor": "val_accuracy", "patience": 0, "min_delta": 0.01}},
    "memory": {"ram": "2G", "headroom": 0.1, "verify": false}
  })"));
  CHECK(c.data.validation.y == "/base/d.npy");
  CHECK(c.data.x_scale == 0.5);
  CHECK(c.data.normalize == trainer::Normalize::standardize);
  CHECK_FALSE(c.data.shuffle);
  CHECK(c.data.drop_remainder);
  REQUIRE(c.model.layers.size() == 3);
  CHECK(c.model.layers[0].units == 32);
  CHECK(c.model.layers[0].activation == trainer::Activation::gelu);
  CHECK(c.model.layers[1].type == trainer::LayerConfig::Type::dropout);
  CHECK(c.model.layers[1].rate == 0.25);
  CHECK(c.model.loss == trainer::Loss::binary_cross_entropy);
  CHECK(c.model.init == trainer::Init::glorot_normal);
  CHECK(c.optimizer.type == trainer::OptimizerConfig::Type::sgd);
  CHECK(c.optimizer.lr == 0.1);
  CHECK(c.optimizer.momentum == 0.9);
  CHECK(c.optimizer.nesterov);
  CHECK(c.optimizer.weight_decay == 0.01);
  CHECK(c.schedule.type == trainer::ScheduleConfig::Type::step);
  CHECK(c.schedule.warmup_epochs == 0.5);
  CHECK(c.schedule.step_epochs == 3);
  CHECK(c.schedule.gamma == 0.5);
  CHECK(c.schedule.min_lr == 0.001);
  CHECK(c.training.epochs == 3);
  CHECK(c.training.batch_size.kind == trainer::BatchSpec::Kind::full);
  CHECK(c.training.micro_batch.kind == trainer::BatchSpec::Kind::fixed);
  CHECK(c.training.micro_batch.n == 32);
  CHECK(c.training.seed == 7);
  CHECK(c.training.threads == 2);
  CHECK(c.training.early_stopping.enabled);
  CHECK(c.training.early_stopping.monitor == "val_accuracy");
  CHECK(c.training.early_stopping.patience == 0);
  CHECK(c.training.early_stopping.min_delta == 0.01);
  CHECK(c.memory.ram.bytes == 2ull << 30);
  CHECK(c.memory.headroom == 0.1);
  CHECK_FALSE(c.memory.verify);
}

TEST_CASE("relative paths resolve against the config file's folder, absolute ones stay",
          "[config]") {
  TempDir tmp;
  json c = minimal();
  c["data"]["train"] = {{"x", "../data/train_x.npy"}, {"y", "sub/./train_y.npy"}};
  c["data"]["test"] = {{"x", "/elsewhere/test_x.npy"}, {"y", "test_y.npy"}};
  c["model"]["init_from"] = "weights";
  const fs::path file = tmp.write("configs/run.json", c.dump());

  const Config cfg = trainer::load_config_file(file.string());
  CHECK(cfg.base_dir == (tmp.path / "configs").string());
  CHECK(cfg.data.train.x == (tmp.path / "data/train_x.npy").string());
  CHECK(cfg.data.train.y == (tmp.path / "configs/sub/train_y.npy").string());
  CHECK(cfg.data.test.x == "/elsewhere/test_x.npy");
  CHECK(cfg.data.test.y == (tmp.path / "configs/test_y.npy").string());
  CHECK(cfg.model.init_from == (tmp.path / "configs/weights").string());
  CHECK(json::parse(cfg.canonical_json)["data"]["train"]["x"] == "../data/train_x.npy");

  // A config named relative to the current directory resolves the same way.
  InDir cd(tmp.path);
  CHECK(trainer::load_config_file("configs/run.json").data.train.x ==
        (tmp.path / "data/train_x.npy").string());
}

TEST_CASE("a missing, folder or unreadable config path is exit 2 naming the path", "[config]") {
  TempDir tmp;
  const std::string missing = (tmp.path / "nope.json").string();
  for (const std::string& path : {missing, tmp.path.string()}) {
    INFO(path);
    try {
      trainer::load_config_file(path);
      FAIL("loaded " << path);
    } catch (const Error& e) {
      CHECK(e.exit_code() == 2);
      CHECK(e.where() == path);
    }
  }
}

TEST_CASE("errors from a config file name the path it was given as", "[config]") {
  TempDir tmp;
  json c = minimal();
  c["optimizer"] = {{"lr", -1}};
  const fs::path file = tmp.write("bad.json", c.dump());
  try {
    trainer::load_config_file(file.string());
    FAIL("loaded a config with lr = -1");
  } catch (const Error& e) {
    CHECK(e.where() == file.string() + ": /optimizer/lr");
  }
}

TEST_CASE("default_config_path prefers ./trainer.json, else the demo config", "[config]") {
  TempDir tmp;
  InDir cd(tmp.path);
  const fs::path demo = trainer::default_config_path();
  CHECK(demo.filename() == "digits-mlp.json");
  CHECK(fs::is_regular_file(demo));
  CHECK_NOTHROW(trainer::load_config_file(demo.string()));

  tmp.write("trainer.json", minimal().dump());
  CHECK(trainer::default_config_path() == "./trainer.json");
}

TEST_CASE("config_hash ignores key order, formatting, paths and run settings", "[config]") {
  const json a = minimal();
  const std::string reordered = R"({"model": {"layers": [{"activation": "relu", "units": 16,
      "type": "dense"}, {"units": 3, "type": "dense"}]},
      "data": {"train": {"y": "train_y.npy", "x": "train_x.npy"}}})";
  const auto h = trainer::config_hash(load(a));
  CHECK(trainer::config_hash(trainer::load_config_text(reordered, "other.json", "/x")) == h);

  json run = minimal();
  run["data"]["train"]["x"] = "/other/x.npy";
  run["optimizer"] = {{"lr", 0.5}};
  run["training"] = {{"epochs", 99}, {"batch_size", 7}};
  run["memory"] = {{"ram", "1G"}};
  CHECK(trainer::config_hash(load(run)) == h);

  json explicit_defaults = minimal();
  explicit_defaults["optimizer"] = {{"type", "adam"}};
  explicit_defaults["model"]["loss"] = "cross_entropy";
  CHECK(trainer::config_hash(load(explicit_defaults)) == h);
}

TEST_CASE("config_hash changes when the model, optimizer type or input scaling changes",
          "[config]") {
  const auto h = trainer::config_hash(load(minimal()));
  struct Case { const char* pointer; json value; };
  for (const Case& k : {Case{"/model/layers/0/units", 17},
                        Case{"/model/layers/0/activation", "tanh"},
                        Case{"/model/layers/1/units", 4},
                        Case{"/model/loss", "mse"},
                        Case{"/optimizer/type", "sgd"},
                        Case{"/data/x_scale", 0.5},
                        Case{"/data/normalize", "standardize"}}) {
    INFO(k.pointer);
    json c = minimal();
    c[json::json_pointer(k.pointer)] = k.value;
    CHECK(trainer::config_hash(load(c)) != h);
  }
  json extra_layer = minimal();
  extra_layer["model"]["layers"].insert(extra_layer["model"]["layers"].begin(),
                                        json::object({{"type", "dense"}, {"units", 8}}));
  CHECK(trainer::config_hash(load(extra_layer)) != h);
}

TEST_CASE("to_string gives the config spelling of enumerated settings", "[config]") {
  CHECK(std::string(trainer::to_string(trainer::Activation::leaky_relu)) == "leaky_relu");
  CHECK(std::string(trainer::to_string(trainer::Loss::binary_cross_entropy)) ==
        "binary_cross_entropy");
  CHECK(std::string(trainer::to_string(trainer::OptimizerConfig::Type::adamw)) == "adamw");
  CHECK(std::string(trainer::to_string(trainer::Init::glorot_uniform)) == "glorot_uniform");
  CHECK(std::string(trainer::to_string(trainer::Normalize::standardize)) == "standardize");
  CHECK(std::string(trainer::to_string(trainer::ScheduleConfig::Type::cosine)) == "cosine");
}
