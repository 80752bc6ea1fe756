// File helpers shared by the readers and writers of src/data and src/io. Internal.
#pragma once

#include <cstddef>
#include <cstdio>
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

// The whole file as bytes; Error naming `what` and the path when it cannot be read.
std::string read_file(const std::string& path, const std::string& what);

// strerror(errno) as a string.
std::string errno_message();

}  // namespace nabla::data::internal
