// `trainer inspect` run as a process: the JSON fields of DESIGN.md, the text form, exit code 3.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "support/npy_writer.hpp"

namespace {

struct Result {
  int code;
  std::string out;
};

Result run_trainer(const std::string& args) {
  const std::string command = std::string(TRAINER_BINARY) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("inspect --json prints the header facts and streamed statistics", "[npy][inspect]") {
  const std::vector<float> values = {1.0f, NAN, -3.0f, 5.0f, 2.0f, NAN};
  const std::string path = trainer::test::write_npy("inspect.npy", "<f4", {3, 2}, values);
  for (const std::string& args : {"inspect " + path + " --json", "--json inspect " + path}) {
    Result r = run_trainer(args);
    INFO(r.out);
    REQUIRE(r.code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j.size() == 11);
    CHECK(j["version"] == "1.0");
    CHECK(j["dtype"] == "<f4");
    CHECK(j["shape"] == nlohmann::json::array({3, 2}));
    CHECK(j["fortran_order"] == false);
    CHECK(j["header_len"] == 118);
    CHECK(j["data_offset"] == 128);
    CHECK(j["file_size"] == 128 + 24);
    CHECK(j["min"] == -3.0);
    CHECK(j["max"] == 5.0);
    CHECK(j["mean"] == 1.25);
    CHECK(j["nan_count"] == 2);
  }
}

TEST_CASE("inspect reads a big-endian Fortran fixture and prints its facts as text", "[npy][inspect]") {
  const std::string path = std::string(TRAINER_FIXTURES_DIR) + "/npy/be_f4_fortran_3d.npy";
  Result r = run_trainer("inspect " + path);
  INFO(r.out);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains(">f4") && Catch::Contains("(6, 6, 5)") && Catch::Contains("F (column-major)") &&
                        Catch::Contains("848"));
}

TEST_CASE("inspect refuses a malformed file with exit code 3 naming it", "[npy][inspect]") {
  const std::string path = std::string(TRAINER_FIXTURES_DIR) + "/npy/err_shape_exceeds_data.npy";
  Result r = run_trainer("inspect " + path);
  CHECK(r.code == 3);
  CHECK_THAT(r.out, Catch::Contains(path));
}
