// Internal numeric kernels of the network: GEMMs, fused bias+activation, losses, dropout,
// initialisers. Every buffer is batch-major and row-major ([rows, cols], row stride = cols).
//
// Templated on the scalar so that a double instantiation exists for finite-difference
// gradient checks; float is what the trainer runs. Explicit instantiations for float and
// double live in the .cpp files. Eigen stays out of this header.
//
// No kernel allocates. Kernels run on the calling thread except the GEMMs and the
// elementwise passes, which split their output over compute_threads() OpenMP threads.
#pragma once

#include <cstdint>

#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace trainer::model {

using Index = std::int64_t;

// Threads the kernels use (set by trainer::set_compute_threads; 1 before it is called).
int compute_threads();

// ---- dense_kernels.cpp: GEMMs over row-major buffers, tiled and split over threads ----

// A dense layer's forward: z[m, n] = x[m, k] * w[n, k]^T (PyTorch Linear), then on each output
// tile right after its GEMM, while it is in cache: v = z + bias; out = f(v). With keep_z, z
// keeps v and out is a separate buffer; otherwise out == z (in place). bias may be null.
template <class T>
void dense_forward(const T* x, const T* w, const T* bias, Activation f, T* z, T* out, bool keep_z,
                   Index m, Index n, Index k);
// da[m, n] = dz[m, k] * w[k, n]              (gradient w.r.t. a layer's input)
template <class T>
void gemm_input_grad(const T* dz, const T* w, T* da, Index m, Index n, Index k);
// dw[m, n] += dz[b, m]^T * a[b, n]           (weight gradient; = without accumulate)
template <class T>
void gemm_weight_grad(const T* dz, const T* a, T* dw, Index m, Index n, Index b, bool accumulate = true);
// db[n] += sum over rows of dz[rows, n]      (= without accumulate)
template <class T>
void bias_grad(const T* dz, T* db, Index rows, Index n, bool accumulate = true);

// ---- activations.cpp ----

// One pass over a [rows, cols] tile at row stride ld: v = z + bias; a = f(v). If keep_z, z
// receives v and a is a separate buffer (gelu needs v for its derivative); otherwise a == z is
// allowed (in place). bias points at the tile's first column, or is null (no bias).
template <class T>
void bias_activation_tile(Activation f, T* z, T* a, const T* bias, Index rows, Index cols, Index ld,
                          bool keep_z);
// dz = da * f'(.), from the kept output a (relu, leaky_relu, tanh, sigmoid, linear) or the kept
// pre-activation z (gelu). dz may alias a or da (elementwise).
template <class T>
void activation_backward(Activation f, const T* z, const T* a, const T* da, T* dz, Index count);

// ---- losses.cpp ----

// Loss of a batch of logits z[rows, cols]: accumulates per-sample losses and correct counts.
// If grad: z is overwritten with scale * d loss_row / d z (softmax - onehot, 2(z-y)/T, or
// sigmoid - y). If outputs != null it receives probabilities / sigmoid / raw values.
// labels (classification) or targets (mse) may both be null: no loss is computed then.
template <class T>
BatchStats loss_forward(Loss loss, T* z, Index rows, Index cols, const std::int32_t* labels,
                        const float* targets, bool grad, T scale, T* outputs);

// ---- dropout.cpp ----

// Inverted dropout: out = in * keep / (1 - rate), keep drawn from (seed, salt, element index)
// by a counter-based hash, so the mask is reproducible and costs no RNG state.
template <class T>
void dropout_forward(const T* in, T* out, std::uint8_t* mask, Index count, double rate,
                     std::uint64_t seed, std::uint64_t salt);
// g *= mask / (1 - rate), in place.
template <class T>
void dropout_backward(T* g, const std::uint8_t* mask, Index count, double rate);

// ---- initializers.cpp ----

// Fills w[out, in] by `init` from a deterministic stream (seed, tensor) independent of the
// standard library's distributions.
template <class T>
void init_dense_weight(Init init, T* w, Index out, Index in, std::uint64_t seed, std::uint64_t tensor);

std::uint64_t splitmix64(std::uint64_t x);

}  // namespace trainer::model
