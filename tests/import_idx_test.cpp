// IDX import (the MNIST family's format) from files made in the test, gzip'd or not.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "import_test_support.hpp"
#include "trainer/error.hpp"
#include "trainer/import.hpp"

using trainer::Error;
using trainer::ImportFormat;
using trainer::ImportOptions;
using trainer::import_data;
using namespace import_test;

namespace {

// An IDX file: 0, 0, dtype code, ndims, big-endian dims, then `payload` (already big-endian).
std::string idx(unsigned char code, std::vector<std::uint32_t> dims, const std::string& payload) {
  std::string s{'\0', '\0', static_cast<char>(code), static_cast<char>(dims.size())};
  for (auto d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  }
  return s + payload;
}

std::string bytes(std::size_t n, int start) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<char>((start + static_cast<int>(i)) & 0xff);
  return s;
}

ImportOptions idx_options(const ScratchDir& dir, const std::string& images, const std::string& labels) {
  ImportOptions options;
  options.input = dir.file(images);
  options.labels = labels.empty() ? "" : dir.file(labels);
  options.out_dir = dir.file("out");
  return options;
}


}  // namespace

TEST_CASE("IDX ubyte images and labels round-trip, gzip'd or not, keeping shape (N, rows, cols)", "[import]") {
  ScratchDir dir;
  const std::string pixels = bytes(4 * 2 * 3, 250);  // wraps past 255 to check unsigned bytes
  const std::string labels = bytes(4, 7);
  write_gzip(dir.file("imgs-idx3-ubyte.gz"), idx(0x08, {4, 2, 3}, pixels));
  write_file(dir.file("labs.bin"), idx(0x08, {4}, labels));  // no telling name: found by magic
  const auto summary = import_data(idx_options(dir, "imgs-idx3-ubyte.gz", "labs.bin"));
  CHECK(summary.format == ImportFormat::idx);
  CHECK(summary.rows == 4);
  CHECK(summary.features == 6);
  const ParsedNpy x = load_npy(dir.file("out/x.npy"));
  const ParsedNpy y = load_npy(dir.file("out/y.npy"));
  CHECK(x.descr == "|u1");
  CHECK(x.shape == std::vector<std::int64_t>{4, 2, 3});
  CHECK(x.data == pixels);
  CHECK(y.descr == "|u1");
  CHECK(y.shape == std::vector<std::int64_t>{4});
  CHECK(y.data == labels);
}

TEST_CASE("IDX multi-byte types are converted from big-endian", "[import]") {
  ScratchDir dir;
  // int16 values 1 and -2, float32 1.5 and -0.25, big-endian.
  write_file(dir.file("a.idx"), idx(0x0B, {2}, std::string("\x00\x01\xff\xfe", 4)));
  ImportOptions options = idx_options(dir, "a.idx", "");
  import_data(options);
  const ParsedNpy a = load_npy(dir.file("out/x.npy"));
  REQUIRE(a.descr == "<i2");
  std::int16_t shorts[2];
  std::memcpy(shorts, a.data.data(), 4);
  CHECK(shorts[0] == 1);
  CHECK(shorts[1] == -2);
  CHECK_FALSE(std::filesystem::exists(dir.file("out/y.npy")));

  write_file(dir.file("f.idx"), idx(0x0D, {2}, std::string("\x3f\xc0\x00\x00\xbe\x80\x00\x00", 8)));
  import_data(idx_options(dir, "f.idx", ""));
  const ParsedNpy f = load_npy(dir.file("out/x.npy"));
  REQUIRE(f.descr == "<f4");
  float floats[2];
  std::memcpy(floats, f.data.data(), 8);
  CHECK(floats[0] == 1.5f);
  CHECK(floats[1] == -0.25f);
}

TEST_CASE("IDX image and label counts must match", "[import]") {
  ScratchDir dir;
  write_file(dir.file("i.idx"), idx(0x08, {3, 2, 2}, bytes(12, 0)));
  write_file(dir.file("l.idx"), idx(0x08, {2}, bytes(2, 0)));
  const Error e = import_error(idx_options(dir, "i.idx", "l.idx"));
  CHECK(e.exit_code() == 3);
  CHECK(e.where() == dir.file("l.idx"));
  CHECK(std::string(e.what()).find("2 labels") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("out/x.npy")));
}

TEST_CASE("IDX truncated, bad magic or trailing bytes are data errors naming the file", "[import]") {
  ScratchDir dir;
  write_gzip(dir.file("short-idx3-ubyte.gz"), idx(0x08, {3, 2, 2}, bytes(11, 0)));
  Error e = import_error(idx_options(dir, "short-idx3-ubyte.gz", ""));
  CHECK(e.exit_code() == 3);
  CHECK(e.where() == dir.file("short-idx3-ubyte.gz"));
  CHECK(std::string(e.what()).find("truncated") != std::string::npos);

  write_file(dir.file("bad-idx1-ubyte"), std::string("\x00\x01\x08\x01\x00\x00\x00\x01\x05", 9));
  e = import_error(idx_options(dir, "bad-idx1-ubyte", ""));
  CHECK(e.exit_code() == 3);
  CHECK(std::string(e.what()).find("bad IDX magic 0x00010801") != std::string::npos);

  write_file(dir.file("long.idx"), idx(0x08, {1, 2}, bytes(3, 0)));
  e = import_error(idx_options(dir, "long.idx", ""));
  CHECK(e.exit_code() == 3);
  CHECK(std::string(e.what()).find("extra bytes") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("out/x.npy")));

  // A truncated gzip stream (a cut download) is caught by zlib's check.
  const std::string whole = idx(0x08, {100, 10}, bytes(1000, 3));
  write_gzip(dir.file("cut.idx.gz"), whole);
  const std::string gz = read_file(dir.file("cut.idx.gz"));
  write_file(dir.file("cut.idx.gz"), gz.substr(0, gz.size() - 12));
  CHECK(import_error(idx_options(dir, "cut.idx.gz", "")).exit_code() == 3);
}

TEST_CASE("trainer import CLI: IDX with --labels and --prefix, mismatched counts exit 3", "[import]") {
  ScratchDir dir;
  write_file(dir.file("t-images-idx3-ubyte"), idx(0x08, {2, 2, 2}, bytes(8, 1)));
  write_gzip(dir.file("t-labels-idx1-ubyte.gz"), idx(0x08, {2}, bytes(2, 3)));
  write_file(dir.file("few-labels-idx1-ubyte"), idx(0x08, {1}, bytes(1, 3)));
  RunResult r = run_trainer("import '" + dir.file("t-images-idx3-ubyte") + "' --labels '" +
                            dir.file("t-labels-idx1-ubyte.gz") + "' --prefix train --out '" + dir.file("o") + "'", dir);
  CHECK(r.exit_code == 0);
  CHECK(load_npy(dir.file("o/train_x.npy")).shape == std::vector<std::int64_t>{2, 2, 2});
  CHECK(load_npy(dir.file("o/train_y.npy")).data == bytes(2, 3));
  r = run_trainer("import '" + dir.file("t-images-idx3-ubyte") + "' --labels '" + dir.file("few-labels-idx1-ubyte") +
                  "' --out '" + dir.file("o") + "'", dir);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(dir.file("few-labels-idx1-ubyte")) != std::string::npos);
  // --format idx on a CSV: bad magic, exit 3.
  write_file(dir.file("x.csv"), "1,2\n");
  r = run_trainer("import '" + dir.file("x.csv") + "' --format idx --out '" + dir.file("o") + "'", dir);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("bad IDX magic") != std::string::npos);
}
