// Streaming a file through the Prefetcher keeps the mapped file's resident pages flat:
// consumed pages are released. The file (128 MiB of real data pages) is several times the bound.
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <string>
#include <vector>
#include <utility>

#include "support/npy_writer.hpp"
#include "trainer/prefetcher.hpp"

namespace {

// Resident KiB of the mappings of `path` (the data file alone: the process's RssFile would also
// count the code pages a run faults in, which an instrumented binary has many of).
std::int64_t mapped_rss_kib(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  std::int64_t kib = 0;
  bool in_file = false;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ')) {
      in_file = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (in_file && line.rfind("Rss:", 0) == 0) {
      kib += std::stoll(line.substr(4));
    }
  }
  return kib;
}

}  // namespace

TEST_CASE("prefetch: resident file pages stay flat while a 128 MiB file streams", "[data][rss]") {
  const std::int64_t n = 131072, width = 1024;  // 128 MiB of uint8
  std::vector<std::uint8_t> data(static_cast<std::size_t>(n * width));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 2654435761u >> 24);
  const auto x = trainer::test::write_npy("rss_x.npy", "|u1", {n, width}, data);
  data.clear();
  data.shrink_to_fit();
  std::vector<std::uint8_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  const auto y = trainer::test::write_npy("rss_y.npy", "|u1", {n}, labels);

  auto d = trainer::Dataset::open(x, y, trainer::TargetKind::class_ids, 10);
  trainer::InputTransform t;
  const std::int64_t batch = 256;
  std::vector<float> xs(2 * batch * width);
  std::vector<std::int32_t> ys(2 * batch);
  std::vector<std::int64_t> rows(2 * batch);
  trainer::Prefetcher p(d, t, {xs, ys, {}, rows}, batch, 2);
  const std::int64_t base = mapped_rss_kib(x);
  // The third pass reads the training part of a validation split, the way fit does.
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) all[static_cast<std::size_t>(i)] = i;
  const auto subset = trainer::validation_split(n, 0.1, 5).train;
  using Pass = std::pair<bool, const std::vector<std::int64_t>*>;
  for (const auto& [shuffle, rows_of] : {Pass{false, &all}, Pass{true, &all}, Pass{true, &subset}}) {
    std::vector<std::int64_t> order(rows_of->size());
    trainer::epoch_rows_into(order, *rows_of, 3, 0, shuffle);
    const auto expected = static_cast<std::int64_t>(order.size());
    p.start(order, batch);
    std::int64_t peak = 0, rows = 0;
    double checksum = 0;
    while (auto b = p.next()) {
      checksum += b->x[0];
      rows += b->n;
      peak = std::max(peak, mapped_rss_kib(x) - base);
    }
    INFO("shuffle " << shuffle << ", " << expected << " of " << n << " rows: the file's resident pages grew by at most " << peak
                     << " KiB over " << rows << " rows");
    CHECK(rows == expected);
    CHECK(checksum > 0);
    // The file is 128 MiB: without release the peak is ~128 MiB (96 MiB for the subset when its
    // order ignored the file's blocks). The peak moves in 2 MiB steps (the kernel maps file pages
    // in folios of up to 2 MiB); measured: 0-8 MiB in the Release build, up to 18 MiB under ASan.
    // Every pass ends with none of the file resident.
    CHECK(peak < 32 * 1024);
  }
}
