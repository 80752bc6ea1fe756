// NumPy arrays: .npy files (io::load_npy) and .npz zip archives (io::load_npz), told apart by the
// first bytes as np.load does ("PK" starts a zip archive); the seeds hold both. An array that
// loads must also write and load again to the same dtype, shape and bytes (a property, not just
// "no crash"); only small arrays, so that the fuzzer keeps its time for mutations.
#include <cstdlib>
#include <cstring>
#include <map>

#include "fuzz_input.hpp"
#include "nabla/io.hpp"
#include "nabla/tensor.hpp"

namespace {

constexpr int64_t kMaxRoundTripBytes = 1 << 16;

void expect_round_trip(const nabla::Tensor& array, const std::string& path) {
  using namespace nabla;
  const int64_t nbytes = array.numel() * static_cast<int64_t>(dtype_size(array.dtype()));
  if (nbytes > kMaxRoundTripBytes) return;
  try {
    io::save_npy(path, array);
    const Tensor back = io::load_npy(path);
    if (back.dtype() != array.dtype() || back.shape() != array.shape() ||
        std::memcmp(back.raw_data(), array.contiguous().raw_data(), nbytes) != 0) {
      std::abort();
    }
  } catch (const Error&) {
    std::abort();  // what nabla read, it must write and read back
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nabla;
  const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
  const std::string path = fuzz::write_input(data, size, zip ? ".npz" : ".npy");
  const std::string copy = path + ".back.npy";
  fuzz::expect_only_errors([&] {
    if (!zip) return expect_round_trip(io::load_npy(path), copy);
    for (const auto& [name, array] : io::load_npz(path)) expect_round_trip(array, copy);
  });
  return 0;
}
