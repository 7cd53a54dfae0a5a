// Hidden-layer activations: the fused bias+activation pass after each GEMM and its derivative.
//
// Derivatives are taken from the kept output where the function allows it (relu: a > 0 as
// torch does, tanh: 1 - a^2, sigmoid: a(1 - a)), so only gelu keeps its pre-activation.
// gelu is the exact erf form (torch's default approximate='none').
#include "eigen.hpp"
#include <cmath>

#include "kernels.hpp"
#include "parallel.hpp"

namespace trainer::model {
namespace {

template <class T>
using RowArr = Eigen::Array<T, 1, Eigen::Dynamic>;
template <class T>
using FlatArr = Eigen::Array<T, Eigen::Dynamic, 1>;

constexpr double kLeakySlope = 0.01;

template <class T>
T gelu(T v) {
  return T(0.5) * v * (T(1) + std::erf(v * T(M_SQRT1_2)));
}

template <class T>
T gelu_derivative(T v) {
  const T cdf = T(0.5) * (T(1) + std::erf(v * T(M_SQRT1_2)));
  const T pdf = std::exp(T(-0.5) * v * v) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
  return cdf + v * pdf;
}

// a = f(v) over one row; v and a may be the same memory.
template <class T, class V>
void apply(Activation f, const V& v, Eigen::Map<RowArr<T>>& a) {
  switch (f) {
    case Activation::relu: a = v.max(T(0)); break;
    case Activation::leaky_relu: a = (v > T(0)).select(v, v * T(kLeakySlope)); break;
    case Activation::tanh: a = v.tanh(); break;
    case Activation::sigmoid: a = (T(1) + (-v).exp()).inverse(); break;
    case Activation::gelu: a = v.unaryExpr([](T x) { return gelu(x); }); break;
    case Activation::linear: a = v; break;
  }
}

}  // namespace

template <class T>
void bias_activation_tile(Activation f, T* z, T* a, const T* bias, Index rows, Index cols, Index ld,
                          bool keep_z) {
  if (bias == nullptr) {  // a layer without bias
    if (f == Activation::linear && z == a) return;
    for (Index r = 0; r < rows; ++r) {
      Eigen::Map<RowArr<T>> zr(z + r * ld, cols);
      Eigen::Map<RowArr<T>> ar(a + r * ld, cols);
      apply<T>(f, zr, ar);
    }
    return;
  }
  const Eigen::Map<const RowArr<T>> b(bias, cols);
  for (Index r = 0; r < rows; ++r) {
    Eigen::Map<RowArr<T>> zr(z + r * ld, cols);
    Eigen::Map<RowArr<T>> ar(a + r * ld, cols);
    if (keep_z) {
      zr += b;
      apply<T>(f, zr, ar);
    } else {
      apply<T>(f, zr + b, ar);  // one pass: read z, write a (possibly in place)
    }
  }
}

template <class T>
void activation_backward(Activation f, const T* z, const T* a, const T* da, T* dz, Index count) {
  parallel_rows(count, 4, [&](Index i0, Index i1) {
    const Index n = i1 - i0;
    const Eigen::Map<const FlatArr<T>> A(a + i0, n);
    const Eigen::Map<const FlatArr<T>> DA(da + i0, n);
    Eigen::Map<FlatArr<T>> DZ(dz + i0, n);
    switch (f) {
      case Activation::relu: DZ = (A > T(0)).select(DA, T(0)); break;
      case Activation::leaky_relu: DZ = (A > T(0)).select(DA, DA * T(kLeakySlope)); break;
      case Activation::tanh: DZ = DA * (T(1) - A.square()); break;
      case Activation::sigmoid: DZ = DA * A * (T(1) - A); break;
      case Activation::gelu:
        for (Index i = i0; i < i1; ++i) dz[i] = da[i] * gelu_derivative(z[i]);
        break;
      case Activation::linear: DZ = DA; break;
    }
  });
}

#define TRAINER_INSTANTIATE(T)                                                                 \
  template void bias_activation_tile<T>(Activation, T*, T*, const T*, Index, Index, Index, bool); \
  template void activation_backward<T>(Activation, const T*, const T*, const T*, T*, Index);
TRAINER_INSTANTIATE(float)
TRAINER_INSTANTIATE(double)
#undef TRAINER_INSTANTIATE

}  // namespace trainer::model
