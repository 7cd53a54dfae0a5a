// Every training run of the shared PyTorch fixtures (train/<case>/<run>), as an X-macro list,
// so the model-level and the fit-level reference tests and the coverage check use one list.
#pragma once

#define TRAINER_REFERENCE_RUNS(X)                   \
  X("relu_divisible", "sgd")                        \
  X("relu_divisible", "sgd_momentum")               \
  X("relu_divisible", "adam")                       \
  X("relu_divisible", "adamw")                      \
  X("relu_partial_batch", "sgd")                    \
  X("relu_partial_batch", "sgd_momentum")           \
  X("relu_partial_batch", "sgd_nesterov")           \
  X("relu_partial_batch", "sgd_weight_decay")       \
  X("relu_partial_batch", "sgd_momentum_weight_decay") \
  X("relu_partial_batch", "adam")                   \
  X("relu_partial_batch", "adam_l2")                \
  X("relu_partial_batch", "adamw")                  \
  X("relu_partial_batch", "sgd_momentum_custom")    \
  X("relu_partial_batch", "adam_custom")            \
  X("tanh_3hidden", "sgd_momentum")                 \
  X("tanh_3hidden", "adam")                         \
  X("sigmoid_1hidden", "sgd_nesterov")              \
  X("sigmoid_1hidden", "adamw")                     \
  X("mse_regression_1d", "sgd")                     \
  X("mse_regression_1d", "adam")                    \
  X("mse_regression_multi", "sgd_momentum_weight_decay") \
  X("mse_regression_multi", "adamw")                \
  X("grad_accum_fullbatch", "sgd")                  \
  X("grad_accum_fullbatch", "sgd_momentum")         \
  X("grad_accum_fullbatch", "adam")                 \
  X("grad_accum_fullbatch", "adamw")
