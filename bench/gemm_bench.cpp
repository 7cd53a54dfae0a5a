// gemm_bench: times single-precision GEMM on the shapes the trainer's MLP uses and on large
// squares, through Eigen 3.4 (row-major Maps, noalias), OpenBLAS's cblas_sgemm, or the trainer's own
// dense-layer products (backend "trainer": its tiling, its thread pool, and the packed AVX-512
// kernel or Eigen as it routes each product), and counts the
// heap allocations and mappings each backend makes per call (an input to the memory plan).
//
// One process measures one backend at one thread count, so two thread pools never share the
// process; bench/gemm_compare.py runs the configurations in interleaved rounds and takes medians.
// OpenBLAS is loaded with dlopen from a path given on the command line, so the pthread and the
// OpenMP builds (Debian installs both side by side) are measured by the same binary, and the
// target builds even where OpenBLAS is not installed.
//
// Usage: gemm_bench --backend eigen|eigen-split|openblas|trainer [--openblas-lib PATH] [--threads N]
//                   [--batches 32,256,2048] [--squares 1024,2048,4096] [--samples 5]
//                   [--min-sample-ms 20] [--no-check]
// Output: JSON lines on stdout (one "info" line, then one line per shape).

#include <Eigen/Core>

#include "../src/model/kernels.hpp"
#include "../src/model/packed_gemm.hpp"
#include "trainer/model.hpp"

#include <dlfcn.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// ---------------------------------------------------------------------------------------------
// Allocation counting. The executable's definitions interpose on libc's for every shared object
// (libstdc++'s operator new, libgomp, a dlopen'ed OpenBLAS), and forward to glibc's internal
// entry points, so nothing else changes. mmap is counted too: OpenBLAS takes its buffers from
// mmap, not malloc, and both count against RLIMIT_DATA.

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::uint64_t> g_alloc_bytes{0};
std::atomic<std::uint64_t> g_largest_alloc{0};
std::atomic<std::uint64_t> g_mmaps{0};
std::atomic<std::uint64_t> g_mmap_bytes{0};

void note_alloc(size_t bytes) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_alloc_bytes.fetch_add(bytes, std::memory_order_relaxed);
  std::uint64_t prev = g_largest_alloc.load(std::memory_order_relaxed);
  while (bytes > prev && !g_largest_alloc.compare_exchange_weak(prev, bytes)) {
  }
}
}  // namespace

