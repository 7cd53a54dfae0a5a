// The .npy writer, checked by reading the bytes back with an independent parser and, when
// available, with NumPy itself.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <numeric>

#include "import_test_support.hpp"
#include "trainer/error.hpp"
#include "trainer/npy_writer.hpp"

using trainer::DType;
using trainer::Error;
using trainer::NpyStreamWriter;
using trainer::write_npy;
using namespace import_test;

namespace {
template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
}  // namespace

TEST_CASE("write_npy writes a version 1.0 C-order header padded to 64 bytes and the raw data", "[npy_writer]") {
  ScratchDir dir;
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f};
  const std::vector<std::int64_t> shape{2, 3};
  write_npy(dir.file("a.npy"), DType::f4, shape, values.data());
  const ParsedNpy p = load_npy(dir.file("a.npy"));
  CHECK(p.major == 1);
  CHECK(p.minor == 0);
  CHECK(p.descr == "<f4");
  CHECK_FALSE(p.fortran_order);
  CHECK(p.shape == shape);
  CHECK(p.data_offset % 64 == 0);
  CHECK(p.header_text.back() == '\n');
  CHECK(p.data == bytes_of(values));
  CHECK_FALSE(std::filesystem::exists(dir.file("a.npy.tmp")));
}

TEST_CASE("write_npy spells 1-D shapes as a Python 1-tuple and 0-D as ()", "[npy_writer]") {
  ScratchDir dir;
  const std::vector<std::int32_t> five{1, 2, 3, 4, 5};
  const std::vector<std::int64_t> shape1{5};
  write_npy(dir.file("v.npy"), DType::i4, shape1, five.data());
  const ParsedNpy v = load_npy(dir.file("v.npy"));
  CHECK(v.header_text.find("'shape': (5,)") != std::string::npos);
  CHECK(v.data == bytes_of(five));

  const double scalar = 2.5;
  write_npy(dir.file("s.npy"), DType::f8, {}, &scalar);
  const ParsedNpy s = load_npy(dir.file("s.npy"));
  CHECK(s.header_text.find("'shape': ()") != std::string::npos);
  CHECK(s.shape.empty());
  CHECK(s.data.size() == sizeof(double));
}

TEST_CASE("write_npy labels every dtype with NumPy's little-endian descr and its item size", "[npy_writer]") {
  ScratchDir dir;
  const std::vector<std::pair<DType, std::pair<std::string, std::size_t>>> table{
      {DType::b1, {"|b1", 1}}, {DType::u1, {"|u1", 1}}, {DType::u2, {"<u2", 2}}, {DType::u4, {"<u4", 4}},
      {DType::u8, {"<u8", 8}}, {DType::i1, {"|i1", 1}}, {DType::i2, {"<i2", 2}}, {DType::i4, {"<i4", 4}},
      {DType::i8, {"<i8", 8}}, {DType::f2, {"<f2", 2}}, {DType::f4, {"<f4", 4}}, {DType::f8, {"<f8", 8}}};
  const std::vector<unsigned char> zeros(3 * 8, 0);
  const std::vector<std::int64_t> shape{3};
  for (const auto& [dtype, expected] : table) {
    write_npy(dir.file("d.npy"), dtype, shape, zeros.data());
    const ParsedNpy p = load_npy(dir.file("d.npy"));
    CHECK(p.descr == expected.first);
    CHECK(p.data.size() == 3 * expected.second);
  }
}

TEST_CASE("NpyStreamWriter rewrites the row count at finish and keeps the data aligned", "[npy_writer]") {
  ScratchDir dir;
  const std::string path = dir.file("s.npy");
  // Rows of 3 uint16; one block larger than the writer's 1 MiB buffer exercises the direct path.
  std::vector<std::uint16_t> all(3 * 200000);
  std::iota(all.begin(), all.end(), std::uint16_t{0});
  {
    NpyStreamWriter writer(path, DType::u2, {3});
    writer.append(all.data(), 1);
    writer.append(all.data() + 3, 9);
    CHECK_FALSE(std::filesystem::exists(path));  // nothing visible before finish
    CHECK(std::filesystem::exists(path + ".tmp"));
    writer.append(all.data() + 30, 200000 - 10);
    writer.finish();
    CHECK(writer.rows() == 200000);
  }
  const ParsedNpy p = load_npy(path);
  CHECK(p.descr == "<u2");
  CHECK(p.shape == std::vector<std::int64_t>{200000, 3});
  CHECK(p.data_offset % 64 == 0);
  CHECK(p.data == bytes_of(all));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("NpyStreamWriter without finish removes its temp file and leaves the old file", "[npy_writer]") {
  ScratchDir dir;
  const std::string path = dir.file("keep.npy");
  write_file(path, "old contents");
  {
    NpyStreamWriter writer(path, DType::u1, {});
    const unsigned char row = 7;
    writer.append(&row, 1);
  }
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(read_file(path) == "old contents");
}

TEST_CASE("writing into a missing folder or over a folder is a runtime error naming the path", "[npy_writer]") {
  ScratchDir dir;
  const unsigned char byte = 1;
  const std::vector<std::int64_t> shape{1};
  const std::string missing = dir.file("no/such/folder/x.npy");
  try {
    write_npy(missing, DType::u1, shape, &byte);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 1);
    CHECK(e.where() == missing);
  }
  CHECK_THROWS_AS(NpyStreamWriter(missing, DType::u1, {}), Error);

  // rename() onto a non-empty folder fails after the data is written: the temp must go.
  const std::string folder = dir.file("taken.npy");
  std::filesystem::create_directories(folder + "/inside");
  try {
    write_npy(folder, DType::u1, shape, &byte);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 1);
    CHECK(std::string(e.what()).find(folder) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(folder + ".tmp"));
  NpyStreamWriter writer(folder, DType::u1, {});
  writer.append(&byte, 1);
  CHECK_THROWS_AS(writer.finish(), Error);
  CHECK_FALSE(std::filesystem::exists(folder + ".tmp"));
}

TEST_CASE("NumPy loads what the writers write", "[npy_writer]") {
  const std::string python = python_with_numpy();
  if (python.empty()) {
    WARN("python3 with numpy not found: NumPy round trip skipped");
    return;
  }
  ScratchDir dir;
  const std::vector<std::int16_t> values{-300, 2, 32767, -32768, 0, 5};
  const std::vector<std::int64_t> shape{3, 2};
  write_npy(dir.file("w.npy"), DType::i2, shape, values.data());
  {
    NpyStreamWriter writer(dir.file("s.npy"), DType::f8, {2, 2});
    const std::vector<double> rows{0.5, -1.0, 2.0, 3.5, 1e300, -0.25, 8.0, 9.0};
    writer.append(rows.data(), 2);
    writer.finish();
  }
  const std::string script = "import numpy as np\n"
                             "w = np.load('" + dir.file("w.npy") + "')\n"
                             "s = np.load('" + dir.file("s.npy") + "')\n"
                             "print(w.dtype.str, w.shape, w.ravel().tolist())\n"
                             "print(s.dtype.str, s.shape, s.ravel().tolist())\n";
  CHECK(python_output(python, script, dir) ==
        "<i2 (3, 2) [-300, 2, 32767, -32768, 0, 5]\n"
        "<f8 (2, 2, 2) [0.5, -1.0, 2.0, 3.5, 1e+300, -0.25, 8.0, 9.0]");
}
