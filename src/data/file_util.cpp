#include "data/file_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

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
}

std::string read_file(const std::string& path, const std::string& what) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  NABLA_CHECK(file != nullptr, what, ": cannot open ", path, ": ", errno_message());
  std::string bytes;
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0) bytes.append(chunk, n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  NABLA_CHECK(!failed, what, ": cannot read ", path, ": ", errno_message());
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
