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

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

SampleShape sample_shape_of(const NpyArray& x, const DataConfig& data, const ModelConfig& model) {
  const std::int64_t width = x.row_width();
  if (!is_image_model(model)) return SampleShape::flat(width);
  const auto& shape = x.header().shape;
  const bool nhwc = data.layout == Layout::nhwc;
  if (!data.image_shape.empty()) {
    const auto& s = data.image_shape;
    if (s[0] * s[1] * s[2] != width)
      throw Error::data(x.path(), "has " + std::to_string(width) + " values per sample; /data/image_shape [" +
                                      std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) +
                                      "] needs " + std::to_string(s[0] * s[1] * s[2]),
                        "an image_shape whose H x W x C is the row's length");
    return SampleShape::hwc(s[0], s[1], s[2]);
  }
  const std::string layout = to_string(data.layout);
  if (shape.size() == 3) return SampleShape::hwc(shape[1], shape[2], 1);
  if (shape.size() == 4)
    return nhwc ? SampleShape::hwc(shape[1], shape[2], shape[3]) : SampleShape::hwc(shape[2], shape[3], shape[1]);
  throw Error::data(x.path(),
                    "has shape " + shape_text(shape) + ", which is not a batch of images in layout " + layout +
                        " (/data/layout)",
                    nhwc ? "[N, H, W, C] or [N, H, W] for layout nhwc, [N, C, H, W] for nchw, or /data/image_shape "
                           "[H, W, C] to read flat rows as images"
                         : "[N, C, H, W] or [N, H, W] for layout nchw, [N, H, W, C] for nhwc, or /data/image_shape "
                           "[H, W, C] to read flat rows as images");
}

std::int64_t channels_first_of(const SampleShape& input, const DataConfig& data) {
  return input.image && data.layout == Layout::nchw && input.c > 1 ? input.c : 0;
}

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

  const RowSet& shaped = out.train.present() ? out.train : out.test.present() ? out.test : out.validation;
  out.input = sample_shape_of(shaped.data->x(), dc, config.model);
  for (const RowSet* set : {&out.validation, &out.test})
    if (set->present() && sample_shape_of(set->data->x(), dc, config.model) != out.input)
      throw Error::data(set->data->x().path(), "holds images of " + sample_shape_of(set->data->x(), dc, config.model).text() +
                                                   " (CxHxW)", "the training data's " + out.input.text());
  if (saved_transform != nullptr) {
    out.transform = *saved_transform;
  } else {
    out.transform.scale = static_cast<float>(dc.x_scale);
    if (dc.normalize == Normalize::standardize) {
      // Image models share statistics per channel (a pixel's position says nothing of its scale).
      const ChannelGroups groups = out.input.image ? ChannelGroups{out.input.c, dc.layout == Layout::nhwc} : ChannelGroups{};
      out.transform = out.train.data->standardize_stats(out.train.rows, out.transform.scale, groups);
    }
  }
  out.transform.channels_first = channels_first_of(out.input, dc);
  if (dc.augment.enabled() && out.train.present()) {
    out.augment.config = dc.augment;
    out.augment.image = out.input;
    out.augment.seed = config.training.seed;
    // Padding is a zero pixel of the file, after x_scale and standardisation.
    out.augment.fill.assign(static_cast<std::size_t>(out.input.c), 0.0f);
    if (!out.transform.mean.empty()) {
      const ChannelGroups groups{out.input.c, dc.layout == Layout::nhwc};
      for (std::int64_t j = out.width - 1; j >= 0; --j) {
        const auto ch = static_cast<std::size_t>(groups.channel_of(j, out.width));
        out.augment.fill[ch] = -out.transform.mean[static_cast<std::size_t>(j)] * out.transform.inv_std[static_cast<std::size_t>(j)];
      }
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
