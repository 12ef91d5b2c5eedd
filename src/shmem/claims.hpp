// Hand-over claims: the first backend that needs a model the worker lacks
// claims its key and hands it over; the others wait for that claim to go
// away, so a hundred connections asking at once do not send a hundred
// copies. The holder releases its claim when done, on error, and from its
// exit hook; a claim older than kClaimStaleNs is taken as abandoned.
// deployed.hpp keeps a second table of them for catalog reads: the first
// backend that misses a project reads the catalog, the others wait.
//
// Under a mutex: claims are taken once per hand-over, so the lock costs
// nothing that matters, and "nobody holds this key, so the entry is mine"
// must be one step (two backends could otherwise both claim a model), as
// must "this entry is still my claim, so I free it" (a stale claim taken
// over for the same model would otherwise be freed by its old holder).
#pragma once

#include <cstdint>

#include "shmem/sync.hpp"

namespace pgml::shm {

inline constexpr int kLoadClaims = 16;
inline constexpr uint64_t kClaimStaleNs = 60ull * 1000 * 1000 * 1000;

struct LoadClaim {
    uint64_t key;       // 0 = free; else claim_key(), never 0
    uint64_t since_ns;  // steady clock, to expire a claim whose holder died
    uint64_t ticket;    // which claim this is: a new one each time
};

struct Claims {
    Mutex lock;
    uint64_t tickets;   // issued so far
    LoadClaim entries[kLoadClaims];
};

// What a holder keeps to release its claim.
struct Claim {
    int index;       // >= 0: held; -1: another process holds a live claim on the key; -2: all entries held
    uint64_t ticket;
};

inline uint64_t claim_key(uint32_t db, int64_t model_id) noexcept {
    return ((static_cast<uint64_t>(db) << 40) ^ static_cast<uint64_t>(model_id)) | (uint64_t{1} << 63);
}

Claim claim_load(Claims& c, uint64_t key, uint64_t now_ns) noexcept;
// Releases the claim if it is still the one claimed (not taken over since).
void release_load(Claims& c, const Claim& claim) noexcept;
// Whether a live claim on key exists.
bool load_claimed(Claims& c, uint64_t key, uint64_t now_ns) noexcept;

}  // namespace pgml::shm
