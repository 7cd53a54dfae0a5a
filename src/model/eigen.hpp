// Eigen for the model's kernels, included once here so that every kernel file sees the same
// configuration.
//
// GCC 12 reports false -Wmaybe-uninitialized warnings inside its own AVX-512 intrinsics
// headers (pulled in by Eigen under -march=native); they are silenced for these headers only.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
