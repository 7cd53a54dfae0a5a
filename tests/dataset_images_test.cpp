// The data path of image models: x's shape read as images (data.layout, data.image_shape),
// channels-first rows gathered channels last, per-channel standardisation, and the seeded
// augmentation of training rows on the prefetcher's thread.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "support/npy_writer.hpp"
#include "support/temp_dir.hpp"
#include "trainer/augment.hpp"
#include "trainer/config.hpp"
#include "trainer/data_sets.hpp"
#include "trainer/error.hpp"
#include "trainer/prefetcher.hpp"

using trainer::Augmentation;
using trainer::SampleShape;
using trainer::test::write_npy;

namespace {

trainer::ModelConfig image_model() {
  trainer::ModelConfig m;
  trainer::LayerConfig flatten;
  flatten.type = trainer::LayerConfig::Type::flatten;
  trainer::LayerConfig out;
  out.units = 2;
  m.layers = {flatten, out};
  return m;
}

// Value of image i at (h, w, c) in a test pattern.
float pixel(std::int64_t i, std::int64_t h, std::int64_t w, std::int64_t c) {
  return static_cast<float>(i * 1000 + h * 100 + w * 10 + c);
}

// n images h x w x c stored in `layout`, as f4 (C or Fortran order) or u1.
std::string write_images(const std::string& name, std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c,
                         trainer::Layout layout, const std::string& descr = "<f4", bool fortran = false) {
  const bool nhwc = layout == trainer::Layout::nhwc;
  const std::vector<std::int64_t> shape = nhwc ? std::vector<std::int64_t>{n, h, w, c} : std::vector<std::int64_t>{n, c, h, w};
  std::vector<float> logical;  // C order of `shape`
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t a = 0; a < shape[1]; ++a)
      for (std::int64_t b = 0; b < shape[2]; ++b)
        for (std::int64_t d = 0; d < shape[3]; ++d)
          logical.push_back(nhwc ? pixel(i, a, b, d) : pixel(i, b, d, a));
  std::vector<float> stored = logical;
  if (fortran) {  // column-major: the first index varies fastest
    const std::int64_t total = static_cast<std::int64_t>(logical.size());
    for (std::int64_t flat = 0; flat < total; ++flat) {
      std::int64_t rest = flat, f = 0, stride = 1;
      std::int64_t idx[4];
      for (int k = 3; k >= 0; --k) {
        idx[k] = rest % shape[static_cast<std::size_t>(k)];
        rest /= shape[static_cast<std::size_t>(k)];
      }
      for (int k = 0; k < 4; ++k) {
        f += idx[k] * stride;
        stride *= shape[static_cast<std::size_t>(k)];
      }
      stored[static_cast<std::size_t>(f)] = logical[static_cast<std::size_t>(flat)];
    }
  }
  if (descr == "|u1") {
    std::vector<std::uint8_t> bytes(stored.size());
    for (std::size_t k = 0; k < stored.size(); ++k) bytes[k] = static_cast<std::uint8_t>(static_cast<int>(stored[k]) % 251);
    return write_npy(name, descr, shape, bytes, fortran);
  }
  return write_npy(name, descr, shape, stored, fortran);
}

}  // namespace

TEST_CASE("x's shape is read as images by layout, or by image_shape for flat rows", "[data][image]") {
  trainer::DataConfig d;
  const auto nhwc = trainer::NpyArray::open(write_images("shape_nhwc.npy", 2, 3, 4, 5, trainer::Layout::nhwc));
  CHECK(trainer::sample_shape_of(nhwc, d, image_model()) == SampleShape::hwc(3, 4, 5));
  d.layout = trainer::Layout::nchw;
  const auto nchw = trainer::NpyArray::open(write_images("shape_nchw.npy", 2, 3, 4, 5, trainer::Layout::nchw));
  CHECK(trainer::sample_shape_of(nchw, d, image_model()) == SampleShape::hwc(3, 4, 5));
  // [N, H, W] is one channel in either layout
  const auto gray = trainer::NpyArray::open(write_npy("shape_gray.npy", "<f4", {2, 3, 4}, std::vector<float>(24, 1.0f)));
  CHECK(trainer::sample_shape_of(gray, d, image_model()) == SampleShape::hwc(3, 4, 1));
  // flat rows need image_shape
  const auto flat = trainer::NpyArray::open(write_npy("shape_flat.npy", "<f4", {2, 60}, std::vector<float>(120, 1.0f)));
  CHECK_THROWS_AS(trainer::sample_shape_of(flat, d, image_model()), trainer::Error);
  d.image_shape = {3, 4, 5};
  CHECK(trainer::sample_shape_of(flat, d, image_model()) == SampleShape::hwc(3, 4, 5));
  d.image_shape = {3, 4, 4};
  try {
    trainer::sample_shape_of(flat, d, image_model());
    FAIL("an image_shape of 48 values was accepted for rows of 60");
  } catch (const trainer::Error& e) {
    CHECK(e.exit_code() == 3);
    CHECK_THAT(e.what(), Catch::Contains("/data/image_shape") && Catch::Contains("60"));
  }
  // a model without image layers reads samples flat, whatever their shape
  trainer::ModelConfig mlp;
  mlp.layers = {trainer::LayerConfig{}};
  mlp.layers[0].units = 2;
  CHECK(trainer::sample_shape_of(nchw, d, mlp) == SampleShape::flat(60));
}

