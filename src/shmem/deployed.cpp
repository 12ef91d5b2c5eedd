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

}  // namespace pgml::shm
