// The zip format (PKWARE's APPNOTE 6.3) as far as .npz files need it. Layout: for each member a
// local header, its name, extra fields and data; then the central directory (one record per
// member with the authoritative sizes, CRC-32 and local header offset); then, for Zip64, a Zip64
// end record and its locator; then the end-of-central-directory record. All integers are
// little-endian. A field at its all-ones value means "see the Zip64 extra field".
#include "io/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>
#include <set>

#include "core/checked_size.hpp"
#include "nabla/error.hpp"
#include "nabla/tensor.hpp"

namespace nabla::io::internal {
namespace {

constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalBytes = 30, kCentralBytes = 46, kEndBytes = 22;
constexpr uint64_t kZip64EndBytes = 56, kZip64LocatorBytes = 20;
constexpr uint64_t kMaxCommentBytes = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kAll32 = 0xFFFFFFFF;
constexpr uint16_t kAll16 = 0xFFFF;
// Python's zipfile switches to Zip64 above 2^31 - 1, not 2^32 - 1: some readers take the 32-bit
// fields as signed. The writer does the same.
constexpr uint64_t kZip64Limit = (uint64_t{1} << 31) - 1;
constexpr uint16_t kStored = 0, kDeflated = 8;
constexpr uint16_t kFlagEncrypted = 0x1, kFlagUtf8 = 0x800;
// Deflate expands at most 1032 times (zlib's FAQ): a declared size beyond that is a lie, refused
// before the buffer for it is allocated.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr size_t kChunkBytes = size_t{1} << 20;

uint16_t get16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t get32(const unsigned char* p) {
  return get16(p) | static_cast<uint32_t>(get16(p + 2)) << 16;
}
uint64_t get64(const unsigned char* p) {
  return get32(p) | static_cast<uint64_t>(get32(p + 4)) << 32;
}

void put16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value & 0xFF));
  out.push_back(static_cast<char>(value >> 8));
}
void put32(std::string& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value & 0xFFFF));
  put16(out, static_cast<uint16_t>(value >> 16));
}
void put64(std::string& out, uint64_t value) {
  put32(out, static_cast<uint32_t>(value & kAll32));
  put32(out, static_cast<uint32_t>(value >> 32));
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

struct Member {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, uncompressed = 0, offset = 0;
};

struct Directory {
  uint64_t entries = 0, size = 0, offset = 0;
};

class ZipReader {
 public:
  ZipReader(const std::string& path, const std::string& what)
      : file_(path, what), prefix_(what + ": " + path + ": ") {}

  void read(const std::function<void(const std::string&, std::string_view)>& visit) {
    const Directory directory = find_directory();
    std::vector<Member> members = read_directory(directory);
    for (const Member& member : members) {
      const Tensor content = read_member(member, directory.offset);
      visit(member.name,
            std::string_view(static_cast<const char*>(content.raw_data()), member.uncompressed));
    }
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    detail::throw_error(prefix_ + message);
  }
  [[noreturn]] void fail(const Member& member, const std::string& message) const {
    fail("member '" + member.name + "': " + message);
  }

  Directory find_directory();
  Directory read_zip64_end(uint64_t locator_at);
  std::vector<Member> read_directory(const Directory& directory);
  void read_zip64_extra(const unsigned char* extra, uint64_t nbytes, Member& member,
                        uint32_t disk) const;
  Tensor read_member(const Member& member, uint64_t directory_offset);
  void inflate_into(const Member& member, uint64_t data_at, unsigned char* out);

  data::internal::InputFile file_;
  std::string prefix_;
};

// The end record is the last 22 bytes plus a comment of up to 64 KiB; it is the one whose comment
// length reaches exactly the end of the file, searched from the end as every unzip does.
Directory ZipReader::find_directory() {
  const uint64_t size = file_.size();
  if (size < kEndBytes) {
    fail(detail::str("not a zip archive: ", size, " bytes, shorter than the ", kEndBytes,
                     "-byte end-of-central-directory record"));
  }
  const uint64_t tail_bytes = std::min(size, kEndBytes + kMaxCommentBytes);
  std::string tail(tail_bytes, '\0');
  file_.read_at(size - tail_bytes, tail.data(), tail_bytes);
  const auto* bytes = reinterpret_cast<const unsigned char*>(tail.data());
  for (uint64_t at = tail_bytes - kEndBytes + 1; at-- > 0;) {
    const unsigned char* end = bytes + at;
    if (get32(end) != kEndSignature || get16(end + 20) != tail_bytes - at - kEndBytes) continue;
    const uint64_t end_at = size - tail_bytes + at;
    const uint16_t disk = get16(end + 4), directory_disk = get16(end + 6);
    if (disk != 0 || (directory_disk != 0 && directory_disk != kAll16) ||
        get16(end + 8) != get16(end + 10)) {
      fail("archives split over several disks are not supported");
    }
    Directory directory{get16(end + 10), get32(end + 12), get32(end + 16)};
    uint64_t directory_end = end_at;
    // Python's zipfile looks for the Zip64 locator whatever the 32-bit fields say; so do we.
    if (end_at >= kZip64LocatorBytes) {
      unsigned char locator[kZip64LocatorBytes];
      file_.read_at(end_at - kZip64LocatorBytes, locator, kZip64LocatorBytes);
      if (get32(locator) == kZip64LocatorSignature) {
        directory = read_zip64_end(end_at - kZip64LocatorBytes);
        directory_end = get64(locator + 8);
      }
    }
    if (directory.offset > directory_end || directory.size != directory_end - directory.offset) {
      fail(detail::str("the central directory (", directory.size, " bytes at offset ",
                       directory.offset, ") does not end where its end record starts (offset ",
                       directory_end,
                       "): a truncated or damaged archive, or data before the archive (not "
                       "supported)"));
    }
    if (directory.entries > directory.size / kCentralBytes) {
      fail(detail::str("the end record declares ", directory.entries, " members, more than its ",
                       directory.size, "-byte central directory can hold"));
    }
    return directory;
  }
  fail(detail::str("not a zip archive: no end-of-central-directory record in its last ", tail_bytes,
                   " bytes"));
}

Directory ZipReader::read_zip64_end(uint64_t locator_at) {
  unsigned char locator[kZip64LocatorBytes];
  file_.read_at(locator_at, locator, kZip64LocatorBytes);
  const uint64_t end_at = get64(locator + 8);
  if (get32(locator + 4) != 0 || get32(locator + 16) != 1) {
    fail("archives split over several disks are not supported");
  }
  if (end_at > locator_at || locator_at - end_at < kZip64EndBytes) {
    fail(detail::str("the Zip64 end record's offset ", end_at,
                     " leaves no room for it before its locator at offset ", locator_at));
  }
  unsigned char end[kZip64EndBytes];
  file_.read_at(end_at, end, kZip64EndBytes);
  if (get32(end) != kZip64EndSignature) {
    fail(detail::str("no Zip64 end record at offset ", end_at, ", where its locator points"));
  }
  if (get32(end + 16) != 0 || get32(end + 20) != 0 || get64(end + 24) != get64(end + 32)) {
    fail("archives split over several disks are not supported");
  }
  return {get64(end + 32), get64(end + 40), get64(end + 48)};
}

// Sizes and the local header offset that the 32-bit fields mark as all ones are in the Zip64
// extra field, in this order, each present only where marked.
void ZipReader::read_zip64_extra(const unsigned char* extra, uint64_t nbytes, Member& member,
                                 uint32_t disk) const {
  uint64_t* const fields[] = {&member.uncompressed, &member.compressed, &member.offset};
  bool marked = false;
  for (uint64_t* field : fields) marked = marked || *field == kAll32;
  for (uint64_t at = 0; at + 4 <= nbytes;) {
    const uint16_t id = get16(extra + at), length = get16(extra + at + 2);
    if (at + 4 + length > nbytes) {
      fail(member, detail::str("extra field ", id, " runs past the end of its record"));
    }
    if (id == kZip64ExtraId) {
      uint64_t used = 0;
      for (uint64_t* field : fields) {
        if (*field != kAll32) continue;
        if (used + 8 > length) fail(member, "the Zip64 extra field is too short for its sizes");
        *field = get64(extra + at + 4 + used);
        used += 8;
      }
      if (disk == kAll16 && (used + 4 > length || get32(extra + at + 4 + used) != 0)) {
        fail(member, "archives split over several disks are not supported");
      }
      return;
    }
    at += 4 + length;
  }
  if (marked) fail(member, "a size or offset is marked as Zip64 but there is no Zip64 field");
}

std::vector<Member> ZipReader::read_directory(const Directory& directory) {
  std::string records(directory.size, '\0');
  file_.read_at(directory.offset, records.data(), directory.size);
  const auto* bytes = reinterpret_cast<const unsigned char*>(records.data());
  std::vector<Member> members;
  std::set<std::string> names;
  uint64_t at = 0;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    const unsigned char* record = bytes + at;
    if (directory.size - at < kCentralBytes || get32(record) != kCentralSignature) {
      fail(detail::str("central directory record ", i, " of ", directory.entries,
                       " is missing or damaged (offset ", directory.offset + at, ")"));
    }
    const uint64_t name_bytes = get16(record + 28), extra_bytes = get16(record + 30),
                   comment_bytes = get16(record + 32);
    if (directory.size - at - kCentralBytes < name_bytes + extra_bytes + comment_bytes) {
      fail(detail::str("central directory record ", i, " runs past the directory's end"));
    }
    Member member;
    member.name.assign(records, at + kCentralBytes, name_bytes);
    member.flags = get16(record + 8);
    member.method = get16(record + 10);
    member.crc = get32(record + 16);
    member.compressed = get32(record + 20);
    member.uncompressed = get32(record + 24);
    member.offset = get32(record + 42);
    const uint16_t disk = get16(record + 34);
    read_zip64_extra(record + kCentralBytes + name_bytes, extra_bytes, member, disk);
    if (disk != 0 && disk != kAll16)
      fail(member, "archives split over several disks are not supported");
    if ((member.flags & kFlagEncrypted) != 0) fail(member, "encrypted members are not supported");
    if (member.method != kStored && member.method != kDeflated) {
      fail(member, detail::str("compression method ", member.method,
                               " is not supported (stored, 0, and deflate, 8, are)"));
    }
    if (member.name.empty() || member.name.back() == '/') {
      fail(member, "a directory or unnamed entry; expected files only");
    }
    if (!names.insert(member.name).second) fail(member, "the name appears twice in the archive");
    members.push_back(std::move(member));
    at += kCentralBytes + name_bytes + extra_bytes + comment_bytes;
  }
  return members;
}

