// trainer evaluate: loss and accuracy of a checkpoint on the test (else validation) set.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "cli/run_config.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/network_for.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/error.hpp"
#include "trainer/evaluation.hpp"
#include "trainer/log.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/run_storage.hpp"

namespace trainer::cli {

void add_evaluate(CLI::App& app, Globals& g, Action& action) {
  auto weights = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("evaluate", "Loss and accuracy of a checkpoint on the test (or validation) set");
  add_common_flags(*sub, g, kAllCommonFlags);
  sub->footer("Example: trainer evaluate --config configs/digits-mlp.json --weights run.ckpt");
  sub->add_option("--weights", *weights, "Checkpoint written by trainer fit --checkpoint")->required();
  sub->callback([&action, &g, weights] {
    action = [&g, weights] {
      Config config = load_run_config(g);
      CheckpointData ck = read_checkpoint(*weights);
      if (ck.config_hash != config_hash(config)) {
        throw Error::data(*weights, "checkpoint was made with a different model or optimizer config",
                          "a checkpoint written by a run of " + config.source);
      }
      InputTransform transform{ck.x_scale, ck.mean, ck.inv_std, {}, 0};
      DataSets data = open_data(config, DataUse::evaluate, &transform);
      const bool use_test = data.test.present();
      const RowSet& set = use_test ? data.test : data.validation;
      if (!set.present()) {
        throw Error::usage(at_key(config.source, "/data/test"), "names no test or validation data to evaluate",
                           "/data/test, /data/validation or /data/validation_split");
      }
      Network net = network_for(config, data.input);
      if (static_cast<std::size_t>(net.layout().total) != ck.params.size() || ck.input_width != data.width ||
          (data.input.image && ck.input != data.input)) {
        throw Error::data(*weights, "checkpoint does not match the model's parameter layout");
      }
      set_compute_threads(static_cast<int>(config.training.threads));
      RunShape shape;
      shape.width = data.width;
      shape.target_width = data.target_width;
      shape.target_kind = target_kind(config.model.loss);
      BatchSearch search = search_batches(config, net, shape, 1, set.size());
      shape.micro_batch = 1;
      shape.eval_batch = search.choice.eval;
      RunState st = allocate_run(net, shape, nullptr);
      std::copy(ck.params.begin(), ck.params.end(), st.params.begin());
      EvalResult r = evaluate_rows(net, set, data.transform, st.eval_staging, shape.eval_batch);
      const char* which = use_test ? "test" : "validation";
      if (g.json) {
        nlohmann::json out = {{"set", which}, {"samples", r.samples}, {"loss", r.loss},
                              {"accuracy", r.has_accuracy ? nlohmann::json(r.accuracy) : nlohmann::json(nullptr)},
                              {"eval_batch_size", shape.eval_batch}};
        std::cout << out.dump() << std::endl;
      } else {
        std::cout << which << "  loss " << r.loss;
        if (r.has_accuracy) std::cout << "  accuracy " << r.accuracy;
        std::cout << "  (" << r.samples << " samples)\n";
      }
      return 0;
    };
  });
}

}  // namespace trainer::cli
