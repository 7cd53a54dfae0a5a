// Checkpoints: interrupt-and-resume ends bitwise equal to an uninterrupted run; checkpoints
// of another config or corrupted ones are refused with exit code 3.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/config.hpp"
#include "trainer/error.hpp"
#include "trainer/fit.hpp"
#include "trainer/npy.hpp"

using nlohmann::json;
using trainer::test::TempDir;

namespace {

const std::string kCase = std::string(TRAINER_FIXTURES_DIR) + "/train/relu_partial_batch";

trainer::Config make_config(const TempDir& tmp, const std::string& optimizer = "adam") {
  json pair = {{"x", kCase + "/X.npy"}, {"y", kCase + "/y.npy"}};
  json cfg = {{"data", {{"train", pair}, {"validation_split", 0.2}, {"shuffle", true}}},
              {"model", {{"layers", json::array({{{"type", "dense"}, {"units", 16}, {"activation", "relu"}},
                                                 {{"type", "dropout"}, {"rate", 0.2}},
                                                 {{"type", "dense"}, {"units", 4}}})},
                         {"loss", "cross_entropy"}}},
              {"optimizer", {{"type", optimizer}, {"lr", 0.01}}},
              {"training", {{"epochs", 4}, {"batch_size", 24}, {"micro_batch", 10}, {"seed", 3}, {"threads", 2}}},
              {"memory", {{"ram", "none"}, {"verify", false}}}};
  return trainer::load_config_text(cfg.dump(), tmp.file("run.json"), tmp.path().string());
}

std::string bytes_of(const std::string& path) { return trainer::test::read_text(path); }

}  // namespace

TEST_CASE("interrupt mid-epoch, resume: weights bitwise equal to an uninterrupted run", "[fit][checkpoint]") {
  TempDir tmp;
  trainer::Config config = make_config(tmp);

  trainer::FitOptions straight;
  straight.export_dir = tmp.file("straight");
  straight.metrics_path = tmp.file("straight.jsonl");
  trainer::fit(config, straight);

  trainer::FitOptions first;
  first.checkpoint_path = tmp.file("run.ckpt");
  first.metrics_path = tmp.file("resumed.jsonl");
  first.interrupt_after_steps = 6;  // 88 training rows / 24 = 4 steps per epoch: mid epoch 2
  try {
    trainer::fit(config, first);
    FAIL("fit should have been interrupted");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 130);
  }
  trainer::CheckpointData ck = trainer::read_checkpoint(first.checkpoint_path);
  CHECK(ck.epochs_done == 1);
  CHECK(ck.batches_done == 2);
  CHECK(ck.optimizer_steps == 6);

  trainer::FitOptions second;
  second.resume_path = first.checkpoint_path;
  second.checkpoint_path = first.checkpoint_path;
  second.metrics_path = first.metrics_path;
  second.export_dir = tmp.file("resumed");
  trainer::fit(config, second);

  for (const char* name : {"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"}) {
    INFO(name);
    CHECK(bytes_of(tmp.file(std::string("straight/") + name + ".npy")) ==
          bytes_of(tmp.file(std::string("resumed/") + name + ".npy")));
  }
  // The epoch metrics agree too, except for timings.
  std::ifstream a(straight.metrics_path), b(first.metrics_path);
  std::string la, lb;
  int lines = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    json ja = json::parse(la), jb = json::parse(lb);
    CHECK(ja["train_loss"] == jb["train_loss"]);
    CHECK(ja["val_loss"] == jb["val_loss"]);
    ++lines;
  }
  CHECK(lines == 4);
}

TEST_CASE("resume refuses a checkpoint of another config, a corrupt one and a missing one", "[fit][checkpoint]") {
  TempDir tmp;
  trainer::Config config = make_config(tmp);
  trainer::FitOptions options;
  options.checkpoint_path = tmp.file("run.ckpt");
  config.training.epochs = 1;
  trainer::fit(config, options);

  trainer::Config other = make_config(tmp, "sgd");
  trainer::FitOptions resume;
  resume.resume_path = options.checkpoint_path;
  try {
    trainer::fit(other, resume);
    FAIL("expected a refusal");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK_THAT(e.what(), Catch::Contains("run.ckpt") && Catch::Contains("different"));
  }

  std::string bytes = bytes_of(options.checkpoint_path);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  trainer::test::write_text(tmp.file("flipped.ckpt"), bytes);
  CHECK_THROWS_WITH(trainer::read_checkpoint(tmp.file("flipped.ckpt")), Catch::Contains("CRC32"));
  trainer::test::write_text(tmp.file("short.ckpt"), bytes.substr(0, bytes.size() / 3));
  CHECK_THROWS_AS(trainer::read_checkpoint(tmp.file("short.ckpt")), trainer::Error);
  try {
    trainer::read_checkpoint(tmp.file("missing.ckpt"));
    FAIL("expected a refusal");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK_THAT(e.what(), Catch::Contains("missing.ckpt"));
  }
}

