// Hand-over claims: the first backend that needs a model the worker lacks
// claims its key and hands it over; the others wait for that claim to go
// away, so a hundred connections asking at once do not send a hundred
// copies. The holder releases its claim when done, on error, and from its
// exit hook; a claim older than kClaimStaleNs is taken as abandoned.
#pragma once

#include <atomic>
#include <cstdint>

namespace pgml::shm {

inline constexpr int kLoadClaims = 16;
inline constexpr uint64_t kClaimStaleNs = 60ull * 1000 * 1000 * 1000;

struct LoadClaim {
    std::atomic<uint64_t> key;       // 0 = free; else claim_key(), never 0
    std::atomic<uint64_t> since_ns;  // steady clock, to expire a claim whose holder died
};

struct Claims {
    LoadClaim entries[kLoadClaims];
};

inline uint64_t claim_key(uint32_t db, int64_t model_id) noexcept {
    return ((static_cast<uint64_t>(db) << 40) ^ static_cast<uint64_t>(model_id)) | (uint64_t{1} << 63);
}

// The claim's index; -1 when another process holds a live claim on key;
// -2 when every entry is held.
int claim_load(Claims& c, uint64_t key, uint64_t now_ns) noexcept;
// Releases claim `claim` if it still holds `key` (a stale claim may have
// been taken over meanwhile).
void release_load(Claims& c, int claim, uint64_t key) noexcept;
// Whether a live claim on key exists.
bool load_claimed(const Claims& c, uint64_t key, uint64_t now_ns) noexcept;

}  // namespace pgml::shm
