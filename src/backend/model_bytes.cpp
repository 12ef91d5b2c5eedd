// Reading a model's bytes without filling shared_buffers with them.
//
// A model is read from pgml.models once per load: when a backend hands it
// to the worker (which then holds it, or its compiled forest, for the whole
// cluster) or loads it on the backend path. Detoasting it the ordinary way
// pulls every page of its TOAST value into shared_buffers: a 1000-tree model
// is 15 MB, so each load pushed 15 MB of the cluster's working set out of the
// buffer cache for pages nobody reads again, and the backend that read them
// kept them mapped (bench/quick counted them as 16 MB of its PSS).
//
// So the chunks are fetched through a BAS_BULKREAD ring (256 kB of buffers,
// as a sequential scan of a large table reads), the way Postgres reads
// anything it reads once. The index on (chunk_id, chunk_seq) gives the
// chunks' TIDs in order, and each heap page is read with the ring strategy;
// everything else (snapshot, chunk checks) is what detoasting does. A value
// that is not a plain out-of-line one (inline, compressed: pgml.models.data
// is STORAGE EXTERNAL, but a value copied in from elsewhere may be
// compressed) is detoasted the ordinary way.

#include "backend/model_bytes.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/toast_internals.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

namespace pgml::backend {

namespace {

// The chunk's data, wherever heap_form_tuple put its header.
void chunk_data(Pointer chunk, Oid valueid, const char** data, int32* size) {
    if (!VARATT_IS_EXTENDED(chunk)) {
        *size = VARSIZE(chunk) - VARHDRSZ;
        *data = VARDATA(chunk);
    } else if (VARATT_IS_SHORT(chunk)) {
        *size = VARSIZE_SHORT(chunk) - VARHDRSZ_SHORT;
        *data = VARDATA_SHORT(chunk);
    } else {
        elog(ERROR, "model bytes: TOAST chunk of value %u is itself toasted", valueid);
    }
}

// The out-of-line, uncompressed value `ptr` points to, read chunk by chunk
// through a ring of buffers, into a new bytea in the current context.
bytea* read_external(const varatt_external& ptr) {
    const int32 size = VARATT_EXTERNAL_GET_EXTSIZE(ptr);
    const int32 nchunks = size == 0 ? 0 : (size - 1) / TOAST_MAX_CHUNK_SIZE + 1;
    auto* out = static_cast<bytea*>(palloc_extended(static_cast<Size>(size) + VARHDRSZ, MCXT_ALLOC_HUGE));
    SET_VARSIZE(out, size + VARHDRSZ);

    Relation toast = table_open(ptr.va_toastrelid, AccessShareLock);
    Relation* indexes;
    int nindexes;
    const int valid = toast_open_indexes(toast, AccessShareLock, &indexes, &nindexes);
    SnapshotData snapshot;
    init_toast_snapshot(&snapshot);
    ScanKeyData key;
    ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ptr.va_valueid));
    IndexScanDesc scan = index_beginscan(toast, indexes[valid], &snapshot, 1, 0);
    index_rescan(scan, &key, 1, nullptr, 0);
    BufferAccessStrategy ring = GetAccessStrategy(BAS_BULKREAD);
    TupleDesc desc = RelationGetDescr(toast);

    // Consecutive chunks share a page (four to a page): one read for them.
    Buffer buf = InvalidBuffer;
    int32 expected = 0;
    ItemPointer tid;
    while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != nullptr) {
        const BlockNumber block = ItemPointerGetBlockNumber(tid);
        if (buf == InvalidBuffer || BufferGetBlockNumber(buf) != block) {
            if (buf != InvalidBuffer) ReleaseBuffer(buf);
            buf = ReadBufferExtended(toast, MAIN_FORKNUM, block, RBM_NORMAL, ring);
        }
        // The content lock only for the visibility check, as Postgres' own
        // index fetch takes it (heapam_index_fetch_tuple). A tuple found
        // visible may then be read with the pin alone (src/backend/storage/
        // buffer/README, rules 2 and 5: pruning and defragmenting a page
        // need a cleanup lock, which our pin excludes, so the tuple neither
        // moves nor goes away). The reads and checks below, which may raise
        // an error, run without the lock; an error leaves only the pin, which
        // the resource owner releases when the transaction aborts.
        LockBuffer(buf, BUFFER_LOCK_SHARE);
        HeapTupleData tuple;
        ItemPointerData at = *tid;
        bool all_dead;
        const bool found = heap_hot_search_buffer(&at, toast, buf, &snapshot, &tuple, &all_dead, true);
        LockBuffer(buf, BUFFER_LOCK_UNLOCK);
        if (!found) continue;  // an index entry of a dead chunk: detoasting skips it too
        bool isnull;
        const int32 seq = DatumGetInt32(heap_getattr(&tuple, 2, desc, &isnull));
        const char* data;
        int32 len;
        chunk_data(DatumGetPointer(heap_getattr(&tuple, 3, desc, &isnull)), ptr.va_valueid, &data, &len);
        const int32 want = seq < nchunks - 1 ? TOAST_MAX_CHUNK_SIZE : size - (nchunks - 1) * TOAST_MAX_CHUNK_SIZE;
        if (seq != expected || seq >= nchunks || len != want)
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg_internal("model bytes: chunk %d of %d (%d bytes) of TOAST value %u in %s "
                                            "where chunk %d was expected",
                                            seq, nchunks, len, ptr.va_valueid,
                                            RelationGetRelationName(toast), expected)));
        memcpy(VARDATA(out) + static_cast<Size>(seq) * TOAST_MAX_CHUNK_SIZE, data, len);
        expected++;
    }
    if (buf != InvalidBuffer) ReleaseBuffer(buf);
    if (expected != nchunks)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg_internal("model bytes: chunk %d of TOAST value %u in %s is missing",
                                        expected, ptr.va_valueid, RelationGetRelationName(toast))));
    FreeAccessStrategy(ring);
    index_endscan(scan);
    toast_close_indexes(indexes, nindexes, AccessShareLock);
    table_close(toast, AccessShareLock);
    return out;
}

}  // namespace

bytea* fetch_model_data(int64_t model_id) {
    MemoryContext caller = CurrentMemoryContext;
    Oid argtype = INT8OID;
    Datum arg = Int64GetDatum(model_id);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute_with_args("SELECT data FROM pgml.models WHERE id OPERATOR(pg_catalog.=) $1",
                                   1, &argtype, &arg, nullptr, true, 1);
    if (rc != SPI_OK_SELECT) elog(ERROR, "reading model %lld failed", static_cast<long long>(model_id));
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                        errmsg("model %lld does not exist", static_cast<long long>(model_id))));
    bool isnull;
    // The column's datum as stored: a TOAST pointer for any model but a tiny one.
    auto* stored = reinterpret_cast<struct varlena*>(
        DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
    MemoryContext spi = MemoryContextSwitchTo(caller);
    bytea* copy = nullptr;
    if (VARATT_IS_EXTERNAL_ONDISK(stored)) {
        varatt_external ptr;
        VARATT_EXTERNAL_GET_POINTER(ptr, stored);
        // VARATT_EXTERNAL_IS_COMPRESSED, without its signed/unsigned comparison.
        const bool compressed = VARATT_EXTERNAL_GET_EXTSIZE(ptr) < static_cast<uint32>(ptr.va_rawsize - VARHDRSZ);
        if (!compressed) copy = read_external(ptr);
    }
    if (!copy) copy = reinterpret_cast<bytea*>(pg_detoast_datum_copy(stored));
    MemoryContextSwitchTo(spi);
    SPI_finish();
    return copy;
}

}  // namespace pgml::backend
