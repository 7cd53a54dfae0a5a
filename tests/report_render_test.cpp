// The report in a real browser: headless Chromium (scripts/render-report.sh) screenshots the
// page, and the PNG must show a drawn page, not a blank or an error screen. Skipped with a
// visible warning when Chromium cannot be installed or started on this machine.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <stdexcept>

#include "support/temp_dir.hpp"
#include "trainer/report.hpp"

namespace {

const std::string kRoot = TRAINER_SOURCE_DIR;

struct Image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::size_t channels = 0;        // 3 (RGB) or 4 (RGBA)
  std::vector<std::uint8_t> pixels;  // rows top to bottom, unfiltered
};

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Enough of PNG for Chromium's screenshots: 8-bit RGB or RGBA, not interlaced.
Image decode_png(const std::string& file) {
  if (file.size() < 8 || file.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error("not a PNG");
  Image img;
  std::string idat;
  for (std::size_t at = 8; at + 12 <= file.size();) {
    const std::uint32_t len = be32(file, at);
    const std::string type = file.substr(at + 4, 4);
    if (at + 12 + len > file.size()) throw std::runtime_error("truncated chunk");
    if (type == "IHDR") {
      img.width = be32(file, at + 8);
      img.height = be32(file, at + 12);
      const int depth = std::uint8_t(file[at + 16]), colour = std::uint8_t(file[at + 17]);
      const int interlace = std::uint8_t(file[at + 20]);
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0) {
        throw std::runtime_error("unsupported PNG layout (depth " + std::to_string(depth) + ", colour type " +
                                 std::to_string(colour) + ")");
      }
      img.channels = colour == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      idat.append(file, at + 8, len);
    }
    at += 12 + len;
  }
  const std::size_t stride = img.width * img.channels;
  std::vector<std::uint8_t> raw((stride + 1) * img.height);
  uLongf raw_len = raw.size();
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_len != raw.size()) {
    throw std::runtime_error("IDAT does not inflate to the image size");
  }
  img.pixels.resize(stride * img.height);
  for (std::size_t y = 0; y < img.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* in = &raw[y * (stride + 1) + 1];
    std::uint8_t* out = &img.pixels[y * stride];
    const std::uint8_t* up = y ? &img.pixels[(y - 1) * stride] : nullptr;
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= img.channels ? out[i - img.channels] : 0;
      const int b = up ? up[i] : 0;
      const int c = up && i >= img.channels ? up[i - img.channels] : 0;
      int v = in[i];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: v += paeth(a, b, c); break;
        default: throw std::runtime_error("bad filter type");
      }
      out[i] = static_cast<std::uint8_t>(v);
    }
  }
  return img;
}

std::uint32_t rgb_at(const Image& img, std::size_t i) {
  const std::uint8_t* p = &img.pixels[i * img.channels];
  return (std::uint32_t(p[0]) << 16) | (std::uint32_t(p[1]) << 8) | p[2];
}

}  // namespace

TEST_CASE("the report of a short real run renders in headless Chromium: text, charts, memory bar", "[report][chromium]") {
  trainer::test::TempDir dir;
  const std::string html = dir.file("report.html"), png = dir.file("report.png");
  // A real short run of the digits demo writes its own report (fit --report).
  const auto fit = trainer::test::run_command(std::string(TRAINER_BINARY) + " fit --quiet --config " + kRoot +
                                              "/configs/digits-mlp.json --epochs 5 --report " + html);
  INFO(fit.out);
  REQUIRE(fit.exit_code == 0);
  // One marker per epoch for each of the six series (train/val loss and accuracy, lr, samples/s).
  const std::string text = trainer::test::read_text(html);
  std::size_t points = 0;
  for (std::size_t at = text.find("class=\"pt\""); at != std::string::npos; at = text.find("class=\"pt\"", at + 1)) ++points;
  CHECK(points == 6 * 5);

  const auto r = trainer::test::run_command(kRoot + "/scripts/render-report.sh " + html + " " + png + " 1200x1600");
  if (r.exit_code == 77) {
    WARN("SKIPPED: headless Chromium is not available here: " << r.out);
    return;
  }
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  const Image img = decode_png(trainer::test::read_text(png));
  CHECK(img.width == 1200);
  CHECK(img.height == 1600);

  std::set<std::uint32_t> colours;
  std::size_t blue = 0, vermillion = 0;
  const std::size_t n = std::size_t(img.width) * img.height;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t c = rgb_at(img, i);
    colours.insert(c);
    blue += c == 0x0072B2;
    vermillion += c == 0xD55E00;
  }
  INFO(colours.size() << " colours, " << blue << " blue pixels, " << vermillion << " vermillion pixels");
  // Anti-aliased text and curves give hundreds of shades; a blank or error page a handful.
  CHECK(colours.size() > 200);
  // The palette's blue (train series, first memory segment) and vermillion (validation) must
  // have been painted: the charts themselves rendered, not only the text around them.
  CHECK(blue > 500);
  CHECK(vermillion > 100);
}
