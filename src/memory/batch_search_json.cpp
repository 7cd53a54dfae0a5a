#include "trainer/batch_search_json.hpp"

namespace trainer {

nlohmann::json to_json(const BatchSearch& s) {
  nlohmann::json breakdown = nlohmann::json::object();
  for (const auto& item : s.breakdown) breakdown[item.key] = item.bytes;
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : s.layers) {
    layers.push_back({{"index", l.index}, {"type", l.type}, {"output_shape", l.output_shape},
                      {"parameters", l.parameters}, {"activation_bytes_per_sample", l.activation_bytes_per_sample}});
  }
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& t : s.trials) {
    trials.push_back({{"batch", t.batch}, {"predicted_bytes", t.predicted_bytes},
                      {"measured_bytes", t.measured_bytes}, {"fits", t.fits}});
  }
  return {{"budget_bytes", s.budget_bytes}, {"budget_source", s.budget_source},
          {"batch_size", s.choice.effective}, {"micro_batch", s.choice.micro},
          {"eval_batch_size", s.choice.eval}, {"max_batch", s.max_batch}, {"predicted_peak_bytes", s.predicted_peak},
          {"measured_peak_bytes", s.measured_peak}, {"breakdown", breakdown}, {"layers", layers}, {"trials", trials}};
}

}  // namespace trainer
