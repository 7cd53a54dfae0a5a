// The image-model part of the config: layer keys (conv2d, pooling, batch_norm, flatten,
// global_avg_pool), data.layout, data.image_shape and data.augment, their defaults, refusals
// and the canonical form that checkpoints carry.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/config.hpp"
#include "trainer/error.hpp"

using nlohmann::json;
using trainer::Config;
using trainer::Error;
using trainer::Extent;
using trainer::LayerConfig;

namespace {

json cnn(const json& layers) {
  json c = json::parse(R"({"data": {"train": {"x": "x.npy", "y": "y.npy"}}, "model": {}})");
  c["model"]["layers"] = layers;
  return c;
}

Config load(const json& c) { return trainer::load_config_text(c.dump(), "run.json", "/base"); }

Error refusal(const json& c) {
  try {
    load(c);
  } catch (const Error& e) {
    return e;
  }
  FAIL("config was accepted: " << c.dump());
  throw;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const json kDense = {{"type", "dense"}, {"units", 10}};

}  // namespace

TEST_CASE("conv2d reads filters, kernel, stride, padding words and numbers, bias and activation", "[config][image]") {
  const Config c = load(cnn({{{"type", "conv2d"}, {"filters", 8}, {"padding", "same"}, {"activation", "relu"}},
                             {{"type", "conv2d"}, {"filters", 4}, {"kernel", {3, 2}}, {"stride", 2}, {"padding", {1, 0}},
                              {"bias", false}},
                             {{"type", "conv2d"}, {"filters", 2}, {"kernel", 4}, {"padding", "same"}},
                             {{"type", "conv2d"}, {"filters", 2}, {"kernel", 2}, {"padding", "valid"}},
                             {{"type", "flatten"}},
                             kDense}));
  const auto& l = c.model.layers;
  REQUIRE(l.size() == 6);
  CHECK(l[0].type == LayerConfig::Type::conv2d);
  CHECK(l[0].filters == 8);
  CHECK(l[0].kernel == Extent{3, 3});  // the default kernel
  CHECK(l[0].stride == Extent{1, 1});
  CHECK(l[0].pad_begin == Extent{1, 1});
  CHECK(l[0].pad_end == Extent{1, 1});
  CHECK(l[0].activation == trainer::Activation::relu);
  CHECK(l[0].bias);
  CHECK(l[1].kernel == Extent{3, 2});
  CHECK(l[1].stride == Extent{2, 2});
  CHECK(l[1].pad_begin == Extent{1, 0});
  CHECK(l[1].pad_end == Extent{1, 0});
  CHECK_FALSE(l[1].bias);
  // An even kernel with "same" pads one more after than before, as PyTorch does.
  CHECK(l[2].pad_begin == Extent{1, 1});
  CHECK(l[2].pad_end == Extent{2, 2});
  CHECK(l[3].pad_begin == Extent{0, 0});
  CHECK(l[3].pad_end == Extent{0, 0});
  CHECK(trainer::is_image_model(c.model));
}

TEST_CASE("pools default their stride to the size, batch_norm to PyTorch's momentum and eps", "[config][image]") {
  const Config c = load(cnn({{{"type", "max_pool2d"}, {"size", 3}},
                             {{"type", "avg_pool2d"}, {"size", {2, 1}}, {"stride", 1}},
                             {{"type", "batch_norm"}},
                             {{"type", "batch_norm"}, {"momentum", 0.5}, {"eps", 0.001}, {"activation", "relu"}},
                             {{"type", "global_avg_pool"}},
                             kDense}));
  const auto& l = c.model.layers;
  CHECK(l[0].size == Extent{3, 3});
  CHECK(l[0].stride == Extent{3, 3});
  CHECK(l[1].size == Extent{2, 1});
  CHECK(l[1].stride == Extent{1, 1});
  CHECK(l[2].momentum == 0.1);
  CHECK(l[2].eps == 1e-5);
  CHECK(l[2].activation == trainer::Activation::linear);
  CHECK(l[3].momentum == 0.5);
  CHECK(l[3].eps == 0.001);
  CHECK(l[3].activation == trainer::Activation::relu);
}

TEST_CASE("a dense-only model is not an image model, and bias false is read on dense", "[config][image]") {
  const Config c = load(cnn({{{"type", "dense"}, {"units", 4}, {"bias", false}}, {{"type", "dropout"}, {"rate", 0.1}}, kDense}));
  CHECK_FALSE(trainer::is_image_model(c.model));
  CHECK_FALSE(c.model.layers[0].bias);
  CHECK(c.model.layers[2].bias);
}

TEST_CASE("image layer keys are refused with their pointer and what is valid", "[config][image]") {
  SECTION("a conv2d without filters") {
    const Error e = refusal(cnn({{{"type", "conv2d"}}, kDense}));
    CHECK(e.where() == "run.json: /model/layers/0/filters");
    CHECK(e.exit_code() == 2);
  }
  SECTION("a kernel of 0") {
    const Error e = refusal(cnn({{{"type", "conv2d"}, {"filters", 2}, {"kernel", 0}}, kDense}));
    CHECK(e.where() == "run.json: /model/layers/0/kernel");
    CHECK(contains(e.valid(), "from 1"));
  }
  SECTION("a kernel of three numbers") {
    CHECK(refusal(cnn({{{"type", "conv2d"}, {"filters", 2}, {"kernel", {1, 2, 3}}}, kDense})).where() ==
          "run.json: /model/layers/0/kernel");
  }
  SECTION("a negative padding") {
    CHECK(refusal(cnn({{{"type", "conv2d"}, {"filters", 2}, {"padding", -1}}, kDense})).where() ==
          "run.json: /model/layers/0/padding");
  }
  SECTION("an unknown padding word suggests same") {
    const Error e = refusal(cnn({{{"type", "conv2d"}, {"filters", 2}, {"padding", "sme"}}, kDense}));
    CHECK(e.where() == "run.json: /model/layers/0/padding");
    CHECK(contains(e.valid(), "same"));
  }
  SECTION("same padding with a stride") {
    const Error e = refusal(cnn({{{"type", "conv2d"}, {"filters", 2}, {"stride", 2}, {"padding", "same"}}, kDense}));
    CHECK(e.where() == "run.json: /model/layers/0/padding");
    CHECK(contains(e.valid(), "stride 1"));
  }
  SECTION("units on a conv2d names the valid keys of a conv2d") {
    const Error e = refusal(cnn({{{"type", "conv2d"}, {"filters", 2}, {"units", 3}}, kDense}));
    CHECK(e.where() == "run.json: /model/layers/0/units");
    CHECK(contains(e.valid(), "for a conv2d layer"));
  }
  SECTION("a pool without size") {
    CHECK(refusal(cnn({{{"type", "max_pool2d"}}, kDense})).where() == "run.json: /model/layers/0/size");
  }
  SECTION("batch_norm momentum above 1") {
    CHECK(refusal(cnn({{{"type", "batch_norm"}, {"momentum", 1.5}}, kDense})).where() ==
          "run.json: /model/layers/0/momentum");
  }
  SECTION("an activation on flatten") {
    CHECK(refusal(cnn({{{"type", "flatten"}, {"activation", "relu"}}, kDense})).where() ==
          "run.json: /model/layers/0/activation");
  }
  SECTION("an unknown layer type lists the types") {
    const Error e = refusal(cnn({{{"type", "conv3d"}}, kDense}));
    CHECK(e.where() == "run.json: /model/layers/0/type");
    CHECK(contains(e.valid(), "conv2d"));
    CHECK(contains(e.valid(), "global_avg_pool"));
  }
}

TEST_CASE("data.layout, image_shape and augment are read and checked", "[config][image]") {
  json c = cnn({{{"type", "flatten"}}, kDense});
  CHECK(load(c).data.layout == trainer::Layout::nhwc);
  CHECK(load(c).data.image_shape.empty());
  CHECK_FALSE(load(c).data.augment.enabled());
  c["data"]["layout"] = "nchw";
  c["data"]["image_shape"] = {8, 8, 1};
  c["data"]["augment"] = {{"flip", true}, {"crop_padding", 2}};
  const Config loaded = load(c);
  CHECK(loaded.data.layout == trainer::Layout::nchw);
  CHECK(loaded.data.image_shape == std::vector<std::int64_t>{8, 8, 1});
  CHECK(loaded.data.augment.flip);
  CHECK(loaded.data.augment.crop_padding == 2);

  json bad = c;
  bad["data"]["layout"] = "hwc";
  CHECK(refusal(bad).where() == "run.json: /data/layout");
  bad = c;
  bad["data"]["image_shape"] = {8, 8};
  CHECK(refusal(bad).where() == "run.json: /data/image_shape");
  bad = c;
  bad["data"]["image_shape"] = {8, 0, 1};
  CHECK(refusal(bad).where() == "run.json: /data/image_shape");
  bad = c;
  bad["data"]["augment"] = {{"rotate", 10}};
  CHECK(refusal(bad).where() == "run.json: /data/augment/rotate");
  bad = c;
  bad["data"]["augment"] = {{"crop_padding", -1}};
  CHECK(refusal(bad).where() == "run.json: /data/augment/crop_padding");
  // Augmenting the inputs of an MLP would shift values between unrelated features.
  bad = c;
  bad["model"]["layers"] = {kDense};
  const Error e = refusal(bad);
  CHECK(e.where() == "run.json: /data/augment");
  CHECK(e.exit_code() == 2);
}

TEST_CASE("the canonical form of an image model reloads to the same model and hash", "[config][image]") {
  json c = cnn({{{"type", "conv2d"}, {"filters", 8}, {"kernel", {4, 2}}, {"padding", "same"}, {"activation", "relu"}},
                {{"type", "conv2d"}, {"filters", 4}, {"kernel", 3}, {"stride", {2, 1}}, {"padding", {1, 0}}, {"bias", false}},
                {{"type", "batch_norm"}, {"momentum", 0.2}, {"activation", "gelu"}},
                {{"type", "max_pool2d"}, {"size", 3}, {"stride", 2}},
                {{"type", "avg_pool2d"}, {"size", 2}},
                {{"type", "global_avg_pool"}},
                {{"type", "dense"}, {"units", 3}, {"bias", false}}});
  c["data"]["layout"] = "nchw";
  c["data"]["image_shape"] = {16, 16, 3};
  c["data"]["augment"] = {{"flip", true}};
  const Config first = load(c);
  const Config again = trainer::load_config_text(first.canonical_json, "checkpoint", "/base");
  CHECK(again.canonical_json == first.canonical_json);
  CHECK(trainer::config_hash(again) == trainer::config_hash(first));
  REQUIRE(again.model.layers.size() == first.model.layers.size());
  CHECK(again.model.layers[0].pad_begin == Extent{1, 0});
  CHECK(again.model.layers[0].pad_end == Extent{2, 1});
  CHECK(again.model.layers[1].stride == Extent{2, 1});
  CHECK(again.data.layout == trainer::Layout::nchw);

  // The layout is part of what the weights mean.
  json other = c;
  other["data"]["layout"] = "nhwc";
  CHECK(trainer::config_hash(load(other)) != trainer::config_hash(first));
  other = c;
  other["model"]["layers"][1]["padding"] = 0;
  CHECK(trainer::config_hash(load(other)) != trainer::config_hash(first));
}

TEST_CASE("MLP configs keep the hash that checkpoints written before image layers carry", "[config][image]") {
  // A checkpoint written by an earlier release (a fuzz seed: its first byte, odd, says the rest
  // is the file as written): its config, loaded today, hashes to what it stored.
  std::ifstream in(std::string(TRAINER_SOURCE_DIR) + "/tests/fuzz/corpus/checkpoint/digits-adam", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 1);
  REQUIRE((bytes[0] & 1) == 1);
  trainer::test::TempDir dir;
  std::ofstream(dir.file("old.ckpt"), std::ios::binary).write(bytes.data() + 1, static_cast<std::streamsize>(bytes.size() - 1));
  const trainer::CheckpointData ck = trainer::read_checkpoint(dir.file("old.ckpt"));
  CHECK(ck.input == trainer::SampleShape::flat(ck.input_width));
  const Config c = trainer::load_config_text(ck.config_json, "checkpoint", "/base");
  CHECK(trainer::config_hash(c) == ck.config_hash);
}
