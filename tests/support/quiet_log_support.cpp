// Tests that call the library directly would otherwise fill the test log with training lines.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "trainer/log.hpp"

namespace {

struct QuietLogs : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testRunStarting(const Catch::TestRunInfo&) override {
    trainer::log::configure(trainer::log::Format::text, true);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(QuietLogs)
