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

// A file opened for reading in parts, with the size of the opened file (fstat, so a file replaced
// meanwhile cannot disagree), for readers that check a header against the real size before they
// allocate what it declares. Errors start with `what` and name the path.
class InputFile {
 public:
  InputFile(std::string path, std::string what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // `nbytes` bytes from `offset`; the caller has checked that they lie inside size().
  void read_at(uint64_t offset, void* data, size_t nbytes);

 private:
  std::string path_;
  std::string what_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
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