extern "C" {
void* malloc(size_t size) noexcept {
  note_alloc(size);
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) noexcept {
  note_alloc(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) noexcept {
  note_alloc(size);
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) noexcept {
  note_alloc(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  note_alloc(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  note_alloc(size);
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_mmaps.fetch_add(1, std::memory_order_relaxed);
    g_mmap_bytes.fetch_add(len, std::memory_order_relaxed);
  }
  return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
}

namespace {

struct AllocCount {
  std::uint64_t allocs = 0, bytes = 0, largest = 0, mmaps = 0, mmap_bytes = 0;
};

void start_counting() {
  g_allocs = 0;
  g_alloc_bytes = 0;
  g_largest_alloc = 0;
  g_mmaps = 0;
  g_mmap_bytes = 0;
  g_counting = true;
}

AllocCount stop_counting() {
  g_counting = false;
  return {g_allocs.load(), g_alloc_bytes.load(), g_largest_alloc.load(), g_mmaps.load(),
          g_mmap_bytes.load()};
}

// Resident and virtual size from /proc, to see what a backend keeps mapped after its first call.
struct ProcMem {
  long rss_kib = 0, vm_kib = 0;
};

ProcMem proc_mem() {
  ProcMem m;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("VmSize:", 0) == 0) m.vm_kib = std::atol(line.c_str() + 7);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// A GEMM problem in row-major cblas terms: C[m,n] = op(A) * op(B), op(A) is m x k, op(B) is k x n.

struct Shape {
  std::string kind;  // fwd, dW, dA, square
  int batch = 0;     // 0 for squares
  int layer = 0;     // 1-based layer of the MLP, 0 for squares
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0;
  double flop() const { return 2.0 * m * n * k; }
};

// The MLP 784-512-256-10 with PyTorch's Linear layout W[out,in]:
//   forward      Z[B,out]  = A[B,in] * W^T            (m=B,   n=out, k=in)
//   weight grad  dW[out,in] = dZ[B,out]^T * A[B,in]   (m=out, n=in,  k=B)
//   input grad   dA[B,in]  = dZ[B,out] * W[out,in]    (m=B,   n=in,  k=out), not for layer 1
std::vector<Shape> mlp_shapes(const std::vector<int>& batches) {
  const int layers[3][2] = {{784, 512}, {512, 256}, {256, 10}};
  std::vector<Shape> shapes;
  for (int b : batches) {
    for (int l = 0; l < 3; ++l) {
      const int in = layers[l][0], out = layers[l][1];
      shapes.push_back({"fwd", b, l + 1, false, true, b, out, in});
      shapes.push_back({"dW", b, l + 1, true, false, out, in, b});
      if (l > 0) shapes.push_back({"dA", b, l + 1, false, false, b, in, out});
    }
  }
  return shapes;
}

// ---------------------------------------------------------------------------------------------
// Backends.

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat>;
using MMap = Eigen::Map<RowMat>;

// The transposes stay inside the product expression, as the trainer writes them: Eigen folds
// them into its packing, nothing is materialised.
void eigen_gemm(const Shape& s, const float* a, const float* b, float* c) {
  MMap C(c, s.m, s.n);
  if (!s.trans_a && !s.trans_b) {
    C.noalias() = CMap(a, s.m, s.k) * CMap(b, s.k, s.n);
  } else if (!s.trans_a && s.trans_b) {
    C.noalias() = CMap(a, s.m, s.k) * CMap(b, s.n, s.k).transpose();
  } else if (s.trans_a && !s.trans_b) {
    C.noalias() = CMap(a, s.k, s.m).transpose() * CMap(b, s.k, s.n);
  } else {
    C.noalias() = CMap(a, s.k, s.m).transpose() * CMap(b, s.n, s.k).transpose();
  }
}

// The trainer-level alternative to Eigen's own OpenMP split: one parallel region, each thread runs
// a single-threaded Eigen GEMM on its block of C's rows (op(A)'s rows; for dW those are columns of
// the stored dZ, hence the strided map). No barrier inside the GEMM, and with a raised
// EIGEN_STACK_ALLOCATION_LIMIT no heap allocation either.
using StridedCMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;

void eigen_split_gemm(const Shape& s, const float* a, const float* b, float* c) {
#pragma omp parallel
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int m0 = static_cast<int>(static_cast<long>(s.m) * t / nt);
    const int m1 = static_cast<int>(static_cast<long>(s.m) * (t + 1) / nt);
    if (m1 > m0) {
      MMap C(c + static_cast<long>(m0) * s.n, m1 - m0, s.n);
      if (!s.trans_a) {
        CMap A(a + static_cast<long>(m0) * s.k, m1 - m0, s.k);
        if (s.trans_b) C.noalias() = A * CMap(b, s.n, s.k).transpose();
        else C.noalias() = A * CMap(b, s.k, s.n);
      } else {
        StridedCMap At(a + m0, s.k, m1 - m0, Eigen::OuterStride<>(s.m));
        if (s.trans_b) C.noalias() = At.transpose() * CMap(b, s.n, s.k).transpose();
        else C.noalias() = At.transpose() * CMap(b, s.k, s.n);
      }
    }
  }
}

// The trainer's kernels, as a dense layer calls them. The weight gradient stores into c, as the
// first micro-batch of a step does; the forward product adds a zero bias with the linear
// activation in the same pass over each tile, as training does.
void trainer_gemm(const Shape& s, const float* a, const float* b, float* c) {
  using namespace trainer::model;
  if (!s.trans_a && s.trans_b) {
    static std::vector<float> zero_bias;
    if (zero_bias.size() < static_cast<size_t>(s.n)) zero_bias.assign(static_cast<size_t>(s.n), 0.0f);
    dense_forward<float>(a, b, zero_bias.data(), trainer::Activation::linear, c, c, false, s.m, s.n, s.k);
  } else if (s.trans_a && !s.trans_b) {
    gemm_weight_grad<float>(a, b, c, s.m, s.n, s.k, false);
  } else if (!s.trans_a && !s.trans_b) {
    gemm_input_grad<float>(a, b, c, s.m, s.n, s.k);
  } else {
    throw std::runtime_error("no trainer product has both operands transposed");
  }
}

// The few OpenBLAS entry points used, resolved from the dlopen'ed library. The enum values are
// the CBLAS standard's (cblas.h): RowMajor=101, NoTrans=111, Trans=112.
struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
  Sgemm sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
  int (*get_parallel)() = nullptr;
  char* (*get_config)() = nullptr;
  char* (*get_corename)() = nullptr;
};

template <typename F>
F resolve(void* lib, const char* name) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) throw std::runtime_error(std::string("OpenBLAS symbol not found: ") + name);
  F f;
  std::memcpy(&f, &sym, sizeof f);
  return f;
}

