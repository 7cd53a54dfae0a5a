#include "trainer/data_sets.hpp"

#include <numeric>

#include "trainer/error.hpp"
#include "trainer/log.hpp"

namespace trainer {

TargetKind target_kind(Loss loss) { return loss == Loss::mse ? TargetKind::values : TargetKind::class_ids; }

std::int64_t config_outputs(const ModelConfig& model) {
  for (auto it = model.layers.rbegin(); it != model.layers.rend(); ++it) {
    if (it->type == LayerConfig::Type::dense) return it->units;
  }
  return 0;
}

namespace {

std::shared_ptr<const Dataset> open_pair(const DataFiles& files, const Config& config) {
  auto ds = std::make_shared<Dataset>(
      Dataset::open(files.x, files.y, target_kind(config.model.loss), config_outputs(config.model)));
  ds->check_values();
  return ds;
}

std::vector<std::int64_t> all_rows(std::int64_t n) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

void require_same_width(const RowSet& set, std::int64_t width, const std::string& what) {
  if (set.present() && set.data->width() != width) {
    throw Error::data(set.data->x().path(),
                      what + " inputs have " + std::to_string(set.data->width()) + " values per sample",
                      "the training data's " + std::to_string(width));
  }
}

}  // namespace

DataSets open_data(const Config& config, DataUse use, const InputTransform* saved_transform) {
  const DataConfig& dc = config.data;
  DataSets out;
  if (use == DataUse::train || dc.validation_split > 0) {
    if (!dc.train.present()) throw Error::usage(at_key(config.source, "/data/train"), "is required");
    auto train = open_pair(dc.train, config);
    if (train->size() == 0) throw Error::data(dc.train.x, "holds no samples", "at least one row");
    out.width = train->width();
    out.target_width = train->target_width();
    if (dc.validation_split > 0) {
      Split split = validation_split(train->size(), dc.validation_split, config.training.seed);
      if (split.train.empty()) {
        throw Error::usage(at_key(config.source, "/data/validation_split"),
                           "leaves no training rows", "a smaller fraction");
      }
      out.validation = {train, std::move(split.validation)};
      out.train = {train, std::move(split.train)};
    } else {
      out.train = {train, all_rows(train->size())};
    }
  }
  if (dc.validation.present()) {
    auto v = open_pair(dc.validation, config);
    out.validation = {v, all_rows(v->size())};
  }
  if (dc.test.present()) {
    auto t = open_pair(dc.test, config);
    out.test = {t, all_rows(t->size())};
  }
  if (!out.train.present()) {
    const RowSet& any = out.test.present() ? out.test : out.validation;
    if (!any.present()) {
      throw Error::usage(at_key(config.source, "/data"), "names no data to evaluate",
                         "a test or validation pair of files");
    }
    out.width = any.data->width();
    out.target_width = any.data->target_width();
  }
  require_same_width(out.validation, out.width, "validation");
  require_same_width(out.test, out.width, "test");

  if (saved_transform != nullptr) {
    out.transform = *saved_transform;
  } else {
    out.transform.scale = static_cast<float>(dc.x_scale);
    if (dc.normalize == Normalize::standardize) {
      out.transform = out.train.data->standardize_stats(out.train.rows, out.transform.scale);
    }
  }
  if (!out.transform.mean.empty() && static_cast<std::int64_t>(out.transform.mean.size()) != out.width) {
    throw Error::data("checkpoint", "standardisation statistics are for " +
                                        std::to_string(out.transform.mean.size()) + " inputs",
                      "the data's " + std::to_string(out.width));
  }
  return out;
}

}  // namespace trainer
