// Regressions found by the libFuzzer targets of tests/fuzz/ (docs/fuzzing.md): each test replays
// the fault in the ordinary suite. Some faults are undefined behaviour that only the sanitizer
// build (TRAINER_SANITIZE=ON) turns into a failure; the test says so.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "import_test_support.hpp"
#include "support/temp_dir.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/config.hpp"
#include "trainer/error.hpp"
#include "trainer/import.hpp"

using trainer::test::TempDir;

namespace {

// The usage error (exit 2) a config text is refused with; fails the test if it loads.
trainer::Error config_error(const std::string& text) {
  try {
    (void)trainer::load_config_text(text, "fuzz.json", "/tmp");
  } catch (const trainer::Error& e) {
    return e;
  }
  FAIL("the config was accepted");
  throw;  // unreachable
}

// VmSize of this process in bytes (0 when unknown).
std::uint64_t address_space_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmSize:") {
      std::uint64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

}  // namespace

// config_fuzz found "44e4553": nlohmann throws out_of_range (not parse_error) for a number
// beyond double's range, which escaped the loader and became exit 1 "internal error".
TEST_CASE("a JSON number beyond double's range is a config error at its line and column", "[fuzz][config]") {
  const trainer::Error bare = config_error("44e4553");
  CHECK(bare.exit_code() == 2);
  CHECK(bare.where() == "fuzz.json:1:1");
  CHECK_THAT(bare.fault(), Catch::Contains("malformed JSON") && Catch::Contains("number overflow"));

  const trainer::Error nested = config_error("{\n  \"data\": {\"x_scale\": -1e999}}");
  CHECK(nested.exit_code() == 2);
  CHECK(nested.where() == "fuzz.json:2:23");
}

// checkpoint_fuzz found memcpy(nullptr, src, 0) when reading an empty array into an empty
// std::vector: undefined behaviour (reported by UBSan; passes silently without sanitizers).
TEST_CASE("a checkpoint whose arrays are all empty reads back without touching their buffers", "[fuzz][checkpoint]") {
  TempDir tmp;
  trainer::CheckpointData d;
  d.config_json = "{}";
  d.epochs_done = 2;
  trainer::write_checkpoint(tmp.file("empty.ckpt"), {&d, {}, {}});
  const trainer::CheckpointData r = trainer::read_checkpoint(tmp.file("empty.ckpt"));
  CHECK(r.epochs_done == 2);
  CHECK(r.mean.empty());
  CHECK(r.inv_std.empty());
  CHECK(r.params.empty());
  CHECK(r.optimizer_state.empty());
}

