// The network a config describes, for samples of a given shape, with the config's file named in
// every refusal ("run.json: /model/layers/3: max_pool2d of size 3x3 on a 2x2 input ...").
#pragma once

#include "trainer/config.hpp"
#include "trainer/model.hpp"

namespace trainer {

// Throws Error::usage (exit 2) naming config.source and the layer's pointer.
Network network_for(const Config& config, const SampleShape& input);

}  // namespace trainer
