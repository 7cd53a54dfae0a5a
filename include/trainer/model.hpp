// The network: a sequence of layers (dense, dropout, conv2d, pooling, batch_norm, flatten,
// global_avg_pool; src/model/layers/) over flat parameter storage.
//
// Memory follows one size table (see plan_*): parameters, gradients and optimizer state are
// parallel flat float spans with identical per-tensor offsets (ParamLayout); everything a
// micro-batch step touches is carved from one caller-owned workspace sized by plan_train(b).
// After bind(), train_micro_batch() and evaluate() allocate nothing.
//
// Eigen stays out of this header so that files including it compile quickly.
//
// Conventions (fixtures/public/README.md and conv/README.md): z = a W^T + b with W [out, in]
// row-major; conv2d weights [out, in, kh, kw] as PyTorch's; images are NHWC inside the network
// and flatten orders values channel, row, column (PyTorch's NCHW flatten); hidden layers apply
// their activation, the last dense layer none (softmax, sigmoid or identity is implied by the
// loss); losses are means over the batch, which train_micro_batch realises through grad_scale.
// Dropout is inverted (kept values scaled by 1/(1-rate)), its mask a pure function of
// (dropout_seed, layer, element), and off in evaluate(). batch_norm normalises by the batch's
// statistics while training and updates its running statistics (buffers at the end of the
// parameters, outside the gradients); evaluate() uses the running statistics.
//
// Thread-safety: one Network per thread; GEMMs and elementwise passes inside use the thread
// count of set_compute_threads(). Results are bitwise reproducible for a given thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trainer/config.hpp"
#include "trainer/sample_shape.hpp"

namespace trainer {

// One tensor inside the flat parameter storage, in PyTorch's names and layouts:
// dense<i>.weight [out, in], conv<i>.weight [out, in, kh, kw], <kind><i>.bias [out],
// bn<i>.weight/.bias [C] and the buffers bn<i>.running_mean/.running_var [C].
struct TensorSlot {
  std::string name;                 // "dense0.weight"
  std::vector<std::int64_t> shape;  // [out, in] or [out]
  std::int64_t offset = 0;          // in floats
  std::int64_t count = 0;
  bool buffer = false;              // updated by the forward pass, not by the optimizer
};

// Trainable tensors first, in layer order, then the buffers: gradients and optimizer state
// cover the first `trainable` floats.
struct ParamLayout {
  std::vector<TensorSlot> tensors;
  std::int64_t total = 0;      // floats
  std::int64_t trainable = 0;  // floats with a gradient
};

// A line of a memory breakdown: a stable snake_case key (JSON), a readable name (text).
struct MemoryItem {
  std::string key;
  std::string name;
  std::uint64_t bytes = 0;
};

// A float product the network runs: output [m, n], depth k. A smaller batch (a partial
// micro-batch, a convolution's last chunk of samples) shrinks its rows, or, for a weight
// gradient, whose depth is the batch's rows, its depth: to a multiple of `step` (a sample's
// rows: 1, or a convolution's output pixels).
struct GemmProduct {
  std::int64_t m = 0, n = 0, k = 0;
  bool depth_is_batch = false;
  std::int64_t step = 1;
};

// One layer as probe-batch lists it.
struct LayerSummary {
  std::size_t index = 0;
  std::string type;                        // "conv2d"
  std::vector<std::int64_t> output_shape;  // [C, H, W] or [units], PyTorch's order
  std::int64_t parameters = 0;             // trainable floats
  std::uint64_t activation_bytes_per_sample = 0;  // what the layer keeps per training sample
};

struct BatchStats {
  double loss_sum = 0;        // sum over samples of the per-sample loss
  std::int64_t correct = 0;   // classification: argmax == label (BCE: logit > 0, i.e. p > 0.5)
  std::int64_t samples = 0;
};

class Network {
 public:
  // Builds the layers for samples of `input` shape (an image model needs an image). Throws
  // Error::usage naming /model/layers/<i> and both shapes for an impossible stack (a kernel
  // larger than its padded input, dense after a spatial layer without flatten, no dense layer,
  // BCE with more than one output).
  Network(const ModelConfig& config, const SampleShape& input);
  // Flat samples of `input_width` values.
  Network(const ModelConfig& config, std::int64_t input_width);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const ParamLayout& layout() const;
  const SampleShape& input_shape() const;
  std::int64_t input_width() const;
  std::int64_t outputs() const;  // units of the last dense layer
  Loss loss() const;
  // Whether the first layer is dense, reading the inputs: its weights are layout().tensors[0].
  bool first_layer_dense() const;
  bool has_batch_norm() const;
  std::vector<LayerSummary> layers() const;
  // The float products of a training step at `micro` rows and of a forward-only pass at `eval`
  // rows, as the layers run them (what the GEMM stack scratch is planned from).
  std::vector<GemmProduct> gemm_products(std::int64_t micro, std::int64_t eval) const;

