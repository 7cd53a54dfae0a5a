// Access to the public training fixtures (/work/shared/fixtures/public/train): a case's data,
// its architecture as a ModelConfig, and weights in the flat PyTorch Linear layout.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace fixtures {

std::string train_dir();  // TRAINER_FIXTURES_DIR/train
nlohmann::json read_json(const std::string& path);

struct ReferenceCase {
  std::string name;
  std::string dir;
  nlohmann::json entry;  // the case's object in index.json
  std::int64_t rows = 0, features = 0, outputs = 0;
  std::vector<float> x;              // [rows, features]
  std::vector<std::int32_t> labels;  // classification
  std::vector<float> targets;        // regression [rows, outputs]
  trainer::ModelConfig model;
  std::vector<float> init;           // flat parameters at initialisation
};

ReferenceCase load_case(const std::string& name);

// Reads <tensor name>.npy of `folder` for every tensor of the layout into the flat layout.
std::vector<float> load_flat_weights(const std::string& folder, const trainer::ParamLayout& layout);

// The optimizer of a run's "hyperparameters" object.
trainer::OptimizerConfig optimizer_from(const nlohmann::json& hyperparameters);

// CHECKs every element within atol + rtol |ref|, reporting how many are outside and the worst.
void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol, double rtol,
                 const std::string& what);

}  // namespace fixtures
