// trainer validate: check a config and its data files without training.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "cli/run_config.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/network_for.hpp"
#include "trainer/model.hpp"
#include "trainer/weights_io.hpp"

namespace trainer::cli {

void add_validate(CLI::App& app, Globals& g, Action& action) {
  auto* sub = app.add_subcommand("validate", "Check a config and its data files without training");
  add_common_flags(*sub, g, kConfigFlag | kSeedFlag | kOutputFlags);
  sub->footer("Example: trainer validate --config configs/digits-mlp.json");
  sub->callback([&action, &g] {
    action = [&g] {
      Config config = load_run_config(g);
      DataSets data = open_data(config, DataUse::train);
      Network net = network_for(config, data.input);
      if (!config.model.init_from.empty()) {  // every file there, with the model's shapes
        std::vector<float> params(static_cast<std::size_t>(net.layout().total));
        import_weights(config.model.init_from, net.layout(), params);
      }
      if (g.json) {
        nlohmann::json out = {{"valid", true}, {"config", config.source}, {"train_samples", data.train.size()},
                              {"validation_samples", data.validation.size()}, {"test_samples", data.test.size()},
                              {"inputs", data.width}, {"outputs", net.outputs()}, {"parameters", net.layout().trainable}};
        std::cout << out.dump() << std::endl;
      } else {
        std::cout << config.source << ": valid — " << data.train.size() << " training samples of " << data.width
                  << " inputs, " << data.validation.size() << " validation, " << data.test.size() << " test; "
                  << net.layout().trainable << " parameters, " << net.outputs() << " outputs\n";
      }
      return 0;
    };
  });
}

}  // namespace trainer::cli