// The member's uncompressed bytes, in a tensor so that the allocation limit applies to sizes read
// from the file.
Tensor ZipReader::read_member(const Member& member, uint64_t directory_offset) {
  unsigned char local[kLocalBytes];
  if (member.offset > directory_offset || directory_offset - member.offset < kLocalBytes) {
    fail(member,
         detail::str("its local header offset ", member.offset,
                     " is not before the central directory (offset ", directory_offset, ")"));
  }
  file_.read_at(member.offset, local, kLocalBytes);
  if (get32(local) != kLocalSignature) {
    fail(member, detail::str("no local header at offset ", member.offset));
  }
  const uint64_t name_bytes = get16(local + 26), extra_bytes = get16(local + 28);
  const uint64_t data_at = member.offset + kLocalBytes + name_bytes + extra_bytes;
  if (data_at > directory_offset || directory_offset - data_at < member.compressed) {
    fail(member, detail::str("its ", member.compressed, " bytes of data at offset ", data_at,
                             " run into the central directory at offset ", directory_offset,
                             ": a truncated or damaged archive"));
  }
  std::string local_name(name_bytes, '\0');
  file_.read_at(member.offset + kLocalBytes, local_name.data(), name_bytes);
  if (local_name != member.name) {
    fail(member, "its local header names '" + local_name + "'; a damaged archive");
  }
  if (member.method == kStored && member.compressed != member.uncompressed) {
    fail(member, detail::str("stored with ", member.compressed, " bytes but declared as ",
                             member.uncompressed, " uncompressed"));
  }
  if (member.method == kDeflated && (member.uncompressed > INT64_MAX / kMaxDeflateRatio ||
                                     member.uncompressed > member.compressed * kMaxDeflateRatio)) {
    fail(member,
         detail::str("declares ", member.uncompressed, " bytes from ", member.compressed,
                     " compressed, more than deflate can expand (", kMaxDeflateRatio, " times)"));
  }
  if (member.uncompressed > static_cast<uint64_t>(INT64_MAX)) {
    fail(member, detail::str("declares ", member.uncompressed, " bytes"));
  }
  Tensor content;
  try {
    content = empty({static_cast<int64_t>(member.uncompressed)}, DType::u8);
  } catch (const Error& e) {
    fail(member, e.what());
  }
  auto* out = static_cast<unsigned char*>(content.raw_data());
  if (member.method == kStored) {
    file_.read_at(data_at, out, member.uncompressed);
  } else {
    inflate_into(member, data_at, out);
  }
  const uint32_t crc =
      static_cast<uint32_t>(crc32_z(crc32_z(0, nullptr, 0), out, member.uncompressed));
  if (crc != member.crc) {
    fail(member, "CRC-32 mismatch: the archive records " + hex32(member.crc) + ", the data gives " +
                     hex32(crc) + " (a damaged archive)");
  }
  return content;
}

