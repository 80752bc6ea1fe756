#include "data/file_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/checked_size.hpp"
#include "nabla/data.hpp"
#include "nabla/error.hpp"

namespace nabla::data::internal {

std::string errno_message() { return std::strerror(errno); }

AtomicFile::AtomicFile(std::string path, std::string what)
    : path_(std::move(path)), what_(std::move(what)) {
  // mkstemp needs a writable template ending in XXXXXX; the temporary file sits in the same
  // folder as the target so that rename() replaces it in one step.
  std::string pattern = path_ + ".tmp-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  const int fd = ::mkstemp(buffer.data());
  NABLA_CHECK(fd >= 0, what_, ": cannot write ", path_, ": ", errno_message());
  temp_path_ = buffer.data();
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    ::close(fd);
    fail("open");
  }
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!temp_path_.empty()) std::remove(temp_path_.c_str());
}

void AtomicFile::fail(const std::string& action) {
  const std::string reason = errno_message();
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  std::remove(temp_path_.c_str());
  temp_path_.clear();
  ::nabla::detail::throw_error(
      ::nabla::detail::str(what_, ": cannot ", action, " ", path_, ": ", reason));
}

void AtomicFile::write(const void* data, size_t nbytes) {
  NABLA_CHECK(file_ != nullptr, what_, ": write to ", path_, " after commit");
  if (nbytes > 0 && std::fwrite(data, 1, nbytes, file_) != nbytes) fail("write");
}

void AtomicFile::commit() {
  NABLA_CHECK(file_ != nullptr, what_, ": ", path_, " committed twice");
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail("write");
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) fail("write");
  // mkstemp creates the file 0600; give it the usual permissions of a new file.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::chmod(temp_path_.c_str(), 0666 & ~mask);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("rename the temporary file to");
  temp_path_.clear();
  // The rename is durable once the folder's entry list is on disk: without this, a power loss
  // soon after can bring back the old file (or none) even though the new one was synced.
  const std::string folder = std::filesystem::path(path_).parent_path().string();
  const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

InputFile::InputFile(std::string path, std::string what)
    : path_(std::move(path)), what_(std::move(what)) {
  file_ = std::fopen(path_.c_str(), "rb");
  NABLA_CHECK(file_ != nullptr, what_, ": cannot open ", path_, ": ", errno_message());
  struct stat info;
  if (::fstat(::fileno(file_), &info) != 0) {
    const std::string reason = errno_message();
    std::fclose(file_);
    ::nabla::detail::throw_error(
        ::nabla::detail::str(what_, ": cannot read ", path_, ": ", reason));
  }
  // A pipe or device has no size (0): its reader then reports a file too short for its format.
  size_ = S_ISREG(info.st_mode) ? static_cast<uint64_t>(info.st_size) : 0;
}

InputFile::~InputFile() { std::fclose(file_); }

void InputFile::read_at(uint64_t offset, void* data, size_t nbytes) {
  if (nbytes == 0) return;
  const bool ok = offset <= static_cast<uint64_t>(INT64_MAX) &&
                  ::fseeko(file_, static_cast<off_t>(offset), SEEK_SET) == 0 &&
                  std::fread(data, 1, nbytes, file_) == nbytes;
  // A short read of a range inside the size: the file shrank, or the disk failed.
  NABLA_CHECK(ok, what_, ": cannot read ", nbytes, " bytes at offset ", offset, " of ", path_, ": ",
              std::ferror(file_) != 0 ? errno_message() : "the file ended early");
}

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

[[noreturn]] void too_large(const std::string& path, const std::string& what, int64_t max_bytes) {
  ::nabla::detail::throw_error(
      ::nabla::detail::str(what, ": ", path, " is larger than ", core::readable_bytes(max_bytes),
                           " (", max_bytes, " bytes), the most nabla reads whole for a ", what));
}

}  // namespace

std::optional<int64_t> regular_file_size(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  return static_cast<int64_t>(info.st_size);
}

std::string read_file(const std::string& path, const std::string& what, int64_t max_bytes) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  NABLA_CHECK(file != nullptr, what, ": cannot open ", path, ": ", errno_message());
  std::string bytes;
  // The opened file's size, not the path's: that is the file read.
  struct stat info;
  if (::fstat(::fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode)) {
    if (info.st_size > max_bytes) too_large(path, what, max_bytes);
    bytes.reserve(static_cast<size_t>(info.st_size));
  }
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) {
    bytes.append(chunk, n);
    // Also for regular files: one may grow while it is read.
    if (static_cast<int64_t>(bytes.size()) > max_bytes) too_large(path, what, max_bytes);
  }
  NABLA_CHECK(std::ferror(file.get()) == 0, what, ": cannot read ", path, ": ", errno_message());
  return bytes;
}

}  // namespace nabla::data::internal

namespace nabla::data {

void write_file_atomic(const std::string& path, const std::string& bytes, const std::string& what) {
  internal::AtomicFile file(path, what);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace nabla::data