OpenBlas load_openblas(const std::string& path) {
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) throw std::runtime_error("cannot load " + path + ": " + dlerror());
  OpenBlas ob;
  ob.sgemm = resolve<OpenBlas::Sgemm>(lib, "cblas_sgemm");
  ob.set_num_threads = resolve<void (*)(int)>(lib, "openblas_set_num_threads");
  ob.get_num_threads = resolve<int (*)()>(lib, "openblas_get_num_threads");
  ob.get_parallel = resolve<int (*)()>(lib, "openblas_get_parallel");
  ob.get_config = resolve<char* (*)()>(lib, "openblas_get_config");
  ob.get_corename = resolve<char* (*)()>(lib, "openblas_get_corename");
  return ob;
}

void openblas_gemm(const OpenBlas& ob, const Shape& s, const float* a, const float* b, float* c) {
  const int lda = s.trans_a ? s.m : s.k;
  const int ldb = s.trans_b ? s.k : s.n;
  ob.sgemm(101, s.trans_a ? 112 : 111, s.trans_b ? 112 : 111, s.m, s.n, s.k, 1.0f, a, lda, b, ldb,
           0.0f, c, s.n);
}

// ---------------------------------------------------------------------------------------------
// Measurement.

struct Options {
  std::string backend = "eigen";
  std::string openblas_lib = "libopenblas.so.0";
  int threads = 1;
  std::vector<int> batches{32, 256, 2048};
  std::vector<int> squares{1024, 2048, 4096};
  int samples = 5;
  double min_sample_ms = 20.0;
  bool check = true;
};

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(std::stoi(item));
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--backend") o.backend = value();
    else if (arg == "--openblas-lib") o.openblas_lib = value();
    else if (arg == "--threads") o.threads = std::stoi(value());
    else if (arg == "--batches") o.batches = parse_list(value());
    else if (arg == "--squares") o.squares = parse_list(value());
    else if (arg == "--samples") o.samples = std::stoi(value());
    else if (arg == "--min-sample-ms") o.min_sample_ms = std::stod(value());
    else if (arg == "--no-check") o.check = false;
    else throw std::runtime_error("unknown argument " + arg + " (see the header of gemm_bench.cpp)");
  }
  if (o.backend != "eigen" && o.backend != "eigen-split" && o.backend != "openblas" && o.backend != "trainer")
    throw std::runtime_error("--backend must be eigen, eigen-split, openblas or trainer, not " + o.backend);
  if (o.threads < 1 || o.samples < 1) throw std::runtime_error("--threads and --samples must be >= 1");
  return o;
}

struct Buffer {
  float* data = nullptr;
  explicit Buffer(size_t n, std::mt19937& rng) {
    data = static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64));
    if (data == nullptr) throw std::runtime_error("out of memory");
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    for (size_t i = 0; i < n; ++i) data[i] = dist(rng);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data); }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs the first shape for a while before anything is timed: the first shape measured in a
// process came out up to 2x slower than the same shape measured later (thread start-up, clock
// ramp-up), whatever its size.
template <typename Gemm>
void warm_up(const Shape& s, Gemm&& gemm, std::mt19937& rng) {
  const size_t sm = static_cast<size_t>(s.m), sn = static_cast<size_t>(s.n), sk = static_cast<size_t>(s.k);
  Buffer a(sm * sk, rng), b(sk * sn, rng), c(sm * sn, rng);
  const auto t0 = std::chrono::steady_clock::now();
  while (seconds_since(t0) < 0.3) gemm(s, a.data, b.data, c.data);
}