TEST_CASE("channels-first rows are gathered channels last, scaled and standardised in the file's order", "[data][image]") {
  const std::int64_t n = 3, h = 2, w = 3, c = 4, width = h * w * c;
  for (const bool fortran : {false, true})
    for (const std::string descr : {"<f4", "|u1"}) {
      DYNAMIC_SECTION((fortran ? "Fortran " : "C ") << descr) {
        const auto file = trainer::NpyArray::open(
            write_images("cf_" + descr.substr(1) + (fortran ? "_f" : "_c") + ".npy", n, h, w, c, trainer::Layout::nchw, descr, fortran));
        const auto nhwc = trainer::NpyArray::open(
            write_images("cl_" + descr.substr(1) + (fortran ? "_f" : "_c") + ".npy", n, h, w, c, trainer::Layout::nhwc, descr, fortran));
        std::vector<float> mean(static_cast<std::size_t>(width)), inv_std(static_cast<std::size_t>(width));
        for (std::int64_t j = 0; j < width; ++j) {
          mean[static_cast<std::size_t>(j)] = static_cast<float>(j);  // value j of the file's row: channel j / (h w)
          inv_std[static_cast<std::size_t>(j)] = 1.0f / static_cast<float>(1 + j);
        }
        const std::vector<std::int64_t> rows{2, 0};
        std::vector<float> got(static_cast<std::size_t>(2 * width)), want(got.size());
        file.gather_f32(rows, got.data(), 0.5f, mean, inv_std, {}, {}, c);
        nhwc.gather_f32(rows, want.data(), 0.5f);
        for (std::size_t r = 0; r < 2; ++r)
          for (std::int64_t p = 0; p < h * w; ++p)
            for (std::int64_t ch = 0; ch < c; ++ch) {
              const auto file_j = static_cast<std::size_t>(ch * h * w + p);
              float& v = want[r * static_cast<std::size_t>(width) + static_cast<std::size_t>(p * c + ch)];
              v = (v - mean[file_j]) * inv_std[file_j];
            }
        for (std::size_t k = 0; k < got.size(); ++k) {
          INFO(k);
          CHECK(got[k] == Approx(want[k]).epsilon(1e-6));
        }
      }
    }
}