  // Workspace bytes for training micro-batches of up to `batch` samples (activations kept for
  // backward, the gradient buffer, the shared layer workspace, dropout masks, batch-norm
  // statistics), one item per kind, 64-byte aligned sizes.
  std::vector<MemoryItem> plan_train(std::int64_t batch) const;
  // Workspace bytes for forward-only passes of up to `batch` samples.
  std::vector<MemoryItem> plan_eval(std::int64_t batch) const;
  static std::uint64_t total(const std::vector<MemoryItem>& items);

  // Attaches storage. params: layout().total floats; grads: layout().trainable. train_ws: total(plan_train(max_train))
  // bytes, 64-byte aligned; eval_ws likewise for plan_eval(max_eval) (may be empty if unused).
  void bind(float* params, float* grads, std::span<std::byte> train_ws, std::int64_t max_train,
            std::span<std::byte> eval_ws, std::int64_t max_eval);

  // Seeded initialisation of the bound parameters (weights by config.init, biases 0; batch
  // norm: weight 1, bias 0, running mean 0, running variance 1).
  void init_weights(std::uint64_t seed);

  // Forward + backward on n <= max_train rows in training mode (dropout on, seeded by
  // dropout_seed). ADDS grad_scale * (sum over rows of d loss_row / d params) into grads:
  // with grad_scale = 1/B for an effective batch of B samples split over micro-batches, the
  // accumulated gradient equals the gradient of the mean loss over the whole batch. With
  // Gradients::overwrite (the first micro-batch of a step) it stores them instead, so grads
  // need no clearing pass.
  // labels: class ids (cross_entropy, binary_cross_entropy) or null; targets: [n, outputs]
  // float values (mse) or null. Returns loss sum and accuracy counts of this forward pass.
  // REQUIRES: 1 <= n <= max_train, grads bound, labels (or targets for mse) given; otherwise
  // Error (exit 1). A label outside the classes throws Error (exit 3).
  // Rows are a prefix of the bound buffers, so a last partial batch needs nothing special.
  enum class Gradients { accumulate, overwrite };
  BatchStats train_micro_batch(const float* x, const std::int32_t* labels, const float* targets,
                               std::int64_t n, float grad_scale, std::uint64_t dropout_seed,
                               Gradients gradients = Gradients::accumulate);

  // Forward only, evaluation mode (no dropout), 0 <= n <= max_eval rows (larger sets: call it
  // per chunk and sum the stats). If outputs != null it receives [n, outputs()] model outputs
  // (softmax probabilities for cross_entropy, sigmoid for binary_cross_entropy, values for
  // mse). labels/targets may be null (predict): loss and accuracy are then 0.
  BatchStats evaluate(const float* x, const std::int32_t* labels, const float* targets,
                      std::int64_t n, float* outputs);

 private:
  struct Impl;
  Impl* impl_;
};

// Sets the number of threads the GEMMs use (0 = all cores). Returns the number in effect.
// Also sets omp_set_num_threads. Eigen's own GEMM threading stays off (setNbThreads(1)): it
// heap-allocates packing buffers at every product. The kernels split products into tiles
// over OpenMP threads instead. Before the first call, the kernels use 1 thread.
int set_compute_threads(int threads);

// How the kernels run a float product with output [m, n] and depth k on `threads` compute
// threads: the largest output tile, how many threads share the tiles, whether the tiles run on
// the packed AVX-512 kernel or on Eigen, and the stack bytes the one or the other packs a tile's
// operands into (0 when it does not pack). packing_bound is the most that any product no larger
// than [m, n] x k packs: a run's partial micro-batches and last evaluation chunk are smaller
// products whose packing is not always smaller. The memory plan's "GEMM scratch" is built from
// the bound, so it follows any change of the tiling.
struct GemmTiling {
  std::int64_t tile_m = 0, tile_n = 0;
  int threads = 1;
  bool packed = false;
  std::uint64_t packing_bytes = 0;
  std::uint64_t packing_bound = 0;
};
GemmTiling gemm_tiling(std::int64_t m, std::int64_t n, std::int64_t k, int threads);

// The stack bytes one product (and every smaller one of its batch) packs: on the thread that
// calls it, and on each other compute thread when it is split over them.
struct GemmStackBound {
  std::uint64_t caller = 0, worker = 0;
};
GemmStackBound gemm_stack_bound(const GemmProduct& product, int threads);

// Packed blocks above this size would go to the heap (EIGEN_STACK_ALLOCATION_LIMIT in the kernels).
inline constexpr std::uint64_t kGemmStackLimit = 4 * 1024 * 1024;

}  // namespace trainer
