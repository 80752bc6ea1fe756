// File helpers shared by the readers and writers of src/data and src/io. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace nabla::data::internal {

// Writes a file atomically: the bytes go to a temporary file next to `path`, which commit()
// renames over `path`. Destroyed without commit() (an error on the way), the temporary file is
// removed, so that `path` is never left half-written. `what` names the caller in errors.
class AtomicFile {
 public:
  AtomicFile(std::string path, std::string what);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t nbytes);
  void commit();

 private:
  [[noreturn]] void fail(const std::string& action);
  std::string path_;
  std::string temp_path_;
  std::string what_;
  std::FILE* file_ = nullptr;
};

// The largest file read whole by default: 1 GiB. Data sets larger than that are read in place
// (IDX, safetensors), not as one string.
constexpr int64_t kMaxWholeFileBytes = int64_t{1} << 30;

// The whole file as bytes; Error naming `what` and the path when it cannot be read or holds more
// than `max_bytes`. A regular file's size is checked before reading; a pipe or device (which has
// none: /dev/zero never ends) is read until `max_bytes` is passed.
std::string read_file(const std::string& path, const std::string& what,
                      int64_t max_bytes = kMaxWholeFileBytes);

// The size of `path` when it is a regular file; nullopt for pipes and devices, and when stat
// fails (opening it reports that better).
std::optional<int64_t> regular_file_size(const std::string& path);

// strerror(errno) as a string.
std::string errno_message();

}  // namespace nabla::data::internal
