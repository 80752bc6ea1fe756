// JPEG decoding through libjpeg-turbo (Debian's libjpeg62-turbo). libjpeg reports errors by
// calling error_exit, which must not return: it longjmps back here with the message kept, and
// warnings (corrupt or missing data, which libjpeg would paper over with grey) are errors too.
#include "data/jpeg_read.hpp"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <csetjmp>
#include <jpeglib.h>
// clang-format on

#include <vector>

#include "data/png.hpp"

namespace nabla::data::internal {
namespace {

struct JpegErrors {
  jpeg_error_mgr manager;  // first: libjpeg's pointer to it is a pointer to the whole struct
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

void on_jpeg_error(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// Level -1 is a warning about the data (a truncated file, a corrupt segment): an error here.
// Levels >= 0 are trace messages.
void on_jpeg_message(j_common_ptr info, int level) {
  if (level < 0) on_jpeg_error(info);
}

}  // namespace

bool looks_like_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

Tensor decode_jpeg(const std::string& bytes, const std::string& name) {
  jpeg_decompress_struct info;
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = on_jpeg_error;
  errors.manager.emit_message = on_jpeg_message;
  std::vector<uint8_t> pixels;
  int64_t width = 0, height = 0, channels = 0;
  // Nothing with a destructor is created between setjmp and the libjpeg calls below (`pixels`
  // lives outside and is only resized).
  if (setjmp(errors.jump) != 0) {
    jpeg_destroy_decompress(&info);
    NABLA_CHECK(false, name, ": not a valid JPEG file: ", errors.message);
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  width = info.image_width;
  height = info.image_height;
  const bool sizes_ok =
      width > 0 && height > 0 && width <= kMaxImagePixels && width * height <= kMaxImagePixels;
  const bool colour_ok = info.jpeg_color_space != JCS_CMYK && info.jpeg_color_space != JCS_YCCK;
  if (sizes_ok && colour_ok) {
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    channels = info.output_components;
    pixels.resize(static_cast<size_t>(width * height * channels));
    while (info.output_scanline < info.output_height) {
      JSAMPROW row = pixels.data() + static_cast<int64_t>(info.output_scanline) * width * channels;
      jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
  }
  jpeg_destroy_decompress(&info);
  NABLA_CHECK(sizes_ok, name, ": JPEG image size ", width, "x", height,
              " is not a valid size (at most ", kMaxImagePixels, " pixels)");
  NABLA_CHECK(colour_ok, name, ": CMYK JPEG images are not supported; convert it to RGB");
  const Tensor hwc = from_vector(pixels, {height, width, channels});
  if (channels == 1) return hwc.view({height, width});
  return hwc.permute({2, 0, 1}).contiguous();
}

}  // namespace nabla::data::internal
