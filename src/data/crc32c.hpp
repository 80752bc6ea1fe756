// CRC-32C (Castagnoli), the checksum of TFRecord files. Internal.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nabla::data::internal {

// CRC-32C of `size` bytes, continuing from `crc` (the CRC of the bytes before them; 0 to start):
// crc32c("123456789") is 0xE3069283.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// TFRecord's masked CRC, ((crc >> 15) | (crc << 17)) + 0xa282ead8. TensorFlow (after leveldb)
// stores CRCs masked because a CRC computed over bytes that embed CRCs of their own parts is weak.
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace nabla::data::internal
