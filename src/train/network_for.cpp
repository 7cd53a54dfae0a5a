#include "trainer/network_for.hpp"

#include "trainer/error.hpp"

namespace trainer {

Network network_for(const Config& config, const SampleShape& input) {
  try {
    return Network(config.model, input);
  } catch (const Error& e) {
    // The model knows its layers' pointers, not the file they came from.
    if (e.code() == ExitCode::usage && e.where().rfind("/model", 0) == 0)
      throw Error::usage(at_key(config.source, e.where()), e.fault(), e.valid());
    throw;
  }
}

}  // namespace trainer