template <typename Gemm>
void measure(const Options& o, const Shape& s, Gemm&& gemm, std::mt19937& rng) {
  const size_t sm = static_cast<size_t>(s.m), sn = static_cast<size_t>(s.n),
               sk = static_cast<size_t>(s.k);
  Buffer a(sm * sk, rng), b(sk * sn, rng), c(sm * sn, rng);

  // The first call pays for lazy buffers and thread start-up; counted separately from the
  // steady state the trainer lives in.
  const ProcMem before = proc_mem();
  start_counting();
  gemm(s, a.data, b.data, c.data);
  const AllocCount first = stop_counting();
  const ProcMem after = proc_mem();
  gemm(s, a.data, b.data, c.data);

  const int counted_calls = 4;
  start_counting();
  for (int i = 0; i < counted_calls; ++i) gemm(s, a.data, b.data, c.data);
  const AllocCount steady = stop_counting();

  double max_rel_err = -1.0;
  if (o.check && o.backend != "eigen" && s.flop() <= 2.0 * 1024.0 * 1024.0 * 1024.0) {
    // Same product through plain Eigen on one thread (no OpenMP region, so no second pool).
    Eigen::setNbThreads(1);
    Buffer ref(sm * sn, rng);
    eigen_gemm(s, a.data, b.data, ref.data);
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < sm * sn; ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(ref.data[i] - c.data[i])));
      scale = std::max(scale, static_cast<double>(std::fabs(ref.data[i])));
    }
    max_rel_err = scale > 0.0 ? worst / scale : worst;
  }

  const auto t_cal = std::chrono::steady_clock::now();
  gemm(s, a.data, b.data, c.data);
  const double one = std::max(seconds_since(t_cal), 1e-7);
  const int reps = std::clamp(static_cast<int>(o.min_sample_ms * 1e-3 / one) + 1, 1, 100000);

  std::vector<double> per_call;
  for (int r = 0; r < o.samples; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) gemm(s, a.data, b.data, c.data);
    per_call.push_back(seconds_since(t0) / reps);
  }
  std::sort(per_call.begin(), per_call.end());
  const double median = per_call[per_call.size() / 2];

  std::printf(
      "{\"backend\":\"%s\",\"threads\":%d,\"kind\":\"%s\",\"batch\":%d,\"layer\":%d,"
      "\"m\":%d,\"n\":%d,\"k\":%d,\"trans_a\":%s,\"trans_b\":%s,\"flop\":%.0f,"
      "\"calls_per_sample\":%d,\"seconds_median\":%.9g,\"gflops_median\":%.2f,"
      "\"gflops_best\":%.2f,"
      "\"first_call\":{\"allocs\":%llu,\"alloc_bytes\":%llu,\"largest_alloc\":%llu,"
      "\"mmaps\":%llu,\"mmap_bytes\":%llu,\"rss_delta_kib\":%ld,\"vm_delta_kib\":%ld},"
      "\"steady_per_call\":{\"allocs\":%.2f,\"alloc_bytes\":%.0f,\"largest_alloc\":%llu,"
      "\"mmaps\":%.2f},\"max_rel_err\":%.3g}\n",
      o.backend.c_str(), o.threads, s.kind.c_str(), s.batch, s.layer, s.m, s.n, s.k,
      s.trans_a ? "true" : "false", s.trans_b ? "true" : "false", s.flop(), reps, median,
      s.flop() / median * 1e-9, s.flop() / per_call.front() * 1e-9,
      static_cast<unsigned long long>(first.allocs), static_cast<unsigned long long>(first.bytes),
      static_cast<unsigned long long>(first.largest), static_cast<unsigned long long>(first.mmaps),
      static_cast<unsigned long long>(first.mmap_bytes), after.rss_kib - before.rss_kib,
      after.vm_kib - before.vm_kib, static_cast<double>(steady.allocs) / counted_calls,
      static_cast<double>(steady.bytes) / counted_calls,
      static_cast<unsigned long long>(steady.largest),
      static_cast<double>(steady.mmaps) / counted_calls, max_rel_err);
  std::fflush(stdout);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out;
}

