// Direct single-precision convolution for layers whose window holds few values (K = kh kw C of
// at most kDirectConvMaxDepth: a first layer on one channel, 3x3), with AVX-512.
//
// Unfolding such a layer (im2col) copies K values per output pixel to do 2K multiply-adds per
// 32 filters with them, so the copies, not the arithmetic, set its speed (the Fashion-MNIST
// model's first layer took 6 times as long as its FLOPs at the GEMM kernel's rate). Here the
// weights of 32 filters for all K window positions stay in registers, and each output pixel costs
// K broadcasts of its input values and 2K multiply-adds; the weight gradient keeps its [K, 32]
// block of sums in registers the same way. Borders read a zero-padded copy of one sample at a
// time (direct_conv_scratch_floats), so every window is read the same way.
//
// Compiled for AVX-512 in every x86-64 build and chosen at run time (direct_conv_available), as
// the packed GEMM kernel is; the caller keeps its im2col path for everything else.
#pragma once

#include <cstdint>

namespace trainer::model {

using Index = std::int64_t;

inline constexpr Index kDirectConvMaxDepth = 12;

struct DirectConvShape {
  Index h, w, c;         // input
  Index oh, ow, f;       // output
  Index kh, kw, sh, sw;  // kernel, stride
  Index ph, pw;          // zeros before the input
  Index depth() const { return kh * kw * c; }
};

// Whether the kernels run here (AVX-512) and take this shape (depth at most kDirectConvMaxDepth).
bool direct_conv_available(const DirectConvShape& g);
// Floats of scratch the kernels need (one zero-padded sample).
Index direct_conv_scratch_floats(const DirectConvShape& g);

// out[s, oh, ow, f] = bias[f] + sum over the window of x * wt, for samples [0, samples) of x
// ([samples, h, w, c]); wt is [K, F] with K ordered kernel row, kernel column, channel; bias may
// be null. relu: out = max(out, 0). out is [samples, oh, ow, F].
void direct_conv_forward(const DirectConvShape& g, const float* x, Index samples, const float* wt, const float* bias,
                         bool relu, float* out, float* scratch);

// dwt[K, F] = sum over the samples' output pixels of the window's values times dz, db[F] = sum of
// dz (+= both with accumulate; db may be null). dz is g ([samples, oh, ow, F]), or, with relu_of
// (the layer's kept relu output, same shape), g where relu_of > 0 and zero elsewhere.
void direct_conv_weight_grad(const DirectConvShape& g, const float* x, Index samples, const float* dz,
                             const float* relu_of, float* dwt, float* db, bool accumulate, float* scratch);

}  // namespace trainer::model
