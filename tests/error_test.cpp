#include <catch2/catch.hpp>

#include "trainer/error.hpp"

using trainer::Error;
using trainer::ExitCode;

TEST_CASE("Error carries exit code, location, fault and hint", "[error]") {
  Error e = Error::usage("run.json: /optimizer/lr", "must be > 0, got -1", "a positive number");
  CHECK(e.exit_code() == 2);
  CHECK(e.where() == "run.json: /optimizer/lr");
  CHECK(std::string(e.what()) == "run.json: /optimizer/lr: must be > 0, got -1 (a positive number)");
  CHECK(Error::data("x.npy", "bad magic").exit_code() == 3);
  CHECK(Error::budget("--ram", "too small").exit_code() == 4);
  CHECK(Error::diverged("epoch 2", "NaN").exit_code() == 5);
  CHECK(Error::runtime("out", "disk full").exit_code() == 1);
  CHECK(Error::interrupted("fit", "SIGINT").exit_code() == 130);
  CHECK(trainer::at_key("a.json", "/x") == "a.json: /x");
}
