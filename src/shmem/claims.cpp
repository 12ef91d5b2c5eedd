#include "shmem/claims.hpp"

namespace pgml::shm {

namespace {

// A claim stamped after `now` was read (by another backend, meanwhile) is
// young, not 2^64 ns old.
bool live(const LoadClaim& e, uint64_t now) noexcept {
    return e.key != 0 && (now <= e.since_ns || now - e.since_ns <= kClaimStaleNs);
}

}  // namespace

Claim claim_load(Claims& c, uint64_t key, uint64_t now) noexcept {
    Guard g(c.lock);
    int free = -1;
    for (int i = 0; i < kLoadClaims; ++i) {
        const LoadClaim& e = c.entries[i];
        if (live(e, now)) {
            if (e.key == key) return Claim{-1, 0};
        } else if (free < 0) {
            free = i;
        }
    }
    if (free < 0) return Claim{-2, 0};
    const uint64_t ticket = ++c.tickets;
    c.entries[free] = LoadClaim{key, now, ticket};
    return Claim{free, ticket};
}

void release_load(Claims& c, const Claim& claim) noexcept {
    if (claim.index < 0 || claim.index >= kLoadClaims) return;
    Guard g(c.lock);
    LoadClaim& e = c.entries[claim.index];
    if (e.ticket == claim.ticket) e = LoadClaim{0, 0, 0};
}

bool load_claimed(Claims& c, uint64_t key, uint64_t now) noexcept {
    Guard g(c.lock);
    for (const LoadClaim& e : c.entries)
        if (e.key == key && live(e, now)) return true;
    return false;
}

}  // namespace pgml::shm
