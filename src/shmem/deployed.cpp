#include "shmem/deployed.hpp"

#include <cstring>

namespace pgml::shm {

namespace {

bool same_key(const DeployedEntry& e, uint32_t db, uint32_t relid, std::string_view project) noexcept {
    return e.facts.db == db && e.facts.catalog_relid == relid && e.name_len == project.size() &&
           std::memcmp(e.name, project.data(), project.size()) == 0;
}

}  // namespace

bool shareable(std::string_view project, uint32_t num_classes) noexcept {
    return project.size() <= static_cast<size_t>(kDeployedNameMax) && num_classes <= kDeployedClassesMax;
}

bool find_deployed(DeployedTable& t, uint32_t db, uint32_t catalog_relid, std::string_view project,
                   DeployedFacts& out) noexcept {
    if (!shareable(project, 0)) return false;
    Guard g(t.lock);
    const uint64_t epoch = current_epoch(t);
    for (const DeployedEntry& e : t.entries) {
        if (e.epoch == epoch && same_key(e, db, catalog_relid, project)) {
            out = e.facts;
            return true;
        }
    }
    return false;
}

int64_t publish_deployed(DeployedTable& t, uint64_t seen_epoch, std::string_view project,
                         const DeployedFacts& facts) noexcept {
    if (!shareable(project, facts.num_classes)) return 0;
    Guard g(t.lock);
    const uint64_t epoch = current_epoch(t);
    if (seen_epoch != epoch) return 0;
    // The same key's entry, else a stale or empty one, else the next in turn.
    DeployedEntry* target = nullptr;
    for (DeployedEntry& e : t.entries) {
        if (e.epoch != 0 && same_key(e, facts.db, facts.catalog_relid, project)) {
            target = &e;
            break;
        }
        if (!target && e.epoch != epoch) target = &e;
    }
    int64_t previous = 0;
    if (target && target->epoch != 0 && same_key(*target, facts.db, facts.catalog_relid, project) &&
        target->facts.model_id != facts.model_id)
        previous = target->facts.model_id;
    if (!target) {
        target = &t.entries[t.next_victim];
        t.next_victim = (t.next_victim + 1) % kDeployedEntries;
    }
    target->epoch = epoch;
    target->name_len = static_cast<uint32_t>(project.size());
    std::memcpy(target->name, project.data(), project.size());
    target->facts = facts;
    return previous;
}

uint64_t resolve_key(uint32_t db, std::string_view project) noexcept {
    // FNV-1a over the database and the name; the top bit keeps it non-zero.
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](unsigned char byte) {
        h ^= byte;
        h *= 0x100000001b3ull;
    };
    for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>(db >> (8 * i)));
    for (char ch : project) mix(static_cast<unsigned char>(ch));
    return h | (uint64_t{1} << 63);
}

Claim claim_resolving(DeployedTable& t, uint32_t db, std::string_view project, uint64_t now_ns) noexcept {
    return claim_load(t.resolving, resolve_key(db, project), now_ns);
}

void release_resolving(DeployedTable& t, const Claim& claim) noexcept { release_load(t.resolving, claim); }

Resolved await_resolved(DeployedTable& t, uint32_t db, uint32_t catalog_relid, std::string_view project,
                        uint64_t now_ns, DeployedFacts& out) noexcept {
    // Only the claim while it stands (16 entries, not the table's 256): a
    // resolver publishes before it releases, so once its claim is gone the
    // table holds whatever answer it had.
    if (load_claimed(t.resolving, resolve_key(db, project), now_ns)) return Resolved::pending;
    return find_deployed(t, db, catalog_relid, project, out) ? Resolved::found : Resolved::gone;
}

}  // namespace pgml::shm