// Raw deflate (no zlib header), read in chunks and written straight into `out`, which holds the
// declared size; a stream that would write more, ends early or leaves input over is an error.
void ZipReader::inflate_into(const Member& member, uint64_t data_at, unsigned char* out) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) fail(member, "zlib cannot start inflating");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&stream, inflateEnd);
  std::vector<unsigned char> input(std::min<uint64_t>(member.compressed, kChunkBytes));
  uint64_t consumed = 0, produced = 0;
  unsigned char spare = 0;  // where output beyond the declared size would go, to detect it
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (stream.avail_in == 0 && consumed < member.compressed) {
      const uint64_t n = std::min<uint64_t>(member.compressed - consumed, input.size());
      file_.read_at(data_at + consumed, input.data(), n);
      consumed += n;
      stream.next_in = input.data();
      stream.avail_in = static_cast<uInt>(n);
    }
    const bool full = produced == member.uncompressed;
    stream.next_out = full ? &spare : out + produced;
    stream.avail_out =
        full ? 1 : static_cast<uInt>(std::min<uint64_t>(member.uncompressed - produced, UINT_MAX));
    const uInt room = stream.avail_out;
    status = inflate(&stream, Z_NO_FLUSH);
    produced += room - stream.avail_out;
    if (produced > member.uncompressed) {
      fail(member, detail::str("inflates to more than the ", member.uncompressed,
                               " bytes the archive declares"));
    }
    if (status == Z_DATA_ERROR || status == Z_NEED_DICT || status == Z_MEM_ERROR) {
      fail(member, std::string("corrupt deflate data (zlib: ") +
                       (stream.msg != nullptr ? stream.msg : "error") + ")");
    }
    if (status == Z_BUF_ERROR && stream.avail_in == 0 && consumed == member.compressed) {
      fail(member, detail::str("the deflate stream ends early, after ", produced, " of ",
                               member.uncompressed, " bytes: a truncated member"));
    }
  }
  if (produced != member.uncompressed || stream.avail_in != 0 || consumed != member.compressed) {
    fail(member, detail::str("inflates to ", produced, " bytes from ", consumed - stream.avail_in,
                             " compressed; the archive declares ", member.uncompressed, " from ",
                             member.compressed));
  }
}