int run(const Options& o) {
  std::mt19937 rng(12345);
  std::vector<Shape> shapes = mlp_shapes(o.batches);
  for (int n : o.squares) shapes.push_back({"square", 0, 0, false, false, n, n, n});

  const ProcMem start = proc_mem();
  if (o.backend == "eigen" || o.backend == "eigen-split") {
    const bool split = o.backend == "eigen-split";
    // eigen-split: the GEMMs themselves run on one thread, the parallel region is ours.
    Eigen::setNbThreads(split ? 1 : o.threads);
    omp_set_num_threads(o.threads);
    std::printf(
        "{\"info\":true,\"backend\":\"%s\",\"eigen_version\":\"%d.%d.%d\",\"simd\":\"%s\","
        "\"threads\":%d,\"eigen_nb_threads\":%d,\"stack_allocation_limit\":%ld,\"rss_kib\":%ld,"
        "\"vm_kib\":%ld}\n",
        o.backend.c_str(), EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
        Eigen::SimdInstructionSetsInUse(), o.threads, Eigen::nbThreads(),
        static_cast<long>(EIGEN_STACK_ALLOCATION_LIMIT), start.rss_kib,
        start.vm_kib);
    std::fflush(stdout);
    warm_up(shapes.front(), split ? eigen_split_gemm : eigen_gemm, rng);
    for (const Shape& s : shapes) measure(o, s, split ? eigen_split_gemm : eigen_gemm, rng);
    return 0;
  }

  if (o.backend == "trainer") {
    const int threads = trainer::set_compute_threads(o.threads);
    std::printf("{\"info\":true,\"backend\":\"trainer\",\"threads\":%d,\"packed_kernel\":%s,\"rss_kib\":%ld,"
                "\"vm_kib\":%ld}\n",
                threads, trainer::model::packed_gemm_available() ? "true" : "false", start.rss_kib, start.vm_kib);
    std::fflush(stdout);
    warm_up(shapes.front(), trainer_gemm, rng);
    for (const Shape& s : shapes) measure(o, s, trainer_gemm, rng);
    return 0;
  }

  start_counting();
  const OpenBlas ob = load_openblas(o.openblas_lib);
  ob.set_num_threads(o.threads);
  const AllocCount load = stop_counting();
  const ProcMem loaded = proc_mem();
  std::printf(
      "{\"info\":true,\"backend\":\"openblas\",\"lib\":\"%s\",\"config\":\"%s\","
      "\"corename\":\"%s\",\"parallel\":%d,\"threads\":%d,\"openblas_threads\":%d,"
      "\"load\":{\"allocs\":%llu,\"alloc_bytes\":%llu,\"mmaps\":%llu,\"mmap_bytes\":%llu,"
      "\"rss_delta_kib\":%ld,\"vm_delta_kib\":%ld}}\n",
      json_escape(o.openblas_lib).c_str(), json_escape(ob.get_config()).c_str(),
      json_escape(ob.get_corename()).c_str(), ob.get_parallel(), o.threads, ob.get_num_threads(),
      static_cast<unsigned long long>(load.allocs), static_cast<unsigned long long>(load.bytes),
      static_cast<unsigned long long>(load.mmaps), static_cast<unsigned long long>(load.mmap_bytes),
      loaded.rss_kib - start.rss_kib, loaded.vm_kib - start.vm_kib);
  std::fflush(stdout);
  auto gemm = [&ob](const Shape& s, const float* a, const float* b, float* c) {
    openblas_gemm(ob, s, a, b, c);
  };
  warm_up(shapes.front(), gemm, rng);
  for (const Shape& s : shapes) measure(o, s, gemm, rng);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_bench: %s\n", e.what());
    return 2;
  }
}
