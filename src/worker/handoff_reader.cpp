#include "worker/handoff_reader.hpp"

#include "pg/guard.hpp"
#include "shmem/handoff.hpp"

extern "C" {
#include "postgres.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/lwlock.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
}

namespace pgml::worker {

namespace {

MemoryContext copy_cxt = nullptr;
ResourceOwner owner = nullptr;

// What an ERROR in the middle of the copy may leave: the DSM mapping (held
// by our resource owner), CurrentResourceOwner still pointing at it, a
// lightweight lock, a wait event. Released as Postgres' own auxiliary
// processes do after an error; the worker has no transaction to abort.
// Plain C, and none of these calls raises an ERROR (a release that is not
// a commit reports no leaks), so no longjmp can start here.
void recover_from_error(ResourceOwner previous) {
    LWLockReleaseAll();
    ConditionVariableCancelSleep();
    pgstat_report_wait_end();
    if (owner) {
        CurrentResourceOwner = owner;
        ResourceOwnerRelease(owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, true);
        ResourceOwnerRelease(owner, RESOURCE_RELEASE_LOCKS, false, true);
        ResourceOwnerRelease(owner, RESOURCE_RELEASE_AFTER_LOCKS, false, true);
    }
    CurrentResourceOwner = previous;
    if (copy_cxt) MemoryContextReset(copy_cxt);
}

}  // namespace

Result<HandedOver> read_handoff(uint32_t handle, uint64_t limit, bool inject_error) {
    HandedOver out{};
    bool attached = false;
    ResourceOwner const previous = CurrentResourceOwner;
    auto copied = pg::call([&] {
        if (!copy_cxt) copy_cxt = AllocSetContextCreate(TopMemoryContext, "pgml_worker hand-over",
                                                        ALLOCSET_DEFAULT_SIZES);
        if (!owner) owner = ResourceOwnerCreate(nullptr, "pgml_worker hand-over");
        MemoryContextReset(copy_cxt);
        CurrentResourceOwner = owner;
        dsm_segment* seg = dsm_attach(handle);
        CurrentResourceOwner = previous;
        if (!seg) return;  // the backend gave up and the segment is gone
        attached = true;
        if (inject_error) elog(ERROR, "injected fault: reading a handed-over model failed");
        auto* h = static_cast<shm::Handoff*>(dsm_segment_address(seg));
        // The header must describe what is mapped, whatever the segment
        // holds: a copy past its end would take the cluster down.
        const Size mapped = dsm_segment_map_length(seg);
        if (mapped < sizeof(shm::Handoff) || h->nclasses > 65536 || h->nbytes > mapped ||
            shm::handoff_size(h->nclasses, h->nbytes) > mapped)
            elog(ERROR, "the model's hand-over segment is malformed");
        out.nbytes = h->nbytes;
        out.classification = h->classification != 0;
        if (h->nbytes <= limit) {  // a model too large is refused unread
            auto* classes = static_cast<double*>(
                MemoryContextAlloc(copy_cxt, sizeof(double) * (h->nclasses + 1)));
            memcpy(classes, shm::handoff_classes(h), sizeof(double) * h->nclasses);
            auto* bytes = static_cast<uint8_t*>(MemoryContextAllocHuge(copy_cxt, h->nbytes + 1));
            memcpy(bytes, shm::handoff_bytes(h), h->nbytes);
            out.classes = classes;
            out.nclasses = h->nclasses;
            out.bytes = bytes;
        }
        dsm_detach(seg);
    });
    if (!copied) {
        // Released before any C++ work (the copy of the message may throw).
        recover_from_error(previous);
        auto* edata = static_cast<ErrorData*>(copied.error().pg_error);
        // The worker goes on: the error is answered to the request (its
        // backend raises it), never re-thrown here.
        Error e = copied.error();
        e.pg_error = nullptr;
        if (edata) FreeErrorData(edata);
        return tl::unexpected(e);
    }
    if (!attached) return fail(sqlstate::internal, "the model's shared memory segment was gone");
    return out;
}

void release_handoff() noexcept {
    if (copy_cxt) MemoryContextReset(copy_cxt);
}

}  // namespace pgml::worker
