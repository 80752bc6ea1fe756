// Zip archives as NumPy's .npz files use them: members stored or deflated, Zip64 where sizes or
// offsets pass 4 GiB (NumPy writes every local header with Zip64 sizes). Reading walks the
// central directory, bounds every offset and size by the real file size before allocating,
// inflates through zlib and checks each member's CRC-32; writing is atomic. Internal.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "data/file_util.hpp"

namespace nabla::io::internal {

// Calls `visit(name, bytes)` for every member of the zip archive at `path`, in the order of its
// central directory; `bytes` is the member's uncompressed content, valid during the call. Errors
// start with "`what`: `path`: " and name the member: not a zip archive, a directory outside the
// file, encrypted members, methods other than stored (0) and deflate (8), a CRC-32 or size that
// does not match, a name given twice, directories, archives split over several disks.
void read_zip(const std::string& path, const std::string& what,
              const std::function<void(const std::string& name, std::string_view bytes)>& visit);

// Writes a zip archive member by member, then the central directory at commit(); the file
// appears only then (data::internal::AtomicFile). Entries carry a fixed date (1980-01-01), so
// that the same arrays give the same bytes.
class ZipWriter {
 public:
  // `zip64_always`: Zip64 records for every member and the end of the archive even when the
  // sizes fit in 32 bits, as in archives of more than 4 GiB (tests prove that form with it).
  ZipWriter(const std::string& path, const std::string& what, bool zip64_always = false);

  // One member whose content is `pieces` one after the other (a header and the data it
  // describes, without copying them together), stored or deflated.
  void add(const std::string& name, const std::vector<std::string_view>& pieces, bool deflate);
  void commit();

 private:
  struct Entry {
    std::string name;
    uint32_t crc = 0;
    uint64_t compressed = 0, uncompressed = 0, offset = 0;
    uint16_t method = 0;
  };
  void write(const std::string& bytes);

  data::internal::AtomicFile file_;
  std::string what_;
  bool zip64_always_;
  uint64_t offset_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace nabla::io::internal
