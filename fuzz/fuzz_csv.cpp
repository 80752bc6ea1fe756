// Numeric CSV. The first byte picks the options (delimiter, header detection, dtype), the rest
// is the file.
#include "fuzz_input.hpp"
#include "nabla/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  nabla::data::CsvOptions options;
  const uint8_t pick = data[0];
  options.delimiter = (pick & 1) != 0 ? ';' : ',';
  if ((pick & 6) == 2) options.header = true;
  if ((pick & 6) == 4) options.header = false;
  options.dtype = (pick & 8) != 0 ? nabla::DType::f64 : nabla::DType::f32;
  const std::string path = nabla::fuzz::write_input(data + 1, size - 1, ".csv");
  nabla::fuzz::expect_only_errors([&] { (void)nabla::data::read_csv(path, options); });
  return 0;
}