TEST_CASE("standardisation of images pools each channel over all its pixels, in either layout", "[data][image]") {
  const std::int64_t n = 5, h = 2, w = 2, c = 3;
  for (const auto layout : {trainer::Layout::nhwc, trainer::Layout::nchw}) {
    const std::string tag = layout == trainer::Layout::nhwc ? "nhwc" : "nchw";
    const std::string x = write_images("std_" + tag + ".npy", n, h, w, c, layout);
    const std::string y = write_npy("std_y_" + tag + ".npy", "<i8", {n}, std::vector<std::int64_t>(n, 0));
    const auto ds = trainer::Dataset::open(x, y, trainer::TargetKind::class_ids, 2);
    const std::vector<std::int64_t> rows{0, 1, 2, 3, 4};
    const auto t = ds.standardize_stats(rows, 1.0f, {c, layout == trainer::Layout::nhwc});
    for (std::int64_t ch = 0; ch < c; ++ch) {
      double sum = 0, sq = 0;
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t a = 0; a < h; ++a)
          for (std::int64_t b = 0; b < w; ++b) sum += pixel(i, a, b, ch);
      const double count = static_cast<double>(n * h * w), mean = sum / count;
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t a = 0; a < h; ++a)
          for (std::int64_t b = 0; b < w; ++b) sq += (pixel(i, a, b, ch) - mean) * (pixel(i, a, b, ch) - mean);
      const double inv_std = 1.0 / std::sqrt(sq / count);
      for (std::int64_t p = 0; p < h * w; ++p) {
        const auto j = static_cast<std::size_t>(layout == trainer::Layout::nhwc ? p * c + ch : ch * h * w + p);
        INFO(tag << " channel " << ch << " value " << j);
        CHECK(t.mean[j] == Approx(mean).epsilon(1e-6));
        CHECK(t.inv_std[j] == Approx(inv_std).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("augmentation: a flip mirrors columns, a crop shifts with the fill value, draws follow the seed", "[data][image]") {
  Augmentation a;
  a.image = SampleShape::hwc(4, 5, 2);
  a.fill = {-1.0f, -2.0f};
  a.seed = 7;
  auto image = [&] {
    std::vector<float> v(static_cast<std::size_t>(a.image.size()));
    for (std::int64_t y = 0; y < 4; ++y)
      for (std::int64_t x = 0; x < 5; ++x)
        for (std::int64_t c = 0; c < 2; ++c) v[static_cast<std::size_t>((y * 5 + x) * 2 + c)] = pixel(0, y, x, c);
    return v;
  };
  SECTION("every draw is a pure function of (seed, epoch, row), and they vary") {
    a.config = {true, 2};
    std::set<std::tuple<bool, std::int64_t, std::int64_t>> seen;
    int flips = 0;
    for (std::int64_t row = 0; row < 400; ++row) {
      const auto d = a.draw(row, 3);
      const auto again = a.draw(row, 3);
      CHECK((d.flip == again.flip && d.dy == again.dy && d.dx == again.dx));
      CHECK(std::abs(d.dy) <= 2);
      CHECK(std::abs(d.dx) <= 2);
      seen.insert({d.flip, d.dy, d.dx});
      flips += d.flip;
    }
    CHECK(seen.size() == 50);  // every flip and offset of [-2, 2]^2 occurs
    CHECK(flips > 150);
    CHECK(flips < 250);
    int differ = 0;
    for (std::int64_t row = 0; row < 100; ++row) differ += a.draw(row, 3).dx != a.draw(row, 4).dx;
    CHECK(differ > 50);  // another epoch, other draws
  }
  SECTION("apply does what the draw says") {
    a.config = {true, 1};
    for (std::int64_t row = 0; row < 40; ++row) {
      const auto d = a.draw(row, 0);
      const std::vector<float> before = image();
      std::vector<float> after = before;
      a.apply(after.data(), row, 0);
      for (std::int64_t y = 0; y < 4; ++y)
        for (std::int64_t x = 0; x < 5; ++x)
          for (std::int64_t c = 0; c < 2; ++c) {
            const std::int64_t sy = y + d.dy, sx_flipped = x + d.dx;
            const bool inside = sy >= 0 && sy < 4 && sx_flipped >= 0 && sx_flipped < 5;
            const std::int64_t sx = d.flip ? 4 - sx_flipped : sx_flipped;
            const float want = inside ? before[static_cast<std::size_t>((sy * 5 + sx) * 2 + c)] : a.fill[static_cast<std::size_t>(c)];
            INFO("row " << row << " flip " << d.flip << " dy " << d.dy << " dx " << d.dx << " at " << y << "," << x << "," << c);
            CHECK(after[static_cast<std::size_t>((y * 5 + x) * 2 + c)] == want);
          }
    }
  }
  SECTION("off by default") {
    CHECK_FALSE(a.enabled());
    std::vector<float> v = image();
    a.apply(v.data(), 3, 0);
    CHECK(v == image());
  }
}

TEST_CASE("the prefetcher augments each training image by its row's draw, a plain gather does not", "[data][image]") {
  const std::int64_t n = 24, h = 3, w = 4, c = 2;
  const std::string x = write_images("aug_x.npy", n, h, w, c, trainer::Layout::nhwc);
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = i % 3;
  const std::string y = write_npy("aug_y.npy", "<i8", {n}, labels);
  const auto ds = trainer::Dataset::open(x, y, trainer::TargetKind::class_ids, 3);
  trainer::InputTransform transform;
  Augmentation aug;
  aug.config = {true, 1};
  aug.image = SampleShape::hwc(h, w, c);
  aug.fill = {0.0f, 0.0f};
  aug.seed = 11;
  const std::int64_t batch = 8, width = h * w * c;
  std::vector<float> xs(static_cast<std::size_t>(2 * batch * width));
  std::vector<std::int32_t> ls(static_cast<std::size_t>(2 * batch));
  std::vector<std::int64_t> rs(static_cast<std::size_t>(2 * batch));
  trainer::Prefetcher pf(ds, transform, {xs, ls, {}, rs}, batch, 2, &aug);
  std::vector<std::int64_t> order(n);
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = (i * 7) % n;
  pf.start(order, batch, batch, false, 5);
  std::int64_t seen = 0;
  while (const auto b = pf.next()) {
    // Each output image is one of the batch's rows, augmented by that row's draw at epoch 5.
    for (std::int64_t k = 0; k < b->n; ++k) {
      const std::vector<float> got(b->x + k * width, b->x + (k + 1) * width);
      bool matched = false;
      for (std::int64_t p = b->first_index; p < b->first_index + b->n && !matched; ++p) {
        const std::int64_t row = order[static_cast<std::size_t>(p)];
        std::vector<float> want(static_cast<std::size_t>(width));
        ds.gather_inputs({&row, 1}, transform, want.data());
        aug.apply(want.data(), row, 5);
        matched = want == got && row % 3 == b->labels[k];
      }
      CHECK(matched);
      ++seen;
    }
  }
  CHECK(seen == n);
  // Evaluation gathers (validation, test, predict) read the file as it is.
  const std::int64_t row = 5;
  std::vector<float> plain(static_cast<std::size_t>(width));
  ds.gather_inputs({&row, 1}, transform, plain.data());
  for (std::int64_t j = 0; j < width; ++j) CHECK(plain[static_cast<std::size_t>(j)] == pixel(5, j / (w * c), j / c % w, j % c));
}
