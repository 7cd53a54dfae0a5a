// The output buffer of a layer that ends in an activation (dense, conv2d, batch_norm): the
// activated values kept for backward, and for gelu also the values before it (its derivative
// needs them; the others take theirs from the output). Backward turns the gradient with respect
// to the output into the gradient before the activation, in the output buffer.
#pragma once

#include "../kernels.hpp"
#include "layer.hpp"

namespace trainer::model {

template <class T>
struct ActivatedOutput {
  Activation f = Activation::linear;
  T* z = nullptr;  // [rows, width] before the activation (gelu only)
  T* a = nullptr;  // [rows, width] after it; the gradient before it during backward

  bool keeps_z() const { return f == Activation::gelu; }
  void carve(Carver& c, Index count) {
    if (keeps_z()) c.take(z, count, "activations", "activations kept for backward");
    c.take(a, count, "activations", "activations kept for backward");
  }
  // Where the pre-activation values go: z when kept, else straight into a.
  T* pre() const { return keeps_z() ? z : a; }
  // a = dL/d(pre-activation), from g = dL/d(output) (g may be a itself).
  void to_pre_activation_grad(const T* g, Index count) const {
    if (g == a && f == Activation::linear) return;
    activation_backward(f, z, a, g, a, count);
  }
};

}  // namespace trainer::model
