// TFRecord files and the TensorBoard events in them (data::read_tfrecords verifies the framing
// and both CRCs; train::read_events also parses each record as an Event message).
#include "fuzz_input.hpp"
#include "nabla/data.hpp"
#include "nabla/tensorboard.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::write_input(data, size, ".tfevents");
  nabla::fuzz::expect_only_errors([&] { (void)nabla::data::read_tfrecords(path); });
  nabla::fuzz::expect_only_errors([&] { (void)nabla::train::read_events(path); });
  return 0;
}
