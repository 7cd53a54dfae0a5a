// Access to the convolutional fixtures (TRAINER_FIXTURES_DIR/conv, README there): a case's images
// (channels last, as the network reads them), its model from the index's layer list, its runs'
// optimizers and tolerances, and the comparisons the conv reference tests share.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/sample_shape.hpp"

// Every run of fixtures/public/conv, for the model-level and the fit-level tests.
#define TRAINER_CONV_REFERENCE_RUNS(X)                              \
  X("conv_maxpool", "sgd")                                          \
  X("conv_maxpool", "adam")                                         \
  X("conv_valid_stride_avgpool_bn_dense", "sgd_momentum")           \
  X("conv_valid_stride_avgpool_bn_dense", "adamw")                  \
  X("conv_bn_gap", "adam")                                          \
  X("conv_bn_gap", "sgd_nesterov")                                  \
  X("nchw_rect_kernel_overlap_pool", "sgd")                         \
  X("nchw_rect_kernel_overlap_pool", "adam")                        \
  X("conv_grad_accum_fullbatch", "sgd_momentum")                    \
  X("conv_grad_accum_fullbatch", "adam")

namespace conv_fixtures {

std::string conv_dir();  // TRAINER_FIXTURES_DIR/conv

struct ConvCase {
  std::string name, dir;
  nlohmann::json entry;              // the case's object in index.json
  trainer::Layout layout = trainer::Layout::nhwc;  // how X.npy stores its images
  trainer::SampleShape input;        // h x w x c
  std::int64_t rows = 0, test_rows = 0, batch_size = 0, micro_batch = 0, epochs = 0;
  std::vector<float> x, x_test;      // [rows, h, w, c]: channels last whatever the file's layout
  std::vector<std::int32_t> labels, labels_test;
  trainer::ModelConfig model;
};

ConvCase load_case(const std::string& name);

struct Tolerance {
  double weights_atol, weights_rtol, loss_atol, loss_rtol;
};
Tolerance tolerance(const nlohmann::json& ref);
// The optimizer object of a config for these hyperparameters.
nlohmann::json optimizer_json(const nlohmann::json& hyperparameters);

std::vector<float> read_floats(const std::string& npy_path);
// Probabilities against reference logits: per row, log p_i - log p_0 must equal z_i - z_0 within
// tol (softmax keeps exactly the logits' differences).
void check_logits(const std::vector<float>& probabilities, const std::vector<float>& logits, std::int64_t classes,
                  double tol);

}  // namespace conv_fixtures
