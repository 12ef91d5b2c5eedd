#include "shmem/claims.hpp"

namespace pgml::shm {

int claim_load(Claims& c, uint64_t key, uint64_t now) noexcept {
    if (load_claimed(c, key, now)) return -1;
    for (int i = 0; i < kLoadClaims; ++i) {
        LoadClaim& e = c.entries[i];
        uint64_t cur = e.key.load(std::memory_order_acquire);
        bool stale = cur != 0 && now - e.since_ns.load(std::memory_order_acquire) > kClaimStaleNs;
        if (cur != 0 && !stale) continue;
        // Stamp the time first, so nobody judges the new claim by the old one's.
        e.since_ns.store(now, std::memory_order_release);
        if (e.key.compare_exchange_strong(cur, key, std::memory_order_acq_rel)) return i;
    }
    return -2;
}

void release_load(Claims& c, int claim, uint64_t key) noexcept {
    if (claim < 0 || claim >= kLoadClaims) return;
    uint64_t expected = key;
    c.entries[claim].key.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

bool load_claimed(const Claims& c, uint64_t key, uint64_t now) noexcept {
    for (const LoadClaim& e : c.entries)
        if (e.key.load(std::memory_order_acquire) == key &&
            now - e.since_ns.load(std::memory_order_acquire) <= kClaimStaleNs)
            return true;
    return false;
}

}  // namespace pgml::shm
