// trainer predict: model outputs for every row of an .npy file, written as float32 [N, outputs].
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common_flags.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/error.hpp"
#include "trainer/log.hpp"
#include "trainer/memory_search.hpp"
#include "trainer/npy.hpp"
#include "trainer/npy_writer.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/run_storage.hpp"

namespace trainer::cli {
namespace {

struct PredictFlags {
  std::string weights, input, output;
};

}  // namespace

void add_predict(CLI::App& app, Globals& g, Action& action) {
  auto f = std::make_shared<PredictFlags>();
  auto* sub = app.add_subcommand("predict", "Model outputs for every row of an .npy file, written as .npy");
  add_common_flags(*sub, g, kRamFlag | kThreadsFlag | kOutputFlags);
  sub->footer("Example: trainer predict --weights run.ckpt --input data/digits/test_x.npy --output pred.npy\n"
              "Outputs are class probabilities (cross_entropy: softmax; binary_cross_entropy: sigmoid) or values (mse).");
  sub->add_option("--weights", f->weights, "Checkpoint written by trainer fit --checkpoint")->required();
  sub->add_option("--input", f->input, "Inputs, .npy with one sample per row")->required();
  sub->add_option("--output", f->output, "Where to write float32 [N, outputs] .npy")->required();
  sub->callback([&action, &g, f] {
    action = [&g, f] {
      CheckpointData ck = read_checkpoint(f->weights);
      // The checkpoint carries its config, so predict needs no --config.
      Config config = load_config_text(ck.config_json, f->weights, ".");
      if (!g.ram.empty()) config.memory.ram = parse_size(g.ram, "--ram");
      if (g.threads) config.training.threads = *g.threads;
      NpyArray x = NpyArray::open(f->input);
      if (x.row_width() != ck.input_width) {
        throw Error::data(f->input, "has " + std::to_string(x.row_width()) + " values per sample",
                          "the model's " + std::to_string(ck.input_width) + " inputs");
      }
      if (ck.input.image) {
        const SampleShape given = sample_shape_of(x, config.data, config.model);
        if (given != ck.input)
          throw Error::data(f->input, "holds images of " + given.text() + " (CxHxW, layout " + to_string(config.data.layout) + ")",
                            "the model's " + ck.input.text());
      }
      Network net(config.model, ck.input);
      if (static_cast<std::size_t>(net.layout().total) != ck.params.size()) {
        throw Error::data(f->weights, "checkpoint does not match its own model config");
      }
      set_compute_threads(static_cast<int>(config.training.threads));
      RunShape shape;
      shape.width = ck.input_width;
      shape.target_kind = TargetKind::class_ids;
      BatchSearch search = search_batches(config, net, shape, 1, std::max<std::int64_t>(x.rows(), 1));
      shape.micro_batch = 1;
      shape.eval_batch = search.choice.eval;
      RunState st = allocate_run(net, shape, nullptr);
      const std::int64_t channels_first = channels_first_of(ck.input, config.data);
      std::copy(ck.params.begin(), ck.params.end(), st.params.begin());
      Storage out_buffer(static_cast<std::uint64_t>(shape.eval_batch * net.outputs()) * sizeof(float));
      auto outputs = out_buffer.take_array<float>(static_cast<std::uint64_t>(shape.eval_batch * net.outputs()));

      NpyStreamWriter writer(f->output, DType::f4, {net.outputs()});
      const std::int64_t n = x.rows();
      for (std::int64_t begin = 0; begin < n; begin += shape.eval_batch) {
        const std::int64_t count = std::min(shape.eval_batch, n - begin);
        for (std::int64_t i = 0; i < count; ++i) st.eval_staging.rows[static_cast<std::size_t>(i)] = begin + i;
        x.gather_f32({st.eval_staging.rows.data(), static_cast<std::size_t>(count)}, st.eval_staging.x.data(),
                     ck.x_scale, ck.mean, ck.inv_std, {}, {}, channels_first);
        net.evaluate(st.eval_staging.x.data(), nullptr, nullptr, count, outputs.data());
        writer.append(outputs.data(), count);
        x.release_rows(begin, begin + count);
      }
      writer.finish();
      if (g.json) {
        std::cout << nlohmann::json{{"output", f->output}, {"rows", n}, {"outputs", net.outputs()},
                                    {"eval_batch_size", shape.eval_batch}}.dump()
                  << std::endl;
      } else {
        log::info("wrote " + f->output + ": " + std::to_string(n) + " rows x " + std::to_string(net.outputs()) + " outputs");
      }
      return 0;
    };
  });
}

}  // namespace trainer::cli
