// Builds small zip archives in memory for the zip reader and torch reader tests: stored or
// deflated entries, optional data descriptors (as torch.save writes them), optional zip64 end
// records, and a trailing comment. Written from the zip format description (APPNOTE), so the
// tests do not depend on the reader they test.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace moeckpt::testing {

struct ZipSpec {
  std::string name;
  std::string data;
  bool deflate = false;
  uint16_t extra_flags = 0;  // OR-ed into the general-purpose flags (e.g. 1 = encrypted)
};

struct ZipOptions {
  bool data_descriptor = true;  // torch.save's writer sets bit 3 and zeroes the local CRC/sizes
  bool zip64_end = true;        // torch.save's writer always adds the zip64 end records
  std::string comment;
};

inline void put16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
inline void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}
inline void put64(std::string& s, uint64_t v) {
  put32(s, static_cast<uint32_t>(v));
  put32(s, static_cast<uint32_t>(v >> 32));
}

inline uint32_t crc_of(std::string_view data) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// Raw deflate (no zlib header), as zip stores it.
inline std::string raw_deflate(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  return out;
}

inline std::string build_zip(const std::vector<ZipSpec>& entries, const ZipOptions& opt = {}) {
  std::string out, cd;
  for (const auto& e : entries) {
    const std::string body = e.deflate ? raw_deflate(e.data) : e.data;
    const uint32_t crc = crc_of(e.data);
    const uint16_t flags = static_cast<uint16_t>((opt.data_descriptor ? 0x0008 : 0) | e.extra_flags);
    const uint32_t offset = static_cast<uint32_t>(out.size());
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, flags);
    put16(out, e.deflate ? 8 : 0);
    put16(out, 0);  // time
    put16(out, 0);  // date
    put32(out, opt.data_descriptor ? 0 : crc);
    put32(out, opt.data_descriptor ? 0 : static_cast<uint32_t>(body.size()));
    put32(out, opt.data_descriptor ? 0 : static_cast<uint32_t>(e.data.size()));
    put16(out, static_cast<uint32_t>(e.name.size()));
    put16(out, 0);  // extra
    out += e.name;
    out += body;
    if (opt.data_descriptor) {
      put32(out, 0x08074b50);
      put32(out, crc);
      put32(out, static_cast<uint32_t>(body.size()));
      put32(out, static_cast<uint32_t>(e.data.size()));
    }
    put32(cd, 0x02014b50);
    put16(cd, 20);
    put16(cd, 20);
    put16(cd, flags);
    put16(cd, e.deflate ? 8 : 0);
    put16(cd, 0);
    put16(cd, 0);
    put32(cd, crc);
    put32(cd, static_cast<uint32_t>(body.size()));
    put32(cd, static_cast<uint32_t>(e.data.size()));
    put16(cd, static_cast<uint32_t>(e.name.size()));
    put16(cd, 0);  // extra
    put16(cd, 0);  // comment
    put16(cd, 0);  // disk
    put16(cd, 0);  // internal attributes
    put32(cd, 0);  // external attributes
    put32(cd, offset);
    cd += e.name;
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  if (opt.zip64_end) {
    const uint64_t z64_offset = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, entries.size());
    put64(out, entries.size());
    put64(out, cd.size());
    put64(out, cd_offset);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, z64_offset);
    put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size()));
  put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(cd.size()));
  put32(out, static_cast<uint32_t>(cd_offset));
  put16(out, static_cast<uint32_t>(opt.comment.size()));
  out += opt.comment;
  return out;
}

}  // namespace moeckpt::testing