uint32_t crc_of(const std::vector<std::string_view>& pieces) {
  uLong crc = crc32_z(0, nullptr, 0);
  for (std::string_view piece : pieces) {
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(piece.data()), piece.size());
  }
  return static_cast<uint32_t>(crc);
}

// Raw deflate at zlib's default level, as Python's zipfile writes it.
std::string deflate_pieces(const std::vector<std::string_view>& pieces, const std::string& what) {
  z_stream stream{};
  NABLA_CHECK(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                           Z_DEFAULT_STRATEGY) == Z_OK,
              what, ": zlib cannot start deflating");
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&stream, deflateEnd);
  std::string out;
  char buffer[1 << 16];
  for (size_t i = 0; i <= pieces.size(); ++i) {
    const bool last = i == pieces.size();
    std::string_view rest = last ? std::string_view() : pieces[i];
    int status = Z_OK;
    do {
      const size_t n = std::min<size_t>(rest.size(), UINT_MAX);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest.data()));
      stream.avail_in = static_cast<uInt>(n);
      const int flush = last ? Z_FINISH : Z_NO_FLUSH;
      do {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof(buffer);
        status = deflate(&stream, flush);
        NABLA_CHECK(status != Z_STREAM_ERROR, what, ": zlib failed to deflate");
        out.append(buffer, sizeof(buffer) - stream.avail_out);
      } while (stream.avail_out == 0);
      rest.remove_prefix(n);
    } while (!rest.empty());
    if (last) NABLA_CHECK(status == Z_STREAM_END, what, ": zlib did not finish deflating");
  }
  return out;
}