namespace {

// A checkpoint of config "{}" with one int64 header field replaced, at `offset` bytes past the
// input width (0: the width, 8/16/24/32: version 2's h, w, c, image flag), its CRC32 made right
// again so the reader reaches the field. Older versions lack what came later: version 2 the x
// file's record (here empty: a dtype string of length 0 and 0 dimensions), version 1 the shape too.
std::string patched_checkpoint(const TempDir& tmp, std::uint32_t version, std::size_t offset, std::int64_t value) {
  trainer::CheckpointData d;
  d.config_json = "{}";
  d.input_width = 6;
  d.input = trainer::SampleShape::hwc(1, 2, 3);
  const std::string path = tmp.file("patched.ckpt");
  trainer::write_checkpoint(path, {&d, {}, {}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  in.close();
  const std::size_t width_at = 8 + 4 + 8 + d.config_json.size() + 8;  // magic, version, config, hash
  static_assert(trainer::kCheckpointVersion == 3, "a newer version adds fields to drop for older ones");
  constexpr std::size_t shape_bytes = 4 * 8, empty_record_bytes = 8 + 8;
  if (version == 1) bytes.erase(width_at + 8, shape_bytes + empty_record_bytes);
  if (version == 2) bytes.erase(width_at + 8 + shape_bytes, empty_record_bytes);
  std::memcpy(bytes.data() + 8, &version, 4);
  std::memcpy(bytes.data() + width_at + offset, &value, 8);
  const auto crc = static_cast<std::uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

int checkpoint_refusal(const std::string& path) {
  try {
    (void)trainer::read_checkpoint(path);
  } catch (const trainer::Error& e) {
    return e.exit_code();
  }
  return 0;
}

}  // namespace

// checkpoint_fuzz found a version-2 image flag of 2: read as "image", written back as 1, so the
// file did not survive a round trip. Only 0 and 1 are valid.
TEST_CASE("a checkpoint whose image flag is neither 0 nor 1 is refused as corrupt", "[fuzz][checkpoint]") {
  TempDir tmp;
  CHECK(checkpoint_refusal(patched_checkpoint(tmp, 2, 32, 1)) == 0);
  CHECK(checkpoint_refusal(patched_checkpoint(tmp, 2, 32, 2)) == 3);
}

// A version-1 file with a negative input width read, but its rewrite as version 2 (a flat shape
// of that width) was refused: the file a reader accepted could not be saved again.
TEST_CASE("a version-1 checkpoint with a negative input width is refused as corrupt", "[fuzz][checkpoint]") {
  TempDir tmp;
  CHECK(checkpoint_refusal(patched_checkpoint(tmp, 1, 0, 5)) == 0);
  CHECK(checkpoint_refusal(patched_checkpoint(tmp, 1, 0, -5)) == 3);
}

// import_fuzz found a 30-byte IDX file declaring 553648131 items of shape (1024, 0): with
// nothing to read per item, the import looped over every one of them for minutes. An IDX item
// of zero size is now refused up front.
TEST_CASE("an IDX file with a zero item dimension is refused at once, naming the file", "[fuzz][import]") {
  TempDir tmp;
  const std::string images = tmp.file("images.idx");
  // magic 0x00000803 (ubyte, 3 dims), dims 0x21000003 x 1024 x 0, no data
  trainer::test::write_text(images, std::string("\x00\x00\x08\x03\x21\x00\x00\x03\x00\x00\x04\x00\x00\x00\x00\x00", 16));
  trainer::ImportOptions options;
  options.input = images;
  options.out_dir = tmp.file("out");
  options.format = trainer::ImportFormat::idx;
  const trainer::Error e = import_test::import_error(options);
  CHECK(e.exit_code() == 3);
  CHECK(e.where() == images);
  CHECK_THAT(e.fault(), Catch::Contains("dimension 2 is 0"));
}

// import_fuzz (peak RSS near its 2 GiB limit): a header declaring one item of 1 GiB made the
// import allocate and zero 1 GiB (2 GiB with a labels file) before reading a byte of data.
// The row buffer now grows as the data arrives. Checked in a child whose address space may
// grow by only 256 MiB: the lying file must be refused as truncated, not run out of memory.
TEST_CASE("an IDX header declaring a 1 GiB item costs no such memory when the data is missing", "[fuzz][import][real-memory]") {
#if defined(TRAINER_SANITIZED)
  WARN("skipped: AddressSanitizer reserves address space, so RLIMIT_AS cannot measure the import");
  return;
#endif
  TempDir tmp;
  const std::string images = tmp.file("images.idx");
  // magic 0x00000803 (ubyte, 3 dims), dims 1 x 32768 x 32768 (one 1 GiB item), 4 bytes of data
  trainer::test::write_text(images, std::string("\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x80\x00"
                                                "\x00\x00\x80\x00\x01\x02\x03\x04", 20));
  const std::uint64_t vm = address_space_bytes();
  REQUIRE(vm > 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const rlimit limit{vm + (std::uint64_t{256} << 20), vm + (std::uint64_t{256} << 20)};
    ::setrlimit(RLIMIT_AS, &limit);
    int code = 1;
    try {
      trainer::ImportOptions options;
      options.input = images;
      options.out_dir = tmp.file("out");
      options.format = trainer::ImportFormat::idx;
      (void)trainer::import_data(options);
      code = 2;  // accepted: wrong
    } catch (const trainer::Error& e) {
      code = e.exit_code() == 3 && e.fault().find("truncated") != std::string::npos ? 0 : 3;
    } catch (const std::bad_alloc&) {
      code = 4;  // the fault this test is about
    } catch (...) {
      code = 5;
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 4: std::bad_alloc, the 1 GiB buffer was allocated up front
}

// import_fuzz's check that every output opens: an IDX file may declare up to 255 dimensions,
// but .npy files hold at most 32, so the import wrote an x.npy that NpyArray::open refused.
TEST_CASE("an IDX file with more than 32 dimensions is refused before anything is written", "[fuzz][import]") {
  TempDir tmp;
  const std::string images = tmp.file("images.idx");
  std::string bytes("\x00\x00\x08\x21", 4);  // ubyte, 33 dimensions, each 1, one value
  for (int d = 0; d < 33; ++d) bytes += std::string("\x00\x00\x00\x01", 4);
  bytes += '\x07';
  trainer::test::write_text(images, bytes);
  trainer::ImportOptions options;
  options.input = images;
  options.out_dir = tmp.file("out");
  options.format = trainer::ImportFormat::idx;
  const trainer::Error e = import_test::import_error(options);
  CHECK(e.exit_code() == 3);
  CHECK(e.where() == images);
  CHECK_THAT(e.fault(), Catch::Contains("33 dimensions"));
  CHECK_FALSE(std::filesystem::exists(tmp.file("out/x.npy")));
}

// config_fuzz's round trip: "ram": "9000000T" (about 8 EiB, a valid size) was written to the
// canonical config as the integer 9895604649984000000, which the loader refused as larger than
// int64, so `trainer predict` could not reload the config stored in such a run's checkpoint.
TEST_CASE("a config's canonical form loads again even with a RAM budget above 2^63 bytes", "[fuzz][config]") {
  const std::string text = R"({"data": {"train": {"x": "a.npy", "y": "b.npy"}},
                               "model": {"layers": [{"type": "dense", "units": 2}]},
                               "memory": {"ram": "9000000T"}})";
  const trainer::Config first = trainer::load_config_text(text, "fuzz.json", "/tmp");
  REQUIRE(first.memory.ram.bytes == 9000000ull << 40);
  const trainer::Config again = trainer::load_config_text(first.canonical_json, "canonical.json", "/tmp");
  CHECK(again.memory.ram.kind == trainer::SizeSpec::Kind::bytes);
  CHECK(again.memory.ram.bytes == first.memory.ram.bytes);
  CHECK(again.canonical_json == first.canonical_json);
}
