// Gather throughput of the data layer: rows of a memory-mapped .npy file converted into a
// float32 staging buffer, for uint8 and float32 inputs, in file order and in a shuffled epoch
// order, against a plain memcpy of the same source bytes from the same mapping.
//
// Usage: gather_bench [ROWS] [WIDTH] [BATCH] [CHANNELS]   (defaults 60000 784 256 0)
// CHANNELS > 0 reads each row as CHANNELS planes stored channels first (an NCHW image file) and
// gathers it channels last, as the image path does (data.layout nchw).
// GB/s counts bytes written to staging (rows x width x 4), so the dtypes compare directly;
// the memcpy baseline copies the same source bytes (rows x width x itemsize).
#include <sys/mman.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "trainer/dataset.hpp"
#include "trainer/npy.hpp"
#include "trainer/npy_writer.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Result {
  double gather_gbs, memcpy_gbs;
};

Result measure(const trainer::NpyArray& a, const std::vector<std::int64_t>& order, std::int64_t batch, int reps,
               std::int64_t channels) {
  const std::int64_t width = a.row_width();
  const auto item = a.header().item_size;
  std::vector<float> staging(static_cast<std::size_t>(batch * width));
  std::vector<unsigned char> raw(static_cast<std::size_t>(batch * width) * item);
  const auto n = static_cast<std::int64_t>(order.size());
  double best_gather = 1e30, best_copy = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (std::int64_t b = 0; b < n; b += batch) {
      const std::int64_t count = std::min(batch, n - b);
      a.gather_f32({order.data() + b, static_cast<std::size_t>(count)}, staging.data(), 1.0f / 255, {}, {}, {}, {},
                   channels);
    }
    best_gather = std::min(best_gather, seconds(t0));
    t0 = Clock::now();
    const std::uint8_t* base = a.data() + a.header().data_offset;
    const std::size_t row_bytes = static_cast<std::size_t>(width) * item;
    for (std::int64_t b = 0; b < n; b += batch) {
      const std::int64_t count = std::min(batch, n - b);
      for (std::int64_t i = 0; i < count; ++i) {
        std::memcpy(raw.data() + static_cast<std::size_t>(i) * row_bytes,
                    base + static_cast<std::size_t>(order[static_cast<std::size_t>(b + i)]) * row_bytes, row_bytes);
      }
    }
    best_copy = std::min(best_copy, seconds(t0));
  }
  const double out_bytes = static_cast<double>(n) * static_cast<double>(width) * 4.0;
  const double in_bytes = static_cast<double>(n) * static_cast<double>(width) * static_cast<double>(item);
  return {out_bytes / best_gather / 1e9, in_bytes / best_copy / 1e9};
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t rows = argc > 1 ? std::atoll(argv[1]) : 60000;
  const std::int64_t width = argc > 2 ? std::atoll(argv[2]) : 784;
  const std::int64_t batch = argc > 3 ? std::atoll(argv[3]) : 256;
  const std::int64_t channels = argc > 4 ? std::atoll(argv[4]) : 0;
  const auto dir = std::filesystem::temp_directory_path() / "trainer-gather-bench";
  std::filesystem::create_directories(dir);
  std::mt19937 rng(1);
  std::vector<std::uint8_t> u8(static_cast<std::size_t>(rows * width));
  for (auto& v : u8) v = static_cast<std::uint8_t>(rng());
  std::vector<float> f32(u8.begin(), u8.end());
  const std::vector<std::int64_t> shape = {rows, width};
  trainer::write_npy((dir / "u1.npy").string(), trainer::DType::u1, shape, u8.data());
  trainer::write_npy((dir / "f4.npy").string(), trainer::DType::f4, shape, f32.data());

  std::vector<std::int64_t> sequential(static_cast<std::size_t>(rows));
  std::iota(sequential.begin(), sequential.end(), 0);
  std::vector<std::int64_t> shuffled = trainer::epoch_order(rows, 42, 0, true);
  std::printf("rows %lld, width %lld, batch %lld, channels first %lld (bytes into staging, best of 5; page cache warm)\n",
              static_cast<long long>(rows), static_cast<long long>(width), static_cast<long long>(batch),
              static_cast<long long>(channels));
  std::printf("%-6s %-11s %12s %14s %8s\n", "dtype", "order", "gather GB/s", "memcpy GB/s", "ratio");
  for (const char* name : {"u1", "f4"}) {
    trainer::NpyArray a = trainer::NpyArray::open((dir / (std::string(name) + ".npy")).string());
    for (const std::vector<std::int64_t>* order : {&sequential, &shuffled}) {
      measure(a, *order, batch, 1, channels);  // fault the pages in
      const Result r = measure(a, *order, batch, 5, channels);
      std::printf("%-6s %-11s %12.2f %14.2f %8.2f\n", name, order == &sequential ? "sequential" : "shuffled",
                  r.gather_gbs, r.memcpy_gbs, r.gather_gbs / r.memcpy_gbs);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