constexpr uint16_t kVersionDeflate = 20, kVersionZip64 = 45;
constexpr uint16_t kMadeByUnix = 3 << 8;
constexpr uint16_t kDate19800101 = (0 << 9) | (1 << 5) | 1;  // DOS date: years since 1980
constexpr uint32_t kFileMode = 0100644;                      // a regular file, rw-r--r--

bool is_ascii(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

void read_zip(const std::string& path, const std::string& what,
              const std::function<void(const std::string& name, std::string_view bytes)>& visit) {
  ZipReader(path, what).read(visit);
}

ZipWriter::ZipWriter(const std::string& path, const std::string& what, bool zip64_always)
    : file_(path, what), what_(what + ": " + path), zip64_always_(zip64_always) {}

void ZipWriter::write(const std::string& bytes) {
  file_.write(bytes.data(), bytes.size());
  offset_ += bytes.size();
}

void ZipWriter::add(const std::string& name, const std::vector<std::string_view>& pieces,
                    bool deflate) {
  NABLA_CHECK(!name.empty() && name.size() <= kAll16, what_, ": a member name must have 1 to ",
              kAll16, " bytes, got ", name.size());
  Entry entry{name, crc_of(pieces), 0, 0, offset_, deflate ? kDeflated : kStored};
  for (std::string_view piece : pieces) entry.uncompressed += piece.size();
  const std::string compressed = deflate ? deflate_pieces(pieces, what_) : std::string();
  entry.compressed = deflate ? compressed.size() : entry.uncompressed;
  const bool zip64 =
      zip64_always_ || entry.uncompressed > kZip64Limit || entry.compressed > kZip64Limit;

  std::string header;
  put32(header, kLocalSignature);
  put16(header, zip64 ? kVersionZip64 : kVersionDeflate);
  put16(header, is_ascii(name) ? 0 : kFlagUtf8);
  put16(header, entry.method);
  put16(header, 0);  // time 00:00:00
  put16(header, kDate19800101);
  put32(header, entry.crc);
  put32(header, zip64 ? kAll32 : static_cast<uint32_t>(entry.compressed));
  put32(header, zip64 ? kAll32 : static_cast<uint32_t>(entry.uncompressed));
  put16(header, static_cast<uint16_t>(name.size()));
  put16(header, zip64 ? 20 : 0);
  header += name;
  if (zip64) {
    put16(header, kZip64ExtraId);
    put16(header, 16);
    put64(header, entry.uncompressed);
    put64(header, entry.compressed);
  }
  write(header);
  if (deflate) {
    write(compressed);
  } else {
    for (std::string_view piece : pieces) {
      file_.write(piece.data(), piece.size());
      offset_ += piece.size();
    }
  }
  entries_.push_back(std::move(entry));
}

void ZipWriter::commit() {
  const uint64_t directory_offset = offset_;
  for (const Entry& entry : entries_) {
    const bool large_sizes =
        zip64_always_ || entry.uncompressed > kZip64Limit || entry.compressed > kZip64Limit;
    const bool large_offset = zip64_always_ || entry.offset > kZip64Limit;
    std::string extra;
    if (large_sizes) {
      put64(extra, entry.uncompressed);
      put64(extra, entry.compressed);
    }
    if (large_offset) put64(extra, entry.offset);
    const bool zip64 = !extra.empty();
    std::string record;
    put32(record, kCentralSignature);
    put16(record, kMadeByUnix | (zip64 ? kVersionZip64 : kVersionDeflate));
    put16(record, zip64 ? kVersionZip64 : kVersionDeflate);
    put16(record, is_ascii(entry.name) ? 0 : kFlagUtf8);
    put16(record, entry.method);
    put16(record, 0);
    put16(record, kDate19800101);
    put32(record, entry.crc);
    put32(record, large_sizes ? kAll32 : static_cast<uint32_t>(entry.compressed));
    put32(record, large_sizes ? kAll32 : static_cast<uint32_t>(entry.uncompressed));
    put16(record, static_cast<uint16_t>(entry.name.size()));
    put16(record, static_cast<uint16_t>(zip64 ? extra.size() + 4 : 0));
    put16(record, 0);  // comment
    put16(record, 0);  // disk
    put16(record, 0);  // internal attributes
    put32(record, kFileMode << 16);
    put32(record, large_offset ? kAll32 : static_cast<uint32_t>(entry.offset));
    record += entry.name;
    if (zip64) {
      put16(record, kZip64ExtraId);
      put16(record, static_cast<uint16_t>(extra.size()));
      record += extra;
    }
    write(record);
  }
  const uint64_t directory_size = offset_ - directory_offset;
  const uint64_t count = entries_.size();
  const bool zip64 = zip64_always_ || count >= kAll16 || directory_offset > kZip64Limit ||
                     directory_size > kZip64Limit;
  std::string end;
  if (zip64) {
    const uint64_t zip64_end_at = offset_;
    put32(end, kZip64EndSignature);
    put64(end, kZip64EndBytes - 12);  // the record's size after this field
    put16(end, kMadeByUnix | kVersionZip64);
    put16(end, kVersionZip64);
    put32(end, 0);
    put32(end, 0);
    put64(end, count);
    put64(end, count);
    put64(end, directory_size);
    put64(end, directory_offset);
    put32(end, kZip64LocatorSignature);
    put32(end, 0);
    put64(end, zip64_end_at);
    put32(end, 1);
  }
  put32(end, kEndSignature);
  put16(end, 0);
  put16(end, 0);
  put16(end, zip64 ? kAll16 : static_cast<uint16_t>(count));
  put16(end, zip64 ? kAll16 : static_cast<uint16_t>(count));
  put32(end, zip64 ? kAll32 : static_cast<uint32_t>(directory_size));
  put32(end, zip64 ? kAll32 : static_cast<uint32_t>(directory_offset));
  put16(end, 0);
  write(end);
  file_.commit();
}

}  // namespace nabla::io::internal