TEST_CASE("a checkpoint round-trips every field, also with empty arrays", "[fit][checkpoint]") {
  TempDir tmp;
  trainer::CheckpointData d;
  d.config_json = "{\"a\": 1}";
  d.config_hash = 0x1234567890abcdefULL;
  d.input_width = 64;
  d.input = trainer::SampleShape::hwc(4, 2, 8);
  d.seed = 9;
  d.epochs_done = 3;
  d.batches_done = 2;
  d.optimizer_steps = 77;
  d.epoch_loss_sum = 1.5;
  d.epoch_correct = 11;
  d.epoch_samples = 20;
  d.best_metric = 0.25;
  d.bad_epochs = 1;
  d.best_epoch = 2;
  d.x_scale = 0.5f;
  d.mean = {1, 2};
  d.inv_std = {3, 4};
  std::vector<float> params = {5, 6, 7};
  trainer::write_checkpoint(tmp.file("a.ckpt"), {&d, params, {}});  // plain SGD: no optimizer state
  trainer::CheckpointData r = trainer::read_checkpoint(tmp.file("a.ckpt"));
  CHECK(r.config_json == d.config_json);
  CHECK(r.config_hash == d.config_hash);
  CHECK(r.input_width == 64);
  CHECK(r.input == d.input);
  CHECK(r.seed == 9);
  CHECK(r.epochs_done == 3);
  CHECK(r.batches_done == 2);
  CHECK(r.optimizer_steps == 77);
  CHECK(r.epoch_loss_sum == 1.5);
  CHECK(r.epoch_correct == 11);
  CHECK(r.epoch_samples == 20);
  CHECK(r.best_metric == 0.25);
  CHECK(r.bad_epochs == 1);
  CHECK(r.best_epoch == 2);
  CHECK(r.x_scale == 0.5f);
  CHECK(r.mean == d.mean);
  CHECK(r.inv_std == d.inv_std);
  CHECK(r.params == params);
  CHECK(r.optimizer_state.empty());
}

TEST_CASE("a failed checkpoint write leaves the previous checkpoint intact", "[fit][checkpoint]") {
  TempDir tmp;
  trainer::CheckpointData d;
  d.config_json = "{}";
  std::vector<float> params = {1, 2, 3};
  trainer::write_checkpoint(tmp.file("a.ckpt"), {&d, params, {}});
  const std::string before = bytes_of(tmp.file("a.ckpt"));
  // Make the temporary file's name a directory so the write fails.
  std::filesystem::create_directory(tmp.file("a.ckpt.tmp"));
  params[0] = 9;
  CHECK_THROWS_AS(trainer::write_checkpoint(tmp.file("a.ckpt"), {&d, params, {}}), trainer::Error);
  CHECK(bytes_of(tmp.file("a.ckpt")) == before);
  CHECK(trainer::read_checkpoint(tmp.file("a.ckpt")).params == std::vector<float>{1, 2, 3});
}

TEST_CASE("an image model with batch norm, dropout and augmentation resumes bitwise, running statistics included",
          "[fit][checkpoint][image]") {
  TempDir tmp;
  const std::string conv_case = std::string(TRAINER_FIXTURES_DIR) + "/conv/conv_bn_gap";  // 158 images 8x8x3
  json pair = {{"x", conv_case + "/X.npy"}, {"y", conv_case + "/y.npy"}};
  json layers = json::array({{{"type", "conv2d"}, {"filters", 4}, {"kernel", 3}, {"padding", "same"}, {"bias", false}},
                             {{"type", "batch_norm"}, {"activation", "relu"}},
                             {{"type", "max_pool2d"}, {"size", 2}},
                             {{"type", "dropout"}, {"rate", 0.2}},
                             {{"type", "flatten"}},
                             {{"type", "dense"}, {"units", 3}}});
  json cfg = {{"data", {{"train", pair}, {"validation_split", 0.2}, {"augment", {{"flip", true}, {"crop_padding", 2}}}}},
              {"model", {{"layers", layers}, {"loss", "cross_entropy"}}},
              {"optimizer", {{"type", "adam"}, {"lr", 0.01}}},
              {"training", {{"epochs", 3}, {"batch_size", 20}, {"seed", 5}, {"threads", 2}}},
              {"memory", {{"ram", "none"}, {"verify", false}}}};
  const trainer::Config config = trainer::load_config_text(cfg.dump(), tmp.file("run.json"), tmp.path().string());

  trainer::FitOptions straight;
  straight.export_dir = tmp.file("straight");
  trainer::fit(config, straight);

  trainer::FitOptions first;
  first.checkpoint_path = tmp.file("run.ckpt");
  first.interrupt_after_steps = 9;  // 127 training rows / 20 = 7 steps per epoch: mid epoch 2
  CHECK_THROWS_AS(trainer::fit(config, first), trainer::Error);
  CHECK(trainer::read_checkpoint(first.checkpoint_path).input == trainer::SampleShape::hwc(8, 8, 3));
  trainer::FitOptions second;
  second.resume_path = first.checkpoint_path;
  second.export_dir = tmp.file("resumed");
  trainer::fit(config, second);
  for (const char* name : {"conv0.weight", "bn0.weight", "bn0.bias", "bn0.running_mean", "bn0.running_var", "dense0.weight",
                           "dense0.bias"}) {
    INFO(name);
    CHECK(bytes_of(tmp.file(std::string("straight/") + name + ".npy")) ==
          bytes_of(tmp.file(std::string("resumed/") + name + ".npy")));
  }

  // Another seed draws other augmentations (and weights): the run is not the same.
  json other = cfg;
  other["training"]["seed"] = 6;
  trainer::FitOptions reseeded;
  reseeded.export_dir = tmp.file("reseeded");
  trainer::fit(trainer::load_config_text(other.dump(), tmp.file("run.json"), tmp.path().string()), reseeded);
  CHECK(bytes_of(tmp.file("straight/bn0.running_mean.npy")) != bytes_of(tmp.file("reseeded/bn0.running_mean.npy")));
}
