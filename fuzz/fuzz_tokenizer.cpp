// The text tokenizer's JSON (what a text model's checkpoint stores). A tokenizer that loads must
// encode and decode any bytes, and survive its own round trip.
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "nabla/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nabla::fuzz::expect_only_errors([&] {
    const nabla::data::Tokenizer tokenizer = nabla::data::Tokenizer::from_json(text);
    (void)tokenizer.decode(tokenizer.encode(text));
    // Outside the Error handler's reach: a tokenizer that loaded must write JSON that loads.
    try {
      const auto again = nabla::data::Tokenizer::from_json(tokenizer.to_json());
      if (again.vocabulary() != tokenizer.vocabulary()) std::abort();
    } catch (const nabla::Error&) {
      std::abort();
    }
  });
  return 0;
}
